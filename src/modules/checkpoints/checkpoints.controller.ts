import { Controller, Get, Param, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import { exportAdapter, exportPolicy, isLoraCheckpoint } from '../../learner/trainer/checkpoint.js';
import { BaseModelError, baseModelName } from '../../learner/trainer/checkpoint-base.js';
import type { CheckpointBlob } from '../../learner/trainer/types.js';
import type { Checkpoint } from '../../database/entities/index.js';
import { conflict, internalError, invalidField, notFound } from '../../common/api-error.js';
import { ParseUuidPipe } from '../../common/uuid.pipe.js';
import { ProjectId } from '../auth/auth.decorators.js';
import { JobsService } from '../jobs/jobs.service.js';
import { ModelsService } from '../models/models.service.js';
import { CheckpointCorruptError, CheckpointStore } from './checkpoint-store.js';
import { CheckpointDto } from './dto/checkpoint.dto.js';
import { ApiErrors } from '../../common/error.dto.js';

function parseStep(raw: string): number | 'latest' {
  if (raw === 'latest') return 'latest';
  if (!/^\d{1,9}$/.test(raw)) throw invalidField('step', 'must be a non-negative integer or "latest"');
  return Number(raw);
}

@ApiTags('checkpoints')
@ApiBearerAuth()
@ApiErrors()
@Controller('v1/jobs/:id/checkpoints')
export class CheckpointsController {
  constructor(
    private readonly store: CheckpointStore,
    private readonly jobs: JobsService,
    private readonly models: ModelsService,
  ) {}

  @Get()
  @ApiOkResponse({ type: [CheckpointDto] })
  async list(
    @ProjectId() projectId: string,
    @Param('id', ParseUuidPipe) id: string,
  ): Promise<CheckpointDto[]> {
    await this.jobs.get(projectId, id);
    return this.store.list(id);
  }

  @Get(':step/download')
  @ApiOperation({
    summary:
      'Download a checkpoint blob (safetensors with JSON metadata), verified by sha256 while it is read.',
    description:
      'The `X-Checkpoint-Sha256` header carries the expected hash. A corrupt checkpoint is a 500 `checkpoint_corrupt`.',
  })
  @ApiParam({ name: 'step', description: 'A step number or "latest".', schema: { type: 'string' } })
  @ApiProduces('application/octet-stream')
  @ApiOkResponse({ schema: { type: 'string', format: 'binary' } })
  async download(
    @ProjectId() projectId: string,
    @Param('id', ParseUuidPipe) id: string,
    @Param('step') rawStep: string,
    @Res() res: Response,
  ): Promise<void> {
    // Verified before any byte is sent, so corruption is a clean error response rather than a cut stream.
    const checkpoint = await this.verified(projectId, id, rawStep, (c) => this.store.verify(c));
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader('Content-Length', String(checkpoint.size_bytes));
    res.setHeader('Content-Disposition', `attachment; filename="${id}-step${checkpoint.step}.safetensors"`);
    res.setHeader('X-Checkpoint-Sha256', checkpoint.sha256);
    res.setHeader('X-Checkpoint-Step', String(checkpoint.step));
    for await (const chunk of this.store.stream(checkpoint)) {
      if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
    }
    res.end();
  }

  @Get(':step/model')
  @ApiOperation({
    summary: 'Download the policy θ of a checkpoint as a Hugging Face model directory (tar.gz).',
    description:
      'config.json + model.safetensors (+ tokenizer files): loadable by transformers, by `popo eval --model`, or as the ' +
      "base model of another job. A LoRA run's policy comes merged (W + (alpha/r)·B·A) into its base, which the " +
      'checkpoint names rather than holds: a base model that has since been deleted or changed is a 409 ' +
      '`base_model_missing` / `base_model_changed` naming it. The checkpoint is verified by sha256 first.',
  })
  @ApiParam({ name: 'step', description: 'A step number or "latest".', schema: { type: 'string' } })
  @ApiProduces('application/gzip')
  @ApiOkResponse({ schema: { type: 'string', format: 'binary' } })
  async downloadModel(
    @ProjectId() projectId: string,
    @Param('id', ParseUuidPipe) id: string,
    @Param('step') rawStep: string,
    @Res() res: Response,
  ): Promise<void> {
    await this.sendExport(projectId, id, rawStep, res, 'model', exportPolicy);
  }

  @Get(':step/adapter')
  @ApiOperation({
    summary: "Download a LoRA run's adapters as a PEFT adapter directory (tar.gz).",
    description:
      "adapter_config.json + adapter_model.safetensors (+ tokenizer files), PEFT's names and layout: " +
      '`PeftModel.from_pretrained(base, dir)`. A checkpoint of a run without `lora` is a 409 `checkpoint_not_lora`.',
  })
  @ApiParam({ name: 'step', description: 'A step number or "latest".', schema: { type: 'string' } })
  @ApiProduces('application/gzip')
  @ApiOkResponse({ schema: { type: 'string', format: 'binary' } })
  async downloadAdapter(
    @ProjectId() projectId: string,
    @Param('id', ParseUuidPipe) id: string,
    @Param('step') rawStep: string,
    @Res() res: Response,
  ): Promise<void> {
    await this.sendExport(projectId, id, rawStep, res, 'adapter', exportAdapter);
  }

  /** A verified checkpoint converted by `write` into a directory, sent as a tar.gz. */
  private async sendExport(
    projectId: string,
    id: string,
    rawStep: string,
    res: Response,
    kind: 'model' | 'adapter',
    write: (blob: CheckpointBlob, dir: string) => Promise<string[]>,
  ): Promise<void> {
    let blob!: CheckpointBlob;
    const checkpoint = await this.verified(projectId, id, rawStep, async (c) => {
      blob = await this.store.load(c);
    });
    if (kind === 'adapter' && !isLoraCheckpoint(blob))
      throw conflict(
        'checkpoint_not_lora',
        `checkpoint ${id}@${checkpoint.step} has no LoRA adapters: its run trained every weight (use /model)`,
      );
    const dir = await mkdtemp(join(tmpdir(), `popo-${kind}-`));
    try {
      const files = await write(blob, dir).catch(async (e: unknown) => {
        // A LoRA checkpoint's base is read from where the run loaded it: gone or changed since is the user's state.
        if (!(e instanceof BaseModelError)) throw e;
        const source = `checkpoint ${id}@${checkpoint.step}`;
        const name = (await this.registeredName(projectId, id, e)) ?? baseModelName(e.base);
        throw conflict(`base_model_${e.problem}`, e.renamed(source, name));
      });
      const suffix = kind === 'adapter' ? '-adapter' : '';
      res.setHeader('Content-Type', 'application/gzip');
      res.setHeader(
        'Content-Disposition',
        `attachment; filename="${id}-step${checkpoint.step}${suffix}.tar.gz"`,
      );
      res.setHeader('X-Checkpoint-Step', String(checkpoint.step));
      await pipeline(tar.create({ gzip: true, cwd: dir, portable: true }, files), res);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /**
   * A directory base named as this project registered it (the job's model: its name and id, or its id once the
   * registration is deleted), which says more than the data dir path of an uploaded model.
   */
  private async registeredName(
    projectId: string,
    jobId: string,
    e: BaseModelError,
  ): Promise<string | undefined> {
    if ('builtin' in e.base) return undefined;
    const job = await this.jobs.get(projectId, jobId);
    const modelId = (job.config.model as { id?: string } | undefined)?.id;
    if (!modelId) return undefined;
    const model = await this.models.get(projectId, modelId).catch(() => undefined);
    return model
      ? `model "${model.name}" (${modelId}) at ${e.base.path}`
      : `model ${modelId} (its registration is deleted) at ${e.base.path}`;
  }

  /** The job's checkpoint at `rawStep` after `check` (which reads and verifies it); corruption is a 500. */
  private async verified(
    projectId: string,
    id: string,
    rawStep: string,
    check: (c: Checkpoint) => Promise<void>,
  ): Promise<Checkpoint> {
    const step = parseStep(rawStep);
    await this.jobs.get(projectId, id);
    const checkpoint = await this.store.find(id, step);
    if (!checkpoint) throw notFound('checkpoint', `${id}@${rawStep}`);
    try {
      await check(checkpoint);
    } catch (e) {
      if (e instanceof CheckpointCorruptError) throw internalError('checkpoint_corrupt', e.message);
      throw e;
    }
    return checkpoint;
  }
}
