import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { Checkpoint, CheckpointChunk } from '../database/entities/index.js';

export interface NewCheckpoint {
  job_id: string;
  step: number;
  sha256: string;
  size_bytes: number;
  chunks: { sha256: string; data: Buffer }[];
}

/** All SQL on `checkpoints` and `checkpoint_chunks`. Hashing and verification live in CheckpointStore. */
@Injectable()
export class CheckpointRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Stores a checkpoint with its chunks; one already at that step is replaced, atomically. */
  replace(c: NewCheckpoint): Promise<Checkpoint> {
    return this.db.transaction(async (m) => {
      await m.delete(Checkpoint, { job_id: c.job_id, step: c.step });
      const checkpoint = await m.save(
        m.create(Checkpoint, {
          job_id: c.job_id,
          step: c.step,
          sha256: c.sha256,
          size_bytes: c.size_bytes,
          chunk_count: c.chunks.length,
        }),
      );
      for (const [idx, chunk] of c.chunks.entries())
        await m.insert(CheckpointChunk, { checkpoint_id: checkpoint.id, idx, ...chunk });
      return checkpoint;
    });
  }

  list(jobId: string): Promise<Checkpoint[]> {
    return this.db.getRepository(Checkpoint).find({ where: { job_id: jobId }, order: { step: 'ASC' } });
  }

  /** The checkpoint at `step`, or the latest one. */
  find(jobId: string, step: number | 'latest'): Promise<Checkpoint | null> {
    return this.db.getRepository(Checkpoint).findOne({
      where: step === 'latest' ? { job_id: jobId } : { job_id: jobId, step },
      order: { step: 'DESC' },
    });
  }

  findById(id: string): Promise<Checkpoint | null> {
    return this.db.getRepository(Checkpoint).findOneBy({ id });
  }

  /** Per chunk, whether its bytes still match its sha256 (computed inside Postgres: no bytes transferred). */
  chunkChecks(checkpointId: string): Promise<{ idx: number; ok: boolean; len: number }[]> {
    return this.db.query(
      `SELECT idx, sha256 = encode(sha256(data), 'hex') AS ok, length(data) AS len
       FROM checkpoint_chunks WHERE checkpoint_id = $1 ORDER BY idx`,
      [checkpointId],
    ) as Promise<{ idx: number; ok: boolean; len: number }[]>;
  }

  chunk(checkpointId: string, idx: number): Promise<CheckpointChunk | null> {
    return this.db.getRepository(CheckpointChunk).findOneBy({ checkpoint_id: checkpointId, idx });
  }
}
