import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { invalidField } from '../../common/api-error.js';
import type { StepMetrics } from '../../learner/trainer/types.js';
import type { MetricPointDto, MetricsDto } from './dto/metrics.dto.js';

export interface MetricsRange {
  fromStep?: number;
  limit?: number;
  every?: number;
  points?: number;
}

/** Write path for workers and read path for the API over the `metrics` table (one row per job and step). */
@Injectable()
export class MetricsService {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * Records one step. A step reported again (a resumed run redoing it) replaces the earlier values, so each
   * step exists exactly once whatever happened to the worker that first ran it.
   */
  async record(jobId: string, metrics: StepMetrics): Promise<void> {
    const { step, ...values } = metrics;
    if (!Number.isInteger(step) || step < 0)
      throw new Error(`metrics.step must be a non-negative integer, got ${step}`);
    await this.db.query(
      `INSERT INTO metrics (job_id, step, "values") VALUES ($1, $2, $3)
       ON CONFLICT (job_id, step) DO UPDATE SET "values" = EXCLUDED."values", created_at = now()`,
      [jobId, step, JSON.stringify(values)],
    );
  }

  /** Drops steps after `step` (TrainHooks.onResume: those steps are about to be redone). */
  async truncateAfter(jobId: string, step: number): Promise<number> {
    const [, affected] = (await this.db.query('DELETE FROM metrics WHERE job_id = $1 AND step > $2', [
      jobId,
      step,
    ])) as [unknown, number];
    return affected;
  }

  async latest(jobId: string): Promise<MetricPointDto | undefined> {
    const rows = (await this.db.query(
      'SELECT step, "values" FROM metrics WHERE job_id = $1 ORDER BY step DESC LIMIT 1',
      [jobId],
    )) as MetricPointDto[];
    return rows[0];
  }

  async query(jobId: string, range: MetricsRange): Promise<MetricsDto> {
    if (range.every !== undefined && range.points !== undefined)
      throw invalidField('points', 'give either every or points, not both');
    const fromStep = range.fromStep ?? 0;
    const limit = range.limit ?? 1000;
    const [stats] = (await this.db.query(
      'SELECT count(*)::int AS n, min(step) AS lo, max(step) AS hi FROM metrics WHERE job_id = $1',
      [jobId],
    )) as { n: number; lo: number | null; hi: number | null }[];
    const base = { total_steps: stats.n, last_step: stats.hi };
    if (stats.n === 0) return { items: [], ...base };

    if (range.points !== undefined) {
      // Equal-width buckets over [fromStep, last step]; numeric values averaged, text values (backend) taken
      // from the bucket's last step.
      const lo = Math.max(fromStep, stats.lo ?? 0);
      const width = Math.max(1, Math.ceil((stats.hi! - lo + 1) / range.points));
      const rows = (await this.db.query(
        `WITH m AS (
           SELECT step, "values", (step - $2) / $3 AS bucket FROM metrics WHERE job_id = $1 AND step >= $2
         ), nums AS (
           SELECT bucket, kv.key, avg((kv.value)::text::float8) AS v
           FROM m, jsonb_each(m."values") kv
           WHERE jsonb_typeof(kv.value) = 'number'
           GROUP BY bucket, kv.key
         ), last AS (
           SELECT DISTINCT ON (bucket) bucket, step, "values" FROM m ORDER BY bucket, step DESC
         )
         SELECT last.step, b.step_from, b.count,
                last."values" || coalesce((SELECT jsonb_object_agg(key, v) FROM nums WHERE nums.bucket = last.bucket), '{}') AS "values"
         FROM last JOIN (SELECT bucket, min(step) AS step_from, count(*)::int AS count FROM m GROUP BY bucket) b USING (bucket)
         ORDER BY last.step
         LIMIT $4`,
        [jobId, lo, width, limit],
      )) as MetricPointDto[];
      return { items: rows, ...base };
    }

    const every = range.every ?? 1;
    const items = (await this.db.query(
      `SELECT step, "values" FROM metrics
       WHERE job_id = $1 AND step >= $2 AND ($3 = 1 OR step % $3 = 0 OR step = $4)
       ORDER BY step LIMIT $5`,
      [jobId, fromStep, every, stats.hi, limit],
    )) as MetricPointDto[];
    return { items, ...base };
  }
}
