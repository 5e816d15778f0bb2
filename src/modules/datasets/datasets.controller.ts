import { Controller, Delete, Get, HttpCode, Param, Post, Query, Req, UseInterceptors } from '@nestjs/common';
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
import { DatasetsService } from './datasets.service.js';
import {
  DatasetDetailDto,
  DatasetDto,
  DatasetPageDto,
  DatasetRowsDto,
  DatasetRowsQuery,
  ListDatasetsQuery,
  UploadDatasetQuery,
} from './dto/dataset.dto.js';
import { ApiErrors } from '../../common/error.dto.js';

export const JSONL_CONTENT_TYPES = ['application/x-ndjson', 'application/jsonl', 'application/x-jsonlines'];

@ApiTags('datasets')
@ApiBearerAuth()
@ApiErrors()
@Controller('v1/datasets')
export class DatasetsController {
  constructor(
    private readonly datasets: DatasetsService,
    private readonly config: AppConfig,
  ) {}

  @UseInterceptors(UploadLimitInterceptor)
  @Post()
  @ApiOperation({
    summary: 'Upload a JSONL dataset (raw body, one JSON object per line with `problem` and `answer`).',
    description:
      'Send the file as the raw request body with Content-Type application/x-ndjson. Every line is validated; ' +
      'errors name the line (`line 3.answer`). Nothing is stored unless every line is valid.',
  })
  @ApiConsumes(...JSONL_CONTENT_TYPES)
  @ApiBody({ schema: { type: 'string', format: 'binary' } })
  @ApiCreatedResponse({ type: DatasetDto })
  async upload(
    @ProjectId() projectId: string,
    @Query() query: UploadDatasetQuery,
    @Req() req: Request,
  ): Promise<DatasetDto> {
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (!JSONL_CONTENT_TYPES.includes(type))
      throw unsupportedMediaType(
        `upload the dataset as a raw JSONL body with Content-Type: application/x-ndjson (got ${type || 'none'})`,
      );
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > this.config.limits.datasetBytes)
      throw payloadTooLarge(`dataset upload exceeds the limit of ${this.config.limits.datasetBytes} bytes`);
    return this.datasets.upload(projectId, query.name, req, {
      problem: query.problem_field,
      answer: query.answer_field,
    });
  }

  @Get()
  @ApiOkResponse({ type: DatasetPageDto })
  list(@ProjectId() projectId: string, @Query() q: ListDatasetsQuery): Promise<DatasetPageDto> {
    return this.datasets.list(projectId, q.limit, q.cursor);
  }

  @Get(':id')
  @ApiOperation({ summary: 'A dataset with its row count and first rows.' })
  @ApiOkResponse({ type: DatasetDetailDto })
  get(@ProjectId() projectId: string, @Param('id', ParseUuidPipe) id: string): Promise<DatasetDetailDto> {
    return this.datasets.getWithSample(projectId, id);
  }

  @Get(':id/rows')
  @ApiOkResponse({ type: DatasetRowsDto })
  rows(
    @ProjectId() projectId: string,
    @Param('id', ParseUuidPipe) id: string,
    @Query() q: DatasetRowsQuery,
  ): Promise<DatasetRowsDto> {
    return this.datasets.rowsPage(projectId, id, q.offset, q.limit);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a dataset; 409 while a queued/running/paused job uses it.' })
  @ApiNoContentResponse()
  delete(@ProjectId() projectId: string, @Param('id', ParseUuidPipe) id: string): Promise<void> {
    return this.datasets.delete(projectId, id);
  }
}
