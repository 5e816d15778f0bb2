import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import type { DataSource, Repository } from 'typeorm';
import {
  ApiError,
  conflict,
  notFound,
  payloadTooLarge,
  validationFailed,
  type ErrorDetail,
} from '../../common/api-error.js';
import { cursorTimestampSql, decodeCursor, encodeCursor, type Page } from '../../common/pagination.js';
import { AppConfig } from '../../config/index.js';
import { Dataset, DatasetRow } from '../../database/entities/index.js';
import { JobRepository } from '../../repositories/job.repository.js';
import type { Example } from '../../learner/trainer/types.js';
import { parseDatasetLine } from './jsonl-line.js';
import type { RowFields } from '../../learner/data/examples.js';
import { BodyTooLargeError, LineTooLongError, readLines } from './line-reader.js';

const INSERT_BATCH = 500;
/** A broken file stops being read after this many bad lines: the first ones are what a user needs to fix. */
const MAX_REPORTED_ERRORS = 50;
const SAMPLE_ROWS = 5;

interface StagedUpload {
  file: string;
  count: number;
  size: number;
  sha256: string;
  extraFields: string[];
}

@Injectable()
export class DatasetsService {
  constructor(
    private readonly config: AppConfig,
    @InjectDataSource() private readonly db: DataSource,
    @InjectRepository(Dataset) private readonly datasets: Repository<Dataset>,
    @InjectRepository(DatasetRow) private readonly rows: Repository<DatasetRow>,
    private readonly jobs: JobRepository,
  ) {}

  /**
   * Stores a JSONL body as a new dataset in two phases, so a slow client never holds a database connection:
   * the body is read, validated line by line and staged to a temporary file with no connection taken; only a
   * complete, valid upload is then inserted, from that file, in one transaction that runs at database speed.
   * Any bad line, an empty file, a line or body over its limit stores nothing.
   */
  async upload(
    projectId: string,
    name: string,
    body: AsyncIterable<Buffer | string>,
    fields: RowFields = {},
  ): Promise<Dataset> {
    const dir = await mkdtemp(join(tmpdir(), 'popo-upload-'));
    try {
      const staged = await this.stage(body, join(dir, 'rows.jsonl'), fields);
      return await this.insertStaged(projectId, name, staged);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Phase 1: validate the body and write its rows as `[problem, answer, extra]` lines; no database. */
  private async stage(
    body: AsyncIterable<Buffer | string>,
    file: string,
    fields: RowFields,
  ): Promise<StagedUpload> {
    const { datasetBytes, datasetRows, datasetLineBytes } = this.config.limits;
    const hash = createHash('sha256');
    const errors: ErrorDetail[] = [];
    const extraFields = new Set<string>();
    let size = 0;
    let count = 0;
    const out = createWriteStream(file);
    const write = async (line: string) => {
      if (!out.write(line)) await once(out, 'drain');
    };
    try {
      for await (const { lineNo, text } of readLines(
        body,
        datasetBytes,
        (chunk) => {
          size += chunk.length;
          hash.update(chunk);
        },
        datasetLineBytes,
      )) {
        if (text.trim() === '') continue;
        const { row, errors: lineErrors } = parseDatasetLine(text, lineNo, fields);
        if (!row) {
          errors.push(...lineErrors);
          if (errors.length >= MAX_REPORTED_ERRORS) break;
          continue;
        }
        if (errors.length > 0) continue; // the upload is already lost; keep validating, stop staging
        if (count >= datasetRows) throw payloadTooLarge(`dataset has more than ${datasetRows} rows`);
        for (const k of Object.keys(row.extra ?? {})) extraFields.add(k);
        await write(JSON.stringify([row.problem, row.answer, row.extra]) + '\n');
        count++;
      }
    } catch (e) {
      if (e instanceof BodyTooLargeError)
        throw payloadTooLarge(`dataset upload exceeds the limit of ${e.limit} bytes`);
      if (e instanceof LineTooLongError)
        throw new ApiError(
          413,
          'payload_too_large',
          `line ${e.lineNo} exceeds the limit of ${e.limit} bytes per line`,
          [{ field: `line ${e.lineNo}`, reason: `is longer than ${e.limit} bytes (MAX_DATASET_LINE_BYTES)` }],
        );
      throw e;
    } finally {
      out.end();
      await finished(out).catch(() => undefined);
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
    return { file, count, size, sha256: hash.digest('hex'), extraFields: [...extraFields].sort() };
  }

  /** Phase 2: the staged rows in one transaction, in batches; the client is no longer involved. */
  private async insertStaged(projectId: string, name: string, staged: StagedUpload): Promise<Dataset> {
    return this.db.transaction(async (m) => {
      const dataset = await m.save(
        m.create(Dataset, {
          project_id: projectId,
          name,
          row_count: staged.count,
          size_bytes: staged.size,
          sha256: staged.sha256,
          extra_fields: staged.extraFields,
        }),
      );
      let batch: [string, string, Record<string, unknown> | null][] = [];
      let start = 0;
      const flush = async () => {
        if (batch.length === 0) return;
        await m.query(
          `INSERT INTO dataset_rows (dataset_id, idx, problem, answer, extra)
           SELECT $1, s.idx, s.problem, s.answer, s.extra
           FROM unnest($2::int[], $3::text[], $4::text[], $5::jsonb[]) AS s(idx, problem, answer, extra)`,
          [
            dataset.id,
            batch.map((_, i) => start + i),
            batch.map((r) => r[0]),
            batch.map((r) => r[1]),
            batch.map((r) => (r[2] ? JSON.stringify(r[2]) : null)),
          ],
        );
        start += batch.length;
        batch = [];
      };
      for await (const { text } of readLines(createReadStream(staged.file), Number.POSITIVE_INFINITY)) {
        batch.push(JSON.parse(text) as [string, string, Record<string, unknown> | null]);
        if (batch.length >= INSERT_BATCH) await flush();
      }
      await flush();
      return dataset;
    });
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
      const active = await this.jobs.countActiveUsing(m, { dataset_id: id });
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
