import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ParseUuidPipe } from '../../common/uuid.pipe.js';
import { ProjectId } from '../auth/auth.decorators.js';
import { JobsService } from '../jobs/jobs.service.js';
import { MetricsDto, MetricsQuery } from './dto/metrics.dto.js';
import { MetricsService } from './metrics.service.js';
import { ApiErrors } from '../../common/error.dto.js';

@ApiTags('metrics')
@ApiBearerAuth()
@ApiErrors()
@Controller('v1/jobs/:id/metrics')
export class MetricsController {
  constructor(
    private readonly metrics: MetricsService,
    private readonly jobs: JobsService,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'Per-step metrics of a job: `fromStep` + `limit`, or downsampled with `every` or `points`.',
  })
  @ApiOkResponse({ type: MetricsDto })
  async list(
    @ProjectId() projectId: string,
    @Param('id', ParseUuidPipe) id: string,
    @Query() q: MetricsQuery,
  ): Promise<MetricsDto> {
    await this.jobs.get(projectId, id);
    return this.metrics.query(id, q);
  }
}
