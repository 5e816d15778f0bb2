import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { ApiError, conflict, notFound, validationFailed, type ErrorDetail } from '../../common/api-error.js';
import { AppConfig } from '../../config/index.js';
import { type Job, Sweep, type JsonObject } from '../../database/entities/index.js';
import { parseSweepRequest } from './job-request-schema.js';
import { JobEventsService } from './job-events.service.js';
import { JobRequestResolver, type JobRowInput } from './job-request.js';
import { JobsService, requestHash } from './jobs.service.js';
import { expandGrid } from './sweep-grid.js';
import { JobRepository } from '../../repositories/job.repository.js';

@Injectable()
export class SweepsService {
  constructor(
    private readonly config: AppConfig,
    @InjectDataSource() private readonly db: DataSource,
    private readonly resolver: JobRequestResolver,
    private readonly jobs: JobsService,
    private readonly events: JobEventsService,
    private readonly jobRepo: JobRepository,
  ) {}

  /** Creates the sweep and all its jobs in one transaction (all or nothing), then enqueues them. */
  async create(
    projectId: string,
    body: unknown,
    idempotencyKey?: string,
  ): Promise<{ sweep: Sweep; jobs: Job[]; created: boolean }> {
    const dto = parseSweepRequest(body);
    const { points, errors } = expandGrid(dto.base, dto.grid, this.config.limits.sweepJobs);
    if (errors.length) throw validationFailed(errors);
    // The base must stand as a job itself; then every point is resolved as the job it will be (cross-field rules
    // and task sizes can break at a point where the base did not).
    await this.resolver.resolve(projectId, dto.base);
    const hash = idempotencyKey ? requestHash(body) : null;
    const pointIssues: ErrorDetail[] = [];
    const rows: JobRowInput[] = [];
    for (const point of points) {
      const label = pointLabel(point.values);
      try {
        rows.push(await this.resolver.resolve(projectId, point.body));
      } catch (e) {
        if (!(e instanceof ApiError) || !e.details) throw e;
        for (const issue of e.details)
          pointIssues.push({ field: issue.field, reason: `${issue.reason} (grid point ${label})` });
      }
    }
    if (pointIssues.length) throw validationFailed(pointIssues);
    const base = dto.base as JsonObject;

    const result = await this.db.transaction(async (m) => {
      const res = await m
        .createQueryBuilder()
        .insert()
        .into(Sweep)
        .values({
          project_id: projectId,
          name: dto.name ?? null,
          base,
          grid: dto.grid as JsonObject,
          job_count: points.length,
          idempotency_key: idempotencyKey ?? null,
          request_hash: hash,
        })
        .orIgnore()
        .returning('id')
        .execute();
      const sweepId = (res.raw as { id: string }[])[0]?.id;
      if (!sweepId) return undefined;
      const jobs: Job[] = [];
      for (const [i, point] of points.entries()) {
        const label = pointLabel(point.values);
        const job = await this.jobs.insertJob(
          m,
          projectId,
          {
            ...rows[i],
            name: `${dto.name ?? (dto.base.name as string | undefined) ?? 'sweep'} #${i + 1} ${label}`.slice(
              0,
              200,
            ),
          },
          { sweepId, sweepIndex: i },
        );
        if (!job) throw new Error('sweep job insert was ignored');
        await this.events.add(
          job.id,
          {
            level: 'info',
            code: 'created',
            message: `sweep point ${label}`,
            data: { sweep_id: sweepId, grid: point.values },
          },
          m,
        );
        jobs.push(job);
      }
      return { sweep: await m.findOneByOrFail(Sweep, { id: sweepId }), jobs };
    });

    if (!result) {
      const existing = await this.db
        .getRepository(Sweep)
        .findOneByOrFail({ project_id: projectId, idempotency_key: idempotencyKey });
      if (existing.request_hash !== hash)
        throw conflict(
          'idempotency_key_reused',
          `Idempotency-Key "${idempotencyKey}" was already used for a different request`,
        );
      return { ...(await this.get(projectId, existing.id)), created: false };
    }
    // Every job gets its enqueue attempt (a job the queue cannot take now stays queued for the reconciler).
    let firstError: unknown;
    for (const job of result.jobs) await this.jobs.enqueue(job).catch((e: unknown) => (firstError ??= e));
    if (firstError) throw firstError;
    return { ...result, created: true };
  }

  async get(projectId: string, id: string): Promise<{ sweep: Sweep; jobs: Job[] }> {
    const sweep = await this.db.getRepository(Sweep).findOneBy({ id, project_id: projectId });
    if (!sweep) throw notFound('sweep', id);
    const jobs = await this.jobRepo.listBySweep(id);
    return { sweep, jobs };
  }
}

const pointLabel = (values: Record<string, unknown>) =>
  Object.entries(values)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(' ');
