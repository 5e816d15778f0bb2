import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend.js';
import { loadPretrained } from '../model/pretrained.js';
import { readSafetensors, readSafetensorsHeader, type TensorRecord } from '../model/safetensors.js';
import {
  decodeCheckpoint,
  encodeCheckpoint,
  exportAdapter,
  exportPolicy,
  isLoraCheckpoint,
} from './checkpoint.js';
import { BaseModelError, modelFileHashes } from './checkpoint-base.js';
import { resolveConfig } from './config.js';
import type { GrpoMetrics, PopoMetrics, SftMetrics } from './metrics.js';
import { ONES, writePrimedModelDir } from './primed-model-dir.js';
import { train } from './train.js';
import type { CheckpointBlob, StepMetrics, TrainConfig } from './types.js';

const ALL_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
const LORA = { rank: 4, alpha: 8, target_modules: ['q_proj', 'v_proj', 'o_proj', 'down_proj'] };

let baseDir: string;
let primedDir: string;
let loraSft: { metrics: StepMetrics[]; checkpoint: CheckpointBlob };

beforeAll(async () => {
  await initBackend('cpu');
  // Rollouts need positives: the RL runs start from a briefly (fully) fine-tuned policy.
  ({ random: baseDir, primed: primedDir } = await writePrimedModelDir(
    mkdtempSync(join(tmpdir(), 'popo-lora-train-')),
  ));
  const sft = (extra: object) =>
    resolveConfig({
      algorithm: 'sft',
      backend: 'cpu',
      model: { path: baseDir },
      data: { train: ONES, reward: 'exact' },
      sft: { batch_size: 8 },
      checkpoint_every: 0,
      ...extra,
    });
  const metrics: StepMetrics[] = [];
  const result = await train(
    sft({
      steps: 20,
      optimizer: { lr: 0.03 },
      lora: { ...LORA, rank: 8, alpha: 16, target_modules: ALL_TARGETS },
    }),
    { onStep: (m) => void metrics.push(m) },
  );
  loraSft = { metrics, checkpoint: result.final_checkpoint! };
}, 300_000);

function config(algorithm: 'popo' | 'grpo' | 'sft', extra: object = {}): TrainConfig {
  return resolveConfig({
    algorithm,
    seed: 7,
    steps: 4,
    backend: 'cpu',
    model: { path: primedDir },
    data: { train: ONES, test: ONES.slice(0, 4), reward: 'exact' },
    sampling: { group_size: 4, prompts_per_step: 2, max_new_tokens: 3, temperature: 2 },
    optimizer: { lr: 0.01 },
    sft: { batch_size: 4 },
    checkpoint_every: 2,
    eval: { n: 1, k: 1, temperature: 0, max_examples: 8 },
    lora: LORA,
    ...extra,
  });
}

async function run(c: TrainConfig, resumeFrom?: CheckpointBlob) {
  const checkpoints: CheckpointBlob[] = [];
  const metrics: StepMetrics[] = [];
  const result = await train(
    c,
    { onCheckpoint: (k) => void checkpoints.push(k), onStep: (m) => void metrics.push(m) },
    { resumeFrom },
  );
  return { result, checkpoints, metrics };
}

const comparable = (m: StepMetrics) => {
  const { step_seconds: _s, tokens_per_second: _t, ...rest } = m;
  return rest;
};

/** Resuming `c` from `from` (step 2) gives the uninterrupted run's later metrics and its final checkpoint, byte for byte. */
async function expectExactResume(
  c: TrainConfig,
  full: Awaited<ReturnType<typeof run>>,
  from: CheckpointBlob,
): Promise<void> {
  const resumed = await run(c, from);
  expect(resumed.metrics.map(comparable)).toEqual(full.metrics.slice(2).map(comparable));
  expect(
    Buffer.from(resumed.result.final_checkpoint!.bytes).equals(
      Buffer.from(full.result.final_checkpoint!.bytes),
    ),
  ).toBe(true);
}

const same = (a: TensorRecord, b: TensorRecord) =>
  Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength).equals(
    Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength),
  );

const maxAbsDiff = (a: TensorRecord, b: TensorRecord) =>
  a.data.reduce((m, x, i) => Math.max(m, Math.abs(x - b.data[i])), 0);

