import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CausalLM } from '../model/causal-lm.js';
import type { ModelConfig } from '../model/config.js';
import { ModelError } from '../model/errors.js';
import { loadPretrained, modelFiles } from '../model/pretrained.js';
import type { TensorRecord } from '../model/safetensors.js';
import { CheckpointError } from './checkpoint-error.js';
import type { ModelSpec } from './types.js';

/**
 * The frozen base of a LoRA run, which its checkpoints name instead of storing (for a 1.5B model that is 6 GB a
 * checkpoint): a built-in model by its seed (the init is drawn in JS, the same on every backend) and the sha256 of
 * the weights it gives, a directory by its absolute path and the sha256 of each file its weights are read from.
 * The hashes make a base that has changed since the run started an error, never adapters merged into another model.
 */
export type BaseModelRef =
  { builtin: string; seed: number; sha256: string } | { path: string; files: Record<string, string> };

const WHY =
  'A LoRA checkpoint holds the adapters, not the base they were trained on: that base, as it was, is needed to ' +
  'resume the run or export it merged (the PEFT adapter exports without it).';

/** A LoRA checkpoint's base that is not there or is no longer what the run trained on. */
export class BaseModelError extends CheckpointError {
  constructor(
    readonly problem: 'missing' | 'changed',
    readonly base: BaseModelRef,
    /** What was found: the files that differ, or why the directory could not be read. */
    readonly detail: string,
    source: string,
  ) {
    super(BaseModelError.explain(problem, base, detail, source, baseModelName(base)));
  }

  /** The message with the base named as the caller knows it (the service: the registered model's name and id). */
  renamed(source: string, name: string): string {
    return BaseModelError.explain(this.problem, this.base, this.detail, source, name);
  }

  private static explain(
    problem: 'missing' | 'changed',
    base: BaseModelRef,
    detail: string,
    source: string,
    name: string,
  ): string {
    const what =
      problem === 'missing'
        ? 'is missing or unreadable'
        : 'builtin' in base
          ? 'is initialised differently by this version of popo'
          : 'has changed since the run started';
    return `${source}: its base, the ${name}, ${what} (${detail}). ${WHY}`;
  }
}

/** How an error message names a base. */
export function baseModelName(ref: BaseModelRef): string {
  return 'builtin' in ref ? `built-in model ${ref.builtin} (seed ${ref.seed})` : `model at ${ref.path}`;
}

/** sha256 over every tensor's name, shape and fp32 bytes, in the model's order. */
export function weightsSha256(records: Map<string, TensorRecord>): string {
  const h = createHash('sha256');
  for (const [name, r] of records) {
    h.update(`${name} [${r.shape.join(',')}]\n`);
    h.update(new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength));
  }
  return h.digest('hex');
}

/**
 * Hashes already computed in this process, valid while the file's identity, size and times stay (ctime moves on any
 * write, whatever mtime is set back to): the API exporting several checkpoints of one run reads a 3 GB base once.
 */
const hashed = new Map<string, { stamp: string; sha256: string }>();

async function fileSha256(file: string): Promise<string> {
  const s = await stat(file);
  const stamp = `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
  const known = hashed.get(file);
  if (known?.stamp === stamp) return known.sha256;
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  const sha256 = h.digest('hex');
  hashed.set(file, { stamp, sha256 });
  return sha256;
}

/** sha256 of each file a model directory's weights are read from (config.json, the safetensors and any index). */
export async function modelFileHashes(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of await modelFiles(dir)) out[f] = await fileSha256(join(dir, f));
  return out;
}

/** What a LoRA run's checkpoints name as their base: the model the run loaded from `spec`, as it is now. */
export async function baseModelRef(spec: ModelSpec, seed: number, model: CausalLM): Promise<BaseModelRef> {
  if (spec.builtin) return { builtin: spec.builtin, seed, sha256: weightsSha256(await model.stateDict()) };
  const path = resolve(spec.path!);
  return { path, files: await modelFileHashes(path) };
}

/**
 * The base a LoRA checkpoint names, rebuilt and checked against its hashes; BaseModelError names the model when it
 * is missing or has changed. `config` is the checkpoint's model config (a built-in model is built from it).
 */
export async function loadBaseModel(
  ref: BaseModelRef,
  config: ModelConfig,
  source: string,
): Promise<CausalLM> {
  if ('builtin' in ref) {
    const model = CausalLM.create(config, ref.seed);
    const sha256 = weightsSha256(await model.stateDict());
    if (sha256 === ref.sha256) return model;
    model.dispose();
    const had = `weights sha256 ${sha256.slice(0, 12)}…, the run had ${ref.sha256.slice(0, 12)}…`;
    throw new BaseModelError('changed', ref, had, source);
  }
  let files: Record<string, string>;
  try {
    files = await modelFileHashes(ref.path);
  } catch (e) {
    if (!(e instanceof ModelError) && !(e as NodeJS.ErrnoException).code) throw e;
    throw new BaseModelError('missing', ref, (e as Error).message, source);
  }
  const changes = fileChanges(ref.files, files);
  if (changes.length) throw new BaseModelError('changed', ref, changes.join(', '), source);
  return loadPretrained(ref.path);
}

function fileChanges(then: Record<string, string>, now: Record<string, string>): string[] {
  const out: string[] = [];
  for (const [f, sha] of Object.entries(then)) {
    if (!(f in now)) out.push(`${f} is gone`);
    else if (now[f] !== sha) out.push(`${f} differs`);
  }
  for (const f of Object.keys(now)) if (!(f in then)) out.push(`${f} is new`);
  return out;
}
