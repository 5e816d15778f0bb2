import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../config/index.js';
import type { Checkpoint } from '../../database/entities/index.js';
import type { CheckpointBlob } from '../../learner/trainer/types.js';
import { CheckpointRepository } from '../../repositories/checkpoint.repository.js';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Stored bytes that no longer match their recorded sha256 (or chunks that are missing). */
export class CheckpointCorruptError extends Error {
  constructor(
    readonly checkpointId: string,
    detail: string,
  ) {
    super(`checkpoint ${checkpointId} is corrupt: ${detail}`);
    this.name = 'CheckpointCorruptError';
  }
}

/**
 * Checkpoints in Postgres: a `checkpoints` row plus the blob split into `checkpoint_chunks` (bytea, each with
 * its own sha256). Every read verifies the chunk hashes and the whole-blob hash. The SQL is CheckpointRepository's.
 */
@Injectable()
export class CheckpointStore {
  constructor(
    private readonly repo: CheckpointRepository,
    private readonly config: AppConfig,
  ) {}

  /**
   * Stores a checkpoint; saving a step again (a resumed run redoing it) replaces the old one atomically.
   * Refuses a blob whose bytes do not match its sha256.
   */
  async save(jobId: string, blob: CheckpointBlob): Promise<Checkpoint> {
    const actual = sha256(blob.bytes);
    if (actual !== blob.sha256)
      throw new Error(`checkpoint sha256 mismatch: declared ${blob.sha256}, bytes hash to ${actual}`);
    const size = this.config.checkpointChunkBytes;
    const count = Math.max(1, Math.ceil(blob.bytes.length / size));
    const chunks = Array.from({ length: count }, (_, idx) => {
      const part = blob.bytes.subarray(idx * size, (idx + 1) * size);
      return { sha256: sha256(part), data: Buffer.from(part.buffer, part.byteOffset, part.byteLength) };
    });
    return this.repo.replace({
      job_id: jobId,
      step: blob.step,
      sha256: actual,
      size_bytes: blob.bytes.length,
      chunks,
    });
  }

  list(jobId: string): Promise<Checkpoint[]> {
    return this.repo.list(jobId);
  }

  /** The checkpoint at `step`, or the latest one. */
  find(jobId: string, step: number | 'latest'): Promise<Checkpoint | null> {
    return this.repo.find(jobId, step);
  }

  /**
   * Checks every chunk inside Postgres (sha256 computed server-side, no bytes transferred) and that the
   * chunks are complete; throws CheckpointCorruptError naming the first problem.
   */
  async verify(checkpoint: Checkpoint): Promise<void> {
    const rows = await this.repo.chunkChecks(checkpoint.id);
    if (rows.length !== checkpoint.chunk_count)
      throw new CheckpointCorruptError(
        checkpoint.id,
        `${rows.length} of ${checkpoint.chunk_count} chunks present`,
      );
    let total = 0;
    for (const [i, r] of rows.entries()) {
      if (r.idx !== i) throw new CheckpointCorruptError(checkpoint.id, `chunk ${i} is missing`);
      if (!r.ok) throw new CheckpointCorruptError(checkpoint.id, `chunk ${i} does not match its sha256`);
      total += r.len;
    }
    if (total !== checkpoint.size_bytes)
      throw new CheckpointCorruptError(
        checkpoint.id,
        `chunks hold ${total} bytes, expected ${checkpoint.size_bytes}`,
      );
  }

  /** Yields the blob chunk by chunk, verifying each chunk and, at the end, the whole blob. */
  async *stream(checkpoint: Checkpoint): AsyncGenerator<Buffer> {
    const whole = createHash('sha256');
    for (let idx = 0; idx < checkpoint.chunk_count; idx++) {
      const chunk = await this.repo.chunk(checkpoint.id, idx);
      if (!chunk) throw new CheckpointCorruptError(checkpoint.id, `chunk ${idx} is missing`);
      if (sha256(chunk.data) !== chunk.sha256)
        throw new CheckpointCorruptError(checkpoint.id, `chunk ${idx} does not match its sha256`);
      whole.update(chunk.data);
      yield chunk.data;
    }
    if (whole.digest('hex') !== checkpoint.sha256)
      throw new CheckpointCorruptError(checkpoint.id, 'the joined chunks do not match the checkpoint sha256');
  }

  /** The whole blob in memory, verified: what a resuming worker hands to train(). */
  async load(checkpoint: Checkpoint): Promise<CheckpointBlob> {
    const parts: Buffer[] = [];
    for await (const part of this.stream(checkpoint)) parts.push(part);
    const bytes = Buffer.concat(parts);
    return {
      step: checkpoint.step,
      bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      sha256: checkpoint.sha256,
    };
  }

  async loadLatest(jobId: string): Promise<CheckpointBlob | undefined> {
    const checkpoint = await this.find(jobId, 'latest');
    return checkpoint ? this.load(checkpoint) : undefined;
  }

  async loadById(checkpointId: string): Promise<CheckpointBlob | undefined> {
    const checkpoint = await this.repo.findById(checkpointId);
    return checkpoint ? this.load(checkpoint) : undefined;
  }
}
