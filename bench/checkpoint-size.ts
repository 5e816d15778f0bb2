/**
 * Checkpoint sizes: one step of POPO and of SFT, full fine-tuning against LoRA, on the test models (a 32-wide
 * char model, the built-in tiny-1m, the Qwen2-shaped directory with its 151k vocabulary), next to the size of
 * the model's own weights. A LoRA checkpoint names its base instead of holding it, so it should be a small
 * fraction of the model.
 *
 *   node --import ./bench/register.mjs bench/checkpoint-size.ts
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../src/learner/backend.js';
import { countParameters, BUILTIN_MODELS } from '../src/learner/model/config.js';
import { readSafetensorsHeader } from '../src/learner/model/safetensors.js';
import { writeQwenShapedDir } from '../src/learner/data/qwen-model-dir.js';
import { resolveConfig } from '../src/learner/trainer/config.js';
import { ONES } from '../src/learner/trainer/primed-model-dir.js';
import { writeTinyModelDir } from '../src/learner/trainer/tiny-model-dir.js';
import { train } from '../src/learner/trainer/train.js';
import type { ModelSpec } from '../src/learner/trainer/types.js';

const LORA = { rank: 8, alpha: 16, target_modules: ['q_proj', 'v_proj'] };
const MB = (n: number) => (n / 1e6).toFixed(2) + ' MB';

async function checkpointBytes(model: ModelSpec, algorithm: 'popo' | 'sft', lora: boolean) {
  const result = await train(
    resolveConfig({
      algorithm,
      steps: 1,
      backend: 'cpu',
      model,
      data: { train: ONES, reward: 'exact' },
      sampling: { group_size: 2, prompts_per_step: 2, max_new_tokens: 2 },
      sft: { batch_size: 2 },
      optimizer: { micro_batch_size: 1 },
      checkpoint_every: 0,
      eval_every: 0,
      ...(lora ? { lora: LORA } : {}),
    }),
  );
  const bytes = result.final_checkpoint!.bytes;
  const groups = new Set([...readSafetensorsHeader(bytes).entries.keys()].map((k) => k.split('/')[0]));
  return { size: bytes.length, groups: [...groups].sort().join(' ') };
}

await initBackend('cpu');
const dir = mkdtempSync(join(tmpdir(), 'popo-ckpt-size-'));
try {
  const rows: [string, ModelSpec, number][] = [];
  const tiny = await writeTinyModelDir(join(dir, 'tiny'));
  rows.push([
    'tiny char model (32 wide, 2 layers)',
    { path: tiny },
    statSync(join(tiny, 'model.safetensors')).size,
  ]);
  rows.push(['built-in tiny-1m', { builtin: 'tiny-1m' }, 4 * countParameters(BUILTIN_MODELS['tiny-1m'])]);
  const qwen = await writeQwenShapedDir(join(dir, 'qwen'));
  rows.push([
    'Qwen2-shaped test model (151k vocab)',
    { path: qwen },
    statSync(join(qwen, 'model.safetensors')).size,
  ]);
  process.stdout.write('| model | weights | algorithm | full fine-tuning | LoRA r=8 q,v | LoRA groups |\n');
  process.stdout.write('| --- | --- | --- | --- | --- | --- |\n');
  for (const [name, spec, weights] of rows) {
    for (const algorithm of ['popo', 'sft'] as const) {
      const full = await checkpointBytes(spec, algorithm, false);
      const lora = await checkpointBytes(spec, algorithm, true);
      process.stdout.write(
        `| ${name} | ${MB(weights)} | ${algorithm} | ${MB(full.size)} | ${MB(lora.size)} | ${lora.groups} |\n`,
      );
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
