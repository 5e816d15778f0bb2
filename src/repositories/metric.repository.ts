import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import type { CompletionSample } from '../learner/trainer/types.js';

/**
 * A step's metrics as stored: whatever record the algorithm's step produced, minus `step`. The table keeps it as
 * jsonb and never looks inside except to average numbers, so a new algorithm's metrics need no schema change.
 */
export type MetricValues = Record<string, unknown>;

export interface MetricPoint {
  step: number;
  values: MetricValues;
  /** Buckets only: the first step in the bucket and how many steps were averaged. */
  step_from?: number;
  count?: number;
}

/** All SQL on `metrics`: one row per (job, step). */
@Injectable()
export class MetricRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * Inserts a step's values unless the step is already recorded (keep first: a step reported twice lands once);
   * true when this call inserted the row.
   */
  async insertStep(
    jobId: string,
    step: number,
    values: MetricValues,
    m: EntityManager = this.db.manager,
  ): Promise<boolean> {
    const inserted = (await m.query(
      `INSERT INTO metrics (job_id, step, "values") VALUES ($1, $2, $3) ON CONFLICT (job_id, step) DO NOTHING RETURNING step`,
      [jobId, step, JSON.stringify(values)],
    )) as unknown[];
    return inserted.length > 0;
  }

  /** Deletes the steps after `step` (metrics and their sampled completions); returns how many metric rows went. */
  async deleteAfter(m: EntityManager, jobId: string, step: number): Promise<number> {
    const [, deleted] = (await m.query(`DELETE FROM metrics WHERE job_id = $1 AND step > $2`, [
      jobId,
      step,
    ])) as [unknown, number];
    await m.query(`DELETE FROM completions WHERE job_id = $1 AND step > $2`, [jobId, step]);
    return deleted;
  }

  /** A step's sampled completions; a step's rows already stored are kept (a redone step lands once). */
  async insertCompletions(
    m: EntityManager,
    jobId: string,
    step: number,
    samples: CompletionSample[],
  ): Promise<void> {
    if (!samples.length) return;
    const cols = 10;
    const params: unknown[] = [];
    const rows = samples.map((x, i) => {
      params.push(
        jobId,
        step,
        x.group,
        x.sample,
        x.prompt,
        x.answer,
        x.completion,
        x.reward,
        x.positive,
        x.weight,
      );
      return `(${Array.from({ length: cols }, (_, c) => `$${i * cols + c + 1}`).join(', ')})`;
    });
    await m.query(
      `INSERT INTO completions (job_id, step, prompt_index, sample_index, prompt, answer, completion, reward, positive, weight)
        VALUES ${rows.join(', ')} ON CONFLICT DO NOTHING`,
      params,
    );
  }

  async latest(jobId: string): Promise<MetricPoint | undefined> {
    const rows = (await this.db.query(
      'SELECT step, "values" FROM metrics WHERE job_id = $1 ORDER BY step DESC LIMIT 1',
      [jobId],
    )) as MetricPoint[];
    return rows[0];
  }

  async stats(jobId: string): Promise<{ n: number; lo: number | null; hi: number | null }> {
    const [stats] = (await this.db.query(
      'SELECT count(*)::int AS n, min(step) AS lo, max(step) AS hi FROM metrics WHERE job_id = $1',
      [jobId],
    )) as { n: number; lo: number | null; hi: number | null }[];
    return stats;
  }

  /** Steps from `fromStep`, every `every`-th one plus the last (`lastStep`). */
  every(
    jobId: string,
    fromStep: number,
    every: number,
    lastStep: number,
    limit: number,
  ): Promise<MetricPoint[]> {
    return this.db.query(
      `SELECT step, "values" FROM metrics
       WHERE job_id = $1 AND step >= $2 AND ($3 = 1 OR step % $3 = 0 OR step = $4)
       ORDER BY step LIMIT $5`,
      [jobId, fromStep, every, lastStep, limit],
    ) as Promise<MetricPoint[]>;
  }

  /**
   * Equal-width buckets of `width` steps from `fromStep`: numeric values averaged, other values (the backend's
   * name) taken from the bucket's last step.
   */
  buckets(jobId: string, fromStep: number, width: number, limit: number): Promise<MetricPoint[]> {
    return this.db.query(
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
      [jobId, fromStep, width, limit],
    ) as Promise<MetricPoint[]>;
  }
}
