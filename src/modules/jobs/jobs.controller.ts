import { Body, Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiCreatedResponse,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { ParseUuidPipe } from '../../common/uuid.pipe.js';
import { ProjectId } from '../auth/auth.decorators.js';
import { JobEventDto, ListEventsQuery } from './dto/job-events.dto.js';
import { JobDto, JobPageDto, ListJobsQuery } from './dto/job.dto.js';
import { IdempotencyKey } from './idempotency-key.decorator.js';
import { JobEventsService } from './job-events.service.js';
import { JobsService } from './jobs.service.js';
import { ApiErrors } from '../../common/error.dto.js';

export const IDEMPOTENCY_HEADER_DOC = {
  name: 'Idempotency-Key',
  required: false,
  description:
    'Repeating a request with the same key returns the resource the first one created (200 instead of 201).',
};

@ApiTags('jobs')
@ApiBearerAuth()
@ApiErrors()
@Controller('v1/jobs')
export class JobsController {
  constructor(
    private readonly jobs: JobsService,
    private readonly events: JobEventsService,
  ) {}

  @Post()
  @ApiOperation({
    summary:
      'Create a job from a run document (the `popo train` file, with model and data referenced by id).',
  })
  @ApiHeader(IDEMPOTENCY_HEADER_DOC)
  @ApiBody({ schema: { $ref: '#/components/schemas/JobRequest' } })
  @ApiCreatedResponse({ type: JobDto })
  @ApiOkResponse({ type: JobDto, description: 'Replay of an earlier request with the same Idempotency-Key.' })
  async create(
    @ProjectId() projectId: string,
    @Body() body: Record<string, unknown>,
    @IdempotencyKey() key: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ): Promise<JobDto> {
    const { job, created } = await this.jobs.create(projectId, body, key);
    if (!created) res.status(200).setHeader('Idempotent-Replayed', 'true');
    return job;
  }

  @Get()
  @ApiOperation({ summary: 'List jobs, newest first, with filters and cursor pagination.' })
  @ApiOkResponse({ type: JobPageDto })
  list(@ProjectId() projectId: string, @Query() q: ListJobsQuery): Promise<JobPageDto> {
    return this.jobs.list(
      projectId,
      { status: q.status, kind: q.kind, sweep_id: q.sweep_id },
      q.limit,
      q.cursor,
    );
  }

  @Get(':id')
  @ApiOkResponse({ type: JobDto })
  get(@ProjectId() projectId: string, @Param('id', ParseUuidPipe) id: string): Promise<JobDto> {
    return this.jobs.get(projectId, id);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Cancel: queued/paused → cancelled; running → cancelling (stops within one step).',
  })
  @ApiOkResponse({ type: JobDto })
  cancel(@ProjectId() projectId: string, @Param('id', ParseUuidPipe) id: string): Promise<JobDto> {
    return this.jobs.cancel(projectId, id);
  }

  @Post(':id/pause')
  @HttpCode(200)
  @ApiOperation({ summary: 'Pause: queued → paused; running → stops after a checkpoint at its next step.' })
  @ApiOkResponse({ type: JobDto })
  pause(@ProjectId() projectId: string, @Param('id', ParseUuidPipe) id: string): Promise<JobDto> {
    return this.jobs.pause(projectId, id);
  }

  @Post(':id/resume')
  @HttpCode(200)
  @ApiOperation({ summary: 'Resume a paused job (it continues from its latest checkpoint).' })
  @ApiOkResponse({ type: JobDto })
  resume(@ProjectId() projectId: string, @Param('id', ParseUuidPipe) id: string): Promise<JobDto> {
    return this.jobs.resume(projectId, id);
  }

  @Post(':id/retry')
  @HttpCode(200)
  @ApiOperation({ summary: 'Queue a failed or cancelled job again (from its latest checkpoint, if any).' })
  @ApiOkResponse({ type: JobDto })
  retry(@ProjectId() projectId: string, @Param('id', ParseUuidPipe) id: string): Promise<JobDto> {
    return this.jobs.retry(projectId, id);
  }

  @Get(':id/events')
  @ApiOperation({ summary: 'State changes, warnings and evals of a job, oldest first.' })
  @ApiOkResponse({ type: [JobEventDto] })
  async listEvents(
    @ProjectId() projectId: string,
    @Param('id', ParseUuidPipe) id: string,
    @Query() q: ListEventsQuery,
  ): Promise<JobEventDto[]> {
    await this.jobs.get(projectId, id);
    return this.events.list(id, q.after, q.limit);
  }
}
