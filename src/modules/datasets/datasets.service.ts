import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { type DataSource, In, type Repository } from 'typeorm';
import {
  conflict,
  notFound,
  payloadTooLarge,
  validationFailed,
  type ErrorDetail,
} from '../../common/api-error.js';
import { cursorTimestampSql, decodeCursor, encodeCursor, type Page } from '../../common/pagination.js';
import { AppConfig } from '../../config/index.js';
import { ACTIVE_STATUSES, Dataset, DatasetRow, Job } from '../../database/entities/index.js';
import type { Example } from '../../learner/trainer/types.js';
import { parseDatasetLine, type ParsedRow } from './jsonl-line.js';
import { BodyTooLargeError, readLines } from './line-reader.js';

const INSERT_BATCH = 500;
/** A broken file stops being read after this many bad lines: the first ones are what a user needs to fix. */
const MAX_REPORTED_ERRORS = 50;
const SAMPLE_ROWS = 5;

@Injectable()
export class DatasetsService {
  constructor(
    private readonly config: AppConfig,
    @InjectDataSource() private readonly db: DataSource,
    @InjectRepository(Dataset) private readonly datasets: Repository<Dataset>,
    @InjectRepository(DatasetRow) private readonly rows: Repository<DatasetRow>,
  ) {}

  /**
   * Streams a JSONL body into a new dataset inside one transaction: rows are inserted in batches as they are
   * validated, and any bad line, an empty file or a size overrun rolls everything back.
   */
  async upload(projectId: string, name: string, body: AsyncIterable<Buffer | string>): Promise<Dataset> {
    const { datasetBytes, datasetRows } = this.config.limits;
    const hash = createHash('sha256');
    let size = 0;
    const errors: ErrorDetail[] = [];
    const extraFields = new Set<string>();
    let batch: ParsedRow[] = [];
    let count = 0;

    const qr = this.db.createQueryRunner();
    await qr.connect();
    await qr.startTransaction();
    try {
      const dataset = await qr.manager.save(
        qr.manager.create(Dataset, {
          project_id: projectId,
          name,
          row_count: 0,
          size_bytes: 0,
          sha256: ''.padEnd(64, '0'),
        }),
      );
      const flush = async () => {
        if (batch.length === 0) return;
        const start = count - batch.length;
        await qr.query(
          `INSERT INTO dataset_rows (dataset_id, idx, problem, answer, extra)
           SELECT $1, s.idx, s.problem, s.answer, s.extra
           FROM unnest($2::int[], $3::text[], $4::text[], $5::jsonb[]) AS s(idx, problem, answer, extra)`,
          [
            dataset.id,
            batch.map((_, i) => start + i),
            batch.map((r) => r.problem),
            batch.map((r) => r.answer),
            batch.map((r) => (r.extra ? JSON.stringify(r.extra) : null)),
          ],
        );
        batch = [];
      };

      for await (const { lineNo, text } of readLines(body, datasetBytes, (chunk) => {
        size += chunk.length;
        hash.update(chunk);
      })) {
        if (text.trim() === '') continue;
        const { row, errors: lineErrors } = parseDatasetLine(text, lineNo);
        if (!row) {
          errors.push(...lineErrors);
          if (errors.length >= MAX_REPORTED_ERRORS) break;
          continue;
        }
        if (errors.length > 0) continue; // the upload is already lost; keep validating, stop inserting
        if (count >= datasetRows) throw payloadTooLarge(`dataset has more than ${datasetRows} rows`);
        for (const k of Object.keys(row.extra ?? {})) extraFields.add(k);
        batch.push(row);
        count++;
        if (batch.length >= INSERT_BATCH) await flush();
      }
      if (errors.length > 0) {
        const lines = new Set(errors.map((e) => e.field.split('.')[0])).size;
        throw validationFailed(
          errors,
          `${lines} invalid line(s)${errors.length >= MAX_REPORTED_ERRORS ? ' (stopped reading after the first ' + MAX_REPORTED_ERRORS + ' errors)' : ''}: ` +
            errors
              .slice(0, 5)
              .map((e) => `${e.field} ${e.reason}`)
              .join('; '),
        );
      }
      if (count === 0) throw validationFailed([{ field: 'body', reason: 'contains no rows' }]);
      await flush();
      dataset.row_count = count;
      dataset.size_bytes = size;
      dataset.sha256 = hash.digest('hex');
      dataset.extra_fields = [...extraFields].sort();
      await qr.manager.save(dataset);
      await qr.commitTransaction();
      return dataset;
    } catch (e) {
      await qr.rollbackTransaction();
      if (e instanceof BodyTooLargeError)
        throw payloadTooLarge(`dataset upload exceeds the limit of ${e.limit} bytes`);
      throw e;
    } finally {
      await qr.release();
    }
  }