describe('LoRA training', () => {
  it('SFT with LoRA learns; the checkpoint holds the adapters and names the base, without its weights', async () => {
    // A random tiny model's frozen head and RMS-normed output bound how far its logits can move, so LoRA alone
    // plateaus (≈ 4.1 → 3.5 nats here) where full fine-tuning reaches 0; the loss still has to fall.
    const sft = loraSft.metrics as SftMetrics[];
    expect(sft.at(-1)!.loss).toBeLessThan(sft[0].loss * 0.9);
    const c = decodeCheckpoint(loraSft.checkpoint);
    expect(isLoraCheckpoint(loraSft.checkpoint)).toBe(true);
    // No base tensor under any group: the base is named by its path and the sha256 of its files.
    const model = await loadPretrained(baseDir);
    const baseNames = new Set(model.parameterSpecs().map((p) => p.name));
    model.dispose();
    const stored = [...readSafetensorsHeader(loraSft.checkpoint.bytes).entries.keys()];
    expect(
      stored.filter((k) => k.startsWith('policy/') || baseNames.has(k.slice(k.indexOf('/') + 1))),
    ).toEqual([]);
    expect(c.policy).toBeUndefined();
    expect(c.base).toEqual({ path: baseDir, files: await modelFileHashes(baseDir) });
    expect(c.lora!.size).toBe(2 * 7 * 2); // A and B for 7 projections in 2 layers
    // Optimizer moments exist for the adapters only.
    expect(c.state.tensors.optimizer!.size).toBe(2 * c.lora!.size);
  });

  it('a LoRA checkpoint is far smaller than its model; a full fine-tuning one still holds θ', async () => {
    const { lora: _l, ...plain } = config('sft', { steps: 1, checkpoint_every: 0 });
    const small = { rank: 2, alpha: 4, target_modules: ['q_proj', 'v_proj'] };
    const lora = await run(config('sft', { steps: 1, checkpoint_every: 0, lora: small }));
    const full = await run(plain as TrainConfig);
    const modelBytes = statSync(join(primedDir, 'model.safetensors')).size;
    const loraBytes = lora.result.final_checkpoint!.bytes.length;
    const fullBytes = full.result.final_checkpoint!.bytes.length;
    // 32-wide, 2 layers: 92 KB of weights; r = 2 on q and v is 512 adapter floats (+ 2 moments) and the metadata.
    expect(loraBytes).toBeLessThan(modelBytes / 5);
    expect(fullBytes).toBeGreaterThan(3 * modelBytes); // θ and two AdamW moments
    const c = decodeCheckpoint(full.result.final_checkpoint!);
    expect(c.base).toBeUndefined();
    expect(c.policy!.size).toBe(readSafetensors(readFileSync(join(primedDir, 'model.safetensors'))).size);
  }, 300_000);

  it('POPO with LoRA moves only the adapters; ξ tracks them over the same frozen base', async () => {
    const { checkpoints, metrics } = await run(config('popo'));
    const first = decodeCheckpoint(checkpoints[0]);
    const last = decodeCheckpoint(checkpoints.at(-1)!);
    // Every checkpoint names the same base: it never trains.
    expect(last.policy).toBeUndefined();
    expect(last.base).toEqual(first.base);
    // ξ and the optimizer are over the adapters (and the predictor) only: no second copy of the base.
    const { siamese, optimizer, predictor } = last.state.tensors;
    expect([...siamese!.keys()].sort()).toEqual([...last.lora!.keys()].sort());
    expect(optimizer!.size).toBe(2 * (last.lora!.size + predictor!.size));
    // B started at zero and moved; ξ's B moved toward θ's but lags it (τ < 1).
    const b = 'model.layers.0.self_attn.q_proj.lora_B.weight';
    expect(maxAbsDiff(last.lora!.get(b)!, first.lora!.get(b)!)).toBeGreaterThan(0);
    expect(maxAbsDiff(siamese!.get(b)!, first.state.tensors.siamese!.get(b)!)).toBeGreaterThan(0);
    expect(same(siamese!.get(b)!, last.lora!.get(b)!)).toBe(false);
    const popo = metrics as PopoMetrics[];
    expect(popo.some((m) => m.grad_norm > 0)).toBe(true);
    expect(popo.some((m) => m.drift > 0)).toBe(true);
    for (const m of popo) expect(m.drift).toBeLessThanOrEqual(m.drift_bound * (1 + 1e-4) + 1e-6);
  }, 300_000);

  it.each([
    ['popo', 'popo', { lora: { ...LORA, dropout: 0.1 } }],
    ['grpo with a KL reference', 'grpo', { grpo: { kl_beta: 0.1 } }],
    ['sft', 'sft', {}],
  ] as const)(
    '%s with LoRA resumes exactly',
    async (_name, algorithm, extra) => {
      const c = config(algorithm, extra);
      const full = await run(c);
      const from = full.checkpoints.find((k) => k.step === 2)!;
      // θ is rebuilt from the base directory the checkpoint names plus its adapters.
      expect(decodeCheckpoint(from).policy).toBeUndefined();
      await expectExactResume(c, full, from);
      if (algorithm === 'grpo') {
        const last = decodeCheckpoint(full.result.final_checkpoint!);
        // The reference is the base with the adapters off: nothing to store, and θ = base at the first step.
        expect(last.state.tensors.reference).toBeUndefined();
        const grpo = full.metrics as GrpoMetrics[];
        expect(grpo[0].kl).toBe(0);
        expect(grpo.some((m) => m.kl > 0)).toBe(true);
      }
    },
    300_000,
  );

  it.each(['popo', 'grpo', 'sft'] as const)(
    '%s with LoRA: micro-batches give the whole batch’s adapters',
    async (algorithm) => {
      const c = config(algorithm, { steps: 2, checkpoint_every: 0, grpo: { kl_beta: 0.1 } });
      const whole = decodeCheckpoint((await run(c)).result.final_checkpoint!);
      const split = decodeCheckpoint(
        (await run({ ...c, optimizer: { ...c.optimizer, micro_batch_size: 2 } })).result.final_checkpoint!,
      );
      let moved = 0;
      for (const [name, rec] of whole.lora!) {
        expect(maxAbsDiff(rec, split.lora!.get(name)!), name).toBeLessThan(1e-5);
        if (name.endsWith('lora_B.weight')) moved = Math.max(moved, Math.max(...rec.data.map(Math.abs)));
      }
      expect(moved).toBeGreaterThan(0);
    },
    300_000,
  );

  it('a resume refuses a checkpoint that does not match the run’s lora section', async () => {
    const { checkpoints } = await run(config('sft', { steps: 2 }));
    const { lora: _l, ...plain } = config('sft', { steps: 2 });
    await expect(run(plain as TrainConfig, checkpoints[0])).rejects.toThrow(
      /LoRA adapters but the run has no lora/,
    );
  }, 300_000);

  it('leaves no tensors behind (ξ over the shared base, the adapter-free reference pass)', async () => {
    const before = tf.memory().numTensors;
    await run(config('popo', { steps: 2 }));
    await run(config('grpo', { steps: 2, grpo: { kl_beta: 0.1 } }));
    expect(tf.memory().numTensors).toBe(before);
  }, 300_000);

  it('exports the adapters in PEFT’s format and the policy merged', async () => {
    const { result } = await run(config('sft', { steps: 2 }));
    const dir = mkdtempSync(join(tmpdir(), 'popo-lora-export-'));
    const files = await exportAdapter(result.final_checkpoint!, join(dir, 'adapter'));
    expect(files).toEqual(expect.arrayContaining(['adapter_config.json', 'adapter_model.safetensors']));
    const cfg = JSON.parse(readFileSync(join(dir, 'adapter', 'adapter_config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(cfg).toMatchObject({
      peft_type: 'LORA',
      r: 4,
      lora_alpha: 8,
      base_model_name_or_path: primedDir,
    });
    const tensors = readSafetensors(readFileSync(join(dir, 'adapter', 'adapter_model.safetensors')));
    expect([...tensors.keys()]).toContain('base_model.model.model.layers.1.mlp.down_proj.lora_B.weight');
    await expect(exportAdapter(await fullFineTuneCheckpoint(), join(dir, 'none'))).rejects.toThrow(
      /holds no LoRA adapters/,
    );
  }, 300_000);
});

describe('the base a LoRA checkpoint names', () => {
  /** A LoRA SFT run on a copy of the primed model, checkpointed at step 2 of 4. */
  async function runOnCopy() {
    const dir = mkdtempSync(join(tmpdir(), 'popo-lora-base-'));
    const modelDir = join(dir, 'model');
    cpSync(primedDir, modelDir, { recursive: true });
    const c = config('sft', { model: { path: modelDir } });
    const full = await run(c);
    return { dir, modelDir, c, full, from: full.checkpoints.find((k) => k.step === 2)! };
  }

  it('a base that changed or is gone is refused by resume and merged export, naming it; the adapter still exports', async () => {
    const { dir, modelDir, c, from } = await runOnCopy();
    const weights = join(modelDir, 'model.safetensors');
    const original = readFileSync(weights);
    // One bit of the last weight: the same shapes and sizes, another model.
    const changed = Buffer.from(original);
    changed[changed.length - 1] ^= 1;
    writeFileSync(weights, changed);
    const isChanged = (e: unknown) =>
      e instanceof BaseModelError &&
      e.problem === 'changed' &&
      e.message.includes(modelDir) &&
      e.message.includes('model.safetensors differs');
    await expect(run(c, from).catch((e: unknown) => isChanged(e))).resolves.toBe(true);
    await expect(exportPolicy(from, join(dir, 'merged')).catch((e: unknown) => isChanged(e))).resolves.toBe(
      true,
    );
    expect(await exportAdapter(from, join(dir, 'adapter'))).toContain('adapter_model.safetensors');
    // Put back as it was (a new inode and times): accepted again.
    rmSync(weights);
    writeFileSync(weights, original);
    expect(await exportPolicy(from, join(dir, 'merged'))).toContain('model.safetensors');
    rmSync(modelDir, { recursive: true });
    await expect(run(c, from)).rejects.toThrow(
      new RegExp(`its base, the model at ${modelDir}, is missing or unreadable`),
    );
    await expect(exportPolicy(from, join(dir, 'merged2'))).rejects.toSatisfy(
      (e) => e instanceof BaseModelError && e.problem === 'missing',
    );
    rmSync(dir, { recursive: true, force: true });
  }, 300_000);

  it('a checkpoint that stores its base (the format before bases were named) resumes and exports as before', async () => {
    const { dir, modelDir, c, full, from } = await runOnCopy();
    // The old format: the base as `policy/*` beside `lora/*`, no `base` in the metadata.
    const slim = decodeCheckpoint(from);
    const model = await loadPretrained(modelDir);
    const base = await model.stateDict();
    model.dispose();
    const old = encodeCheckpoint({ ...slim, base: undefined, policy: base });
    expect(decodeCheckpoint(old).base).toBeUndefined();
    const resumed = await run(c, old);
    expect(resumed.metrics.map(comparable)).toEqual(full.metrics.slice(2).map(comparable));
    const last = decodeCheckpoint(resumed.result.final_checkpoint!);
    const expected = decodeCheckpoint(full.result.final_checkpoint!);
    for (const [name, rec] of expected.lora!) expect(same(rec, last.lora!.get(name)!), name).toBe(true);
    // Its run cannot know the stored base is the directory's, so it goes on storing it.
    for (const [name, rec] of base) expect(same(rec, last.policy!.get(name)!), name).toBe(true);
    expect(last.base).toBeUndefined();
    // Self-contained: exports need no directory.
    rmSync(modelDir, { recursive: true });
    expect(await exportPolicy(old, join(dir, 'merged'))).toContain('model.safetensors');
    rmSync(dir, { recursive: true, force: true });
  }, 300_000);

  it('a built-in base is rebuilt from its seed; another init is refused', async () => {
    const c = config('sft', { model: { builtin: 'tiny-86k' }, data: { train: ONES, reward: 'exact' } });
    const full = await run(c);
    const from = full.checkpoints.find((k) => k.step === 2)!;
    const slim = decodeCheckpoint(from);
    expect(slim.policy).toBeUndefined();
    expect(slim.base).toMatchObject({ builtin: 'tiny-86k', seed: 7 });
    await expectExactResume(c, full, from);
    const other = encodeCheckpoint({ ...slim, base: { ...slim.base!, seed: 8 } as typeof slim.base });
    await expect(run(c, other)).rejects.toThrow(
      /its base, the built-in model tiny-86k \(seed 8\), is initialised differently by this version of popo/,
    );
  }, 300_000);

  it('a run started from a LoRA checkpoint stores its base: the merged policy has no source to name', async () => {
    const { result } = await run(config('sft', { steps: 1, checkpoint_every: 0 }));
    const next = await train(
      config('sft', { steps: 1, checkpoint_every: 0 }),
      {},
      {
        baseCheckpoint: result.final_checkpoint!,
      },
    );
    const c = decodeCheckpoint(next.final_checkpoint!);
    expect(c.base).toBeUndefined();
    expect(c.policy!.size).toBeGreaterThan(0);
    expect(c.lora!.size).toBeGreaterThan(0);
  }, 300_000);
});

async function fullFineTuneCheckpoint(): Promise<CheckpointBlob> {
  const { lora: _l, ...plain } = config('sft', { steps: 1 });
  return (await run(plain as TrainConfig)).result.final_checkpoint!;
}
