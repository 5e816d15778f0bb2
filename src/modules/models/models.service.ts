import { randomUUID } from 'node:crypto';
import { realpath, rm } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import type { DataSource, Repository } from 'typeorm';
import { conflict, invalidField, notFound, payloadTooLarge } from '../../common/api-error.js';
import { PG_UNIQUE_VIOLATION, pgErrorCode } from '../../common/pg-errors.js';
import { AppConfig } from '../../config/index.js';
import { Model } from '../../database/entities/index.js';
import { JobRepository } from '../../repositories/job.repository.js';
import { BUILTIN_MODELS, type ModelConfig } from '../../learner/model/config.js';
import { ArchiveError, extractModelArchive } from './archive.js';
import type { BuiltinModelDto } from './dto/model.dto.js';
import { HfDirectoryError, inspectHfDirectory, isInside } from './hf-directory.js';

/** Rough parameter count of a Llama-style config, for display only. */
function approxParameters(c: ModelConfig): number {
  const kv = c.num_key_value_heads ?? c.num_attention_heads;
  const headDim = c.head_dim ?? c.hidden_size / c.num_attention_heads;
  const attn = c.hidden_size * headDim * (2 * c.num_attention_heads + 2 * kv);
  const mlp = 3 * c.hidden_size * c.intermediate_size;
  const embed = c.vocab_size * c.hidden_size * (c.tie_word_embeddings === false ? 2 : 1);
  return Math.round(c.num_hidden_layers * (attn + mlp) + embed);
}

@Injectable()
export class ModelsService {
  constructor(
    private readonly config: AppConfig,
    @InjectDataSource() private readonly db: DataSource,
    @InjectRepository(Model) private readonly models: Repository<Model>,
    private readonly jobs: JobRepository,
  ) {}

  builtinNames(): string[] {
    return Object.keys(BUILTIN_MODELS);
  }

  builtins(): BuiltinModelDto[] {
    return Object.entries(BUILTIN_MODELS).map(([name, c]) => ({
      name,
      architecture: c.architectures?.[0] ?? c.model_type ?? 'LlamaForCausalLM',
      hidden_size: c.hidden_size,
      num_hidden_layers: c.num_hidden_layers,
      vocab_size: c.vocab_size,
      parameters: approxParameters(c),
    }));
  }

  list(projectId: string): Promise<Model[]> {
    return this.models.find({ where: { project_id: projectId }, order: { created_at: 'ASC' } });
  }

  async get(projectId: string, id: string): Promise<Model> {
    const model = await this.models.findOneBy({ id, project_id: projectId });
    if (!model) throw notFound('model', id);
    return model;
  }

  /**
   * Registers an existing HF-format directory inside one of the configured model roots. Uploaded models live
   * under the data dir's uploads folder, one subfolder per project: only the owner may register from its own.
   * Every path that is missing, outside the roots, or another project's gets the same answer, so the error
   * cannot be used to probe which files exist on the server.
   */
  async register(projectId: string, name: string, path: string): Promise<Model> {
    if (!isAbsolute(path)) throw invalidField('path', 'must be an absolute path');
    const refused = () =>
      invalidField(
        'path',
        `is not a directory this project may register: it must exist inside one of the model roots (POPO_MODEL_ROOTS): ${this.config.modelRoots.join(', ')}`,
      );
    const real = await realpath(path).catch(() => undefined);
    if (!real) throw refused();
    const roots = await Promise.all(this.config.modelRoots.map((r) => realpath(r).catch(() => r)));
    if (!roots.some((root) => isInside(real, root))) throw refused();
    const uploads = await realpath(join(this.config.dataDir, 'models', 'uploads')).catch(() =>
      join(this.config.dataDir, 'models', 'uploads'),
    );
    if (isInside(real, uploads) && !isInside(real, join(uploads, projectId))) throw refused();
    try {
      const info = await inspectHfDirectory(real);
      return await this.insert(projectId, name, 'path', info);
    } catch (e) {
      if (e instanceof HfDirectoryError) throw invalidField('path', e.message);
      throw e;
    }
  }

  /** Extracts an uploaded tar/tar.gz under the data dir and registers it; nothing is kept if it is not a model. */
  async upload(projectId: string, name: string, body: NodeJS.ReadableStream): Promise<Model> {
    if (await this.models.existsBy({ project_id: projectId, name }))
      throw conflict('model_exists', `a model named "${name}" already exists in this project`);
    const { modelArchiveBytes, modelExtractedBytes, modelArchiveFiles, projectStorageBytes } =
      this.config.limits;
    const used = await this.storageUsed(projectId);
    const remaining = Math.max(0, projectStorageBytes - used);
    const dest = join(this.config.dataDir, 'models', 'uploads', projectId, randomUUID());
    try {
      const { dir, extractedBytes } = await extractModelArchive(body, dest, {
        maxBytes: modelArchiveBytes,
        maxEntries: modelArchiveFiles,
        ...(remaining < modelExtractedBytes
          ? {
              maxExtractedBytes: remaining,
              extractedLimitName: `this project's remaining storage (PROJECT_STORAGE_BYTES ${projectStorageBytes}, ${used} used):`,
            }
          : { maxExtractedBytes: modelExtractedBytes }),
      });
      const info = await inspectHfDirectory(dir);
      return await this.insert(projectId, name, 'upload', {
        ...info,
        sizeBytes: Math.max(info.sizeBytes, extractedBytes),
      });
    } catch (e) {
      await rm(dest, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
      if (e instanceof ArchiveError)
        throw e.tooLarge ? payloadTooLarge(e.message) : invalidField('body', e.message);
      if (e instanceof HfDirectoryError) throw invalidField('body', `the archive ${e.message}`);
      throw e;
    }
  }

  /** Bytes this project's uploaded models occupy (their extracted size). */
  private async storageUsed(projectId: string): Promise<number> {
    const [{ used }] = (await this.db.query(
      `SELECT COALESCE(SUM(size_bytes), 0)::float8 AS used FROM models WHERE project_id = $1 AND source = 'upload'`,
      [projectId],
    )) as { used: number }[];
    return used;
  }

  private async insert(
    projectId: string,
    name: string,
    source: 'path' | 'upload',
    info: Awaited<ReturnType<typeof inspectHfDirectory>>,
  ): Promise<Model> {
    try {
      return await this.models.save(
        this.models.create({
          project_id: projectId,
          name,
          source,
          path: info.path,
          architecture: info.architecture,
          hf_config: info.config as Record<string, unknown>,
          size_bytes: info.sizeBytes,
        }),
      );
    } catch (e) {
      if (pgErrorCode(e) === PG_UNIQUE_VIOLATION)
        throw conflict('model_exists', `a model named "${name}" already exists in this project`);
      throw e;
    }
  }

  /** Deletes a registration (and an uploaded model's files) unless an active job uses it. */
  async delete(projectId: string, id: string): Promise<void> {
    const removed = await this.db.transaction(async (m) => {
      const model = await m
        .createQueryBuilder(Model, 'm')
        .setLock('pessimistic_write')
        .where('m.id = :id AND m.project_id = :projectId', { id, projectId })
        .getOne();
      if (!model) throw notFound('model', id);
      const active = await this.jobs.countActiveUsing(m, { model_id: id });
      if (active > 0) throw conflict('model_in_use', `model ${id} is used by ${active} active job(s)`);
      await m.delete(Model, { id });
      return model;
    });
    if (removed.source === 'upload') {
      const uploads = join(this.config.dataDir, 'models', 'uploads');
      if (isInside(removed.path, uploads)) await rm(removed.path, { recursive: true, force: true });
    }
  }
}