  async list(projectId: string, limit = 20, cursor?: string): Promise<Page<Dataset>> {
    const qb = this.datasets
      .createQueryBuilder('d')
      .addSelect(cursorTimestampSql('d.created_at'), 'd_cursor_ts')
      .where('d.project_id = :projectId', { projectId })
      .orderBy('d.created_at', 'DESC')
      .addOrderBy('d.id', 'DESC')
      .limit(limit + 1);
    if (cursor) {
      const pos = decodeCursor(cursor);
      qb.andWhere('(d.created_at, d.id) < (CAST(:ts AS timestamptz), CAST(:id AS uuid))', pos);
    }
    const { entities, raw } = await qb.getRawAndEntities<{ d_cursor_ts: string }>();
    const items = entities.slice(0, limit);
    const last = items.length === limit && entities.length > limit ? items.length - 1 : -1;
    return {
      items,
      next_cursor: last >= 0 ? encodeCursor({ ts: raw[last].d_cursor_ts, id: items[last].id }) : null,
    };
  }

  /** A dataset of this project, or 404 (also for another project's id, so ids do not leak across projects). */
  async get(projectId: string, id: string): Promise<Dataset> {
    const dataset = await this.datasets.findOneBy({ id, project_id: projectId });
    if (!dataset) throw notFound('dataset', id);
    return dataset;
  }

  async getWithSample(projectId: string, id: string): Promise<Dataset & { sample: DatasetRow[] }> {
    const dataset = await this.get(projectId, id);
    const sample = await this.rows.find({
      where: { dataset_id: id },
      order: { idx: 'ASC' },
      take: SAMPLE_ROWS,
    });
    return { ...dataset, sample: sample.map(({ dataset_id: _, ...r }) => r as DatasetRow) };
  }

  async rowsPage(
    projectId: string,
    id: string,
    offset = 0,
    limit = 100,
  ): Promise<{ items: DatasetRow[]; total: number }> {
    const dataset = await this.get(projectId, id);
    const items = await this.rows.find({
      where: { dataset_id: id },
      order: { idx: 'ASC' },
      skip: offset,
      take: limit,
      select: { idx: true, problem: true, answer: true, extra: true },
    });
    return { items, total: dataset.row_count };
  }

  /** Deletes a dataset unless a queued, running, paused or cancelling job still needs it (409). */
  async delete(projectId: string, id: string): Promise<void> {
    await this.db.transaction(async (m) => {
      // FOR UPDATE conflicts with the key-share lock a concurrent job insert takes through its foreign key,
      // so a job cannot be created against a dataset that is being deleted.
      const dataset = await m
        .createQueryBuilder(Dataset, 'd')
        .setLock('pessimistic_write')
        .where('d.id = :id AND d.project_id = :projectId', { id, projectId })
        .getOne();
      if (!dataset) throw notFound('dataset', id);
      const active = await m.count(Job, { where: { dataset_id: id, status: In([...ACTIVE_STATUSES]) } });
      if (active > 0) throw conflict('dataset_in_use', `dataset ${id} is used by ${active} active job(s)`);
      await m.delete(Dataset, { id });
    });
  }

  /** The rows as trainer examples (for workers): `id` is the row's own "id" field when it has one. */
  async loadExamples(datasetId: string): Promise<Example[]> {
    const rows = await this.rows.find({ where: { dataset_id: datasetId }, order: { idx: 'ASC' } });
    return rows.map((r) => {
      const ex: Example = {
        id:
          typeof r.extra?.id === 'string' || typeof r.extra?.id === 'number'
            ? String(r.extra.id)
            : String(r.idx),
        problem: r.problem,
        answer: r.answer,
      };
      if (typeof r.extra?.completion === 'string') ex.completion = r.extra.completion;
      return ex;
    });
  }
}
