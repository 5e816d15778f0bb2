import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../../common/error.dto.js';
import { ParseUuidPipe } from '../../common/uuid.pipe.js';
import { ProjectId } from '../auth/auth.decorators.js';
import { JobsService } from '../jobs/jobs.service.js';
import { CompletionsService } from './completions.service.js';
import { CompletionsDto, CompletionsQuery } from './dto/completions.dto.js';

@ApiTags('metrics')
@ApiBearerAuth()
@ApiErrors()
@Controller('v1/jobs/:id/completions')
export class CompletionsController {
  constructor(
    private readonly completions: CompletionsService,
    private readonly jobs: JobsService,
  ) {}

  @Get()
  @ApiOperation({
    summary:
      'Sampled completions of an RL job (the first prompts of each step, all G samples): one step (latest by default), or one prompt across steps.',
  })
  @ApiOkResponse({ type: CompletionsDto })
  async list(
    @ProjectId() projectId: string,
    @Param('id', ParseUuidPipe) id: string,
    @Query() q: CompletionsQuery,
  ): Promise<CompletionsDto> {
    await this.jobs.get(projectId, id);
    return this.completions.query(id, q);
  }
}
