import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Post,
  Query,
  Req,
  UseInterceptors,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiConsumes,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { Request } from 'express';
import { payloadTooLarge, unsupportedMediaType } from '../../common/api-error.js';
import { UploadLimitInterceptor } from '../../common/upload-limit.js';
import { ParseUuidPipe } from '../../common/uuid.pipe.js';
import { AppConfig } from '../../config/index.js';
import { ProjectId } from '../auth/auth.decorators.js';
import { ModelDto, ModelListDto, RegisterModelDto, UploadModelQuery } from './dto/model.dto.js';
import { ModelsService } from './models.service.js';
import { ApiErrors } from '../../common/error.dto.js';

export const ARCHIVE_CONTENT_TYPES = [
  'application/x-tar',
  'application/gzip',
  'application/x-gzip',
  'application/x-gtar',
];

@ApiTags('models')
@ApiBearerAuth()
@ApiErrors()
@Controller('v1/models')
export class ModelsController {
  constructor(
    private readonly models: ModelsService,
    private readonly config: AppConfig,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Built-in tiny models and this project`s registered models.' })
  @ApiOkResponse({ type: ModelListDto })
  async list(@ProjectId() projectId: string): Promise<ModelListDto> {
    return { builtin: this.models.builtins(), items: await this.models.list(projectId) };
  }

  @Post()
  @ApiOperation({ summary: 'Register an HF-format directory that is on the workers` disk.' })
  @ApiCreatedResponse({ type: ModelDto })
  register(@ProjectId() projectId: string, @Body() body: RegisterModelDto): Promise<ModelDto> {
    return this.models.register(projectId, body.name, body.path);
  }

  @UseInterceptors(UploadLimitInterceptor)
  @Post('upload')
  @ApiOperation({
    summary: 'Upload an HF-format model as a tar or tar.gz archive (raw body).',
    description:
      'The archive holds config.json and *.safetensors at its root or inside one top-level folder. It is ' +
      'extracted under POPO_DATA_DIR, which workers must share with the API.',
  })
  @ApiConsumes(...ARCHIVE_CONTENT_TYPES)
  @ApiBody({ schema: { type: 'string', format: 'binary' } })
  @ApiCreatedResponse({ type: ModelDto })
  upload(
    @ProjectId() projectId: string,
    @Query() q: UploadModelQuery,
    @Req() req: Request,
  ): Promise<ModelDto> {
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (!ARCHIVE_CONTENT_TYPES.includes(type))
      throw unsupportedMediaType(
        `upload the model as a tar or tar.gz body with Content-Type application/gzip or application/x-tar (got ${type || 'none'})`,
      );
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > this.config.limits.modelArchiveBytes)
      throw payloadTooLarge(`archive exceeds the limit of ${this.config.limits.modelArchiveBytes} bytes`);
    return this.models.upload(projectId, q.name, req);
  }

  @Get(':id')
  @ApiOkResponse({ type: ModelDto })
  get(@ProjectId() projectId: string, @Param('id', ParseUuidPipe) id: string): Promise<ModelDto> {
    return this.models.get(projectId, id);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiNoContentResponse()
  delete(@ProjectId() projectId: string, @Param('id', ParseUuidPipe) id: string): Promise<void> {
    return this.models.delete(projectId, id);
  }
}
