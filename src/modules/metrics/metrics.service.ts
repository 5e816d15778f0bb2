import { Injectable } from '@nestjs/common';
import { invalidField } from '../../common/api-error.js';
import { JobRepository, SupersededError, type RunOwnership } from '../../repositories/job.repository.js';
import { MetricRepository, type MetricValues } from '../../repositories/metric.repository.js';
import type { CompletionSample } from '../../learner/trainer/types.js';
import type { MetricsDto } from './dto/metrics.dto.js';

export interface MetricsRange {
  fromStep?: number;
  limit?: number;
  every?: number;
  points?: number;
}

/**
 * The one write path for step metrics (a worker's run) and the read path for the API, over MetricRepository.
 * A step's record is stored as the trainer produced it (whatever fields the algorithm reports), minus `step`.
 */
@Injectable()
export class MetricsService {
  constructor(
    private readonly jobs: JobRepository,
    private readonly metrics: MetricRepository,
  ) {}

  /**
   * Records a finished step for the run that owns the job, with the job's progress, in one transaction. A step
   * already recorded keeps its first values (a step reported twice lands once); a resumed run first drops the
   * steps it will redo (dropAfter). Throws SupersededError when another run owns the job now.
   */
  async recordStep<T extends { step: number }>(own: RunOwnership, record: T): Promise<boolean> {
    const { step, ...rest } = record;
    const values = rest as MetricValues;
    if (!Number.isInteger(step) || step < 0)
      throw new Error(`metrics.step must be a non-negative integer, got ${step}`);
    const backend = typeof values.backend === 'string' ? values.backend : null;
    return this.jobs.transaction(async (m) => {
      if (!(await this.jobs.advance(m, own, step, backend))) throw new SupersededError(own.jobId, own.fence);
      return this.metrics.insertStep(own.jobId, step, values, m);
    });
  }

  /** A step's sampled completions (the learner's onCompletions), written only while this run owns the job. */
  async recordCompletions(own: RunOwnership, step: number, samples: CompletionSample[]): Promise<void> {
    await this.jobs.transaction(async (m) => {
      if (!(await this.jobs.lockOwned(m, own))) throw new SupersededError(own.jobId, own.fence);
      await this.metrics.insertCompletions(m, own.jobId, step, samples);
    });
  }

  /**
   * A resumed run redoes every step after its checkpoint. Rows a dead worker wrote past that point belong to a
   * trajectory that no longer exists, so they go, and the job's progress goes back to the checkpoint.
   */
  async dropAfter(own: RunOwnership, step: number): Promise<number> {
    return this.jobs.transaction(async (m) => {
      if (!(await this.jobs.lockOwned(m, own))) throw new SupersededError(own.jobId, own.fence);
      const deleted = await this.metrics.deleteAfter(m, own.jobId, step);
      await this.jobs.rewind(m, own.jobId, step);
      return deleted;
    });
  }

  latest(jobId: string) {
    return this.metrics.latest(jobId);
  }

  async query(jobId: string, range: MetricsRange): Promise<MetricsDto> {
    if (range.every !== undefined && range.points !== undefined)
      throw invalidField('points', 'give either every or points, not both');
    const fromStep = range.fromStep ?? 0;
    const limit = range.limit ?? 1000;
    const stats = await this.metrics.stats(jobId);
    const base = { total_steps: stats.n, last_step: stats.hi };
    if (stats.n === 0) return { items: [], ...base };
    if (range.points !== undefined) {
      const lo = Math.max(fromStep, stats.lo ?? 0);
      const width = Math.max(1, Math.ceil((stats.hi! - lo + 1) / range.points));
      return { items: await this.metrics.buckets(jobId, lo, width, limit), ...base };
    }
    return { items: await this.metrics.every(jobId, fromStep, range.every ?? 1, stats.hi!, limit), ...base };
  }
}
