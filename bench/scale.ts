/**
 * Scale benchmark: for Qwen2.5-0.5B- and 1.5B-shaped models with random weights (no download), the estimated
 * peak memory of one POPO step (memory-estimate.ts) against this backend's limit, and where it fits, the measured
 * peak (tf.profile's tensor high-water and the wasm heap's grown size) and the step's time (rollouts + update).
 *
 *   npm run bench:scale -- [--json] [--estimate-only] [--rows=0.5b,1.5b,0.5b-mb1,...] [--new-tokens=256]
 *                          [--group=4] [--prompt=64]
 *
 * Each measured row runs in its own child process: the wasm heap never shrinks, and a heap that overflows
 * breaks its module for good. Progress goes to stderr; the table (or one JSON line per row with --json) to
 * stdout. Rows that do not fit are not run: they show the error a job would get at creation.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../src/learner/backend.js';
import { countParameters, type ModelConfig } from '../src/learner/model/config.js';
import { backendMemoryLimit, WASM_HEAP_BYTES } from '../src/learner/model/memory-plan.js';
import { resolveConfig } from '../src/learner/trainer/config.js';
import {
  estimateRunMemory,
  fmt,
  memoryIssues,
  type MemoryEstimateInput,
} from '../src/learner/trainer/memory-estimate.js';
import { measureRolloutStep } from '../src/learner/trainer/memory-measure.js';
import type { TrainConfig } from '../src/learner/trainer/types.js';

/** The Hugging Face config.json values of Qwen/Qwen2.5-0.5B and Qwen/Qwen2.5-1.5B (weights drawn at random here). */
const QWEN25_05B: ModelConfig = {
  architectures: ['Qwen2ForCausalLM'],
  hidden_size: 896,
  intermediate_size: 4864,
  num_hidden_layers: 24,
  num_attention_heads: 14,
  num_key_value_heads: 2,
  vocab_size: 151936,
  max_position_embeddings: 32768,
  rope_theta: 1000000.0,
  rms_norm_eps: 1e-6,
  tie_word_embeddings: true,
  initializer_range: 0.02,
  bos_token_id: 151643,
  eos_token_id: 151643,
  torch_dtype: 'bfloat16',
};
const QWEN25_15B: ModelConfig = {
  ...QWEN25_05B,
  hidden_size: 1536,
  intermediate_size: 8960,
  num_hidden_layers: 28,
  num_attention_heads: 12,
  num_key_value_heads: 2,
  max_position_embeddings: 131072,
};

interface Row {
  key: string;
  label: string;
  model: ModelConfig;
  algorithm: 'popo' | 'grpo' | 'sft';
  microBatch?: number;
  /** Overrides of the run (shorter completions for a row that shows what fits). */
  newTokens?: number;
  /** LoRA rank (PEFT's default targets q_proj, v_proj); full fine-tuning when absent. */
  lora?: number;
}

/** Qwen shapes cut to a few layers and a 32k vocabulary: small enough to measure on wasm, to check the estimate. */
const cut = (m: ModelConfig, layers: number, vocab: number): ModelConfig => ({
  ...m,
  num_hidden_layers: layers,
  vocab_size: vocab,
  bos_token_id: 1,
  eos_token_id: 2,
});

const ROWS: Row[] = [
  { key: '0.5b', label: 'Qwen2.5-0.5B full', model: QWEN25_05B, algorithm: 'popo' },
  {
    key: '0.5b-mb1',
    label: 'Qwen2.5-0.5B full, micro-batch 1',
    model: QWEN25_05B,
    algorithm: 'popo',
    microBatch: 1,
  },
  { key: '1.5b', label: 'Qwen2.5-1.5B full', model: QWEN25_15B, algorithm: 'popo' },
  {
    key: '1.5b-mb1',
    label: 'Qwen2.5-1.5B full, micro-batch 1',
    model: QWEN25_15B,
    algorithm: 'popo',
    microBatch: 1,
  },
  {
    key: '0.5b-lora-mb1',
    label: 'Qwen2.5-0.5B LoRA r8, micro-batch 1',
    model: QWEN25_05B,
    algorithm: 'popo',
    microBatch: 1,
    lora: 8,
  },
  {
    key: '1.5b-lora-mb1',
    label: 'Qwen2.5-1.5B LoRA r8, micro-batch 1',
    model: QWEN25_15B,
    algorithm: 'popo',
    microBatch: 1,
    lora: 8,
  },
  {
    key: '0.5b-lora-mb1-32',
    label: 'Qwen2.5-0.5B LoRA r8, micro-batch 1, 32 new tokens',
    model: QWEN25_05B,
    algorithm: 'popo',
    microBatch: 1,
    lora: 8,
    newTokens: 32,
  },
  {
    key: '0.5b-2L-32k',
    label: '0.5B shape, 2 layers, vocab 32k',
    model: cut(QWEN25_05B, 2, 32768),
    algorithm: 'popo',
  },
  {
    key: '0.5b-2L-32k-mb1',
    label: '0.5B shape, 2 layers, vocab 32k, micro-batch 1',
    model: cut(QWEN25_05B, 2, 32768),
    algorithm: 'popo',
    microBatch: 1,
  },
  {
    key: '1.5b-1L-32k-mb1',
    label: '1.5B shape, 1 layer, vocab 32k, micro-batch 1',
    model: cut(QWEN25_15B, 1, 32768),
    algorithm: 'popo',
    microBatch: 1,
  },
];

interface Settings {
  group: number;
  newTokens: number;
  prompt: number;
}

interface Measured {
  tensorPeak: number;
  heapBytes?: number;
  generateSeconds: number;
  updateSeconds: number;
  backend: string;
}

interface Result {
  row: string;
  label: string;
  parameters: number;
  estimate: number;
  estimatePhase: string;
  limit?: number;
  error?: { field: string; reason: string }[];
  measured?: Measured;
}

function runConfig(row: Row, s: Settings): TrainConfig {
  return resolveConfig({
    algorithm: row.algorithm,
    seed: 1,
    model: { builtin: 'tiny-86k' }, // unused: the bench builds its own model
    data: { train: [{ id: '1', problem: '1', answer: '1' }] },
    sampling: {
      group_size: s.group,
      prompts_per_step: 1,
      max_new_tokens: row.newTokens ?? s.newTokens,
    },
    optimizer: { lr: 1e-6, ...(row.microBatch ? { micro_batch_size: row.microBatch } : {}) },
    ...(row.lora ? { lora: { rank: row.lora } } : {}),
  });
}

function estimateInput(row: Row, s: Settings): MemoryEstimateInput {
  return { model: row.model, run: runConfig(row, s), promptTokens: s.prompt };
}

/** Child: one POPO step of a random model on wasm, measured. */
async function child(row: Row, s: Settings): Promise<Measured> {
  const info = await initBackend('wasm');
  const t0 = performance.now();
  const m = await measureRolloutStep(row.model, runConfig(row, s), s.prompt, {
    onPhase: (p) => process.stderr.write(`    ${((performance.now() - t0) / 1000).toFixed(0)}s: ${p}…\n`),
  });
  return {
    tensorPeak: m.tensorPeak,
    heapBytes: m.heap,
    generateSeconds: m.generateSeconds,
    updateSeconds: m.updateSeconds,
    backend: info.label,
  };
}

function parseArgs(argv: string[]): {
  json: boolean;
  estimateOnly: boolean;
  rows: Row[];
  s: Settings;
  child?: string;
} {
  const get = (k: string) => argv.find((a) => a.startsWith(`--${k}=`))?.split('=')[1];
  const keys = get('rows')?.split(',');
  return {
    json: argv.includes('--json'),
    estimateOnly: argv.includes('--estimate-only'),
    rows: keys ? ROWS.filter((r) => keys.includes(r.key)) : ROWS,
    s: {
      group: Number(get('group') ?? 4),
      newTokens: Number(get('new-tokens') ?? 256),
      prompt: Number(get('prompt') ?? 64),
    },
    child: get('child'),
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.child) {
    const row = ROWS.find((r) => r.key === args.child)!;
    const m = await child(row, args.s);
    process.stdout.write(JSON.stringify(m) + '\n');
    return;
  }
  const limit = backendMemoryLimit('wasm');
  const results: Result[] = [];
  const started = performance.now();
  for (const [i, row] of args.rows.entries()) {
    const input = estimateInput(row, args.s);
    const e = estimateRunMemory(input, limit.bytes);
    const issues = limit.bytes === undefined ? [] : memoryIssues(input, limit.bytes, limit.source);
    const r: Result = {
      row: row.key,
      label: row.label,
      parameters: countParameters(row.model),
      estimate: e.peak,
      estimatePhase: e.peakPhase,
      limit: limit.bytes,
    };
    const elapsed = ((performance.now() - started) / 1000).toFixed(0);
    process.stderr.write(
      `[${i + 1}/${args.rows.length}] ${row.label}: estimate ${fmt(e.peak)} (${e.peakPhase})` +
        (issues.length ? ' — refused\n' : ` — measuring (${elapsed}s so far)…\n`),
    );
    if (issues.length) r.error = issues;
    else if (args.estimateOnly) r.error = [];
    else {
      const self = fileURLToPath(import.meta.url);
      const out = spawnSync(
        process.execPath,
        [
          '--import',
          './bench/register.mjs',
          self,
          `--child=${row.key}`,
          `--group=${args.s.group}`,
          `--new-tokens=${args.s.newTokens}`,
          `--prompt=${args.s.prompt}`,
        ],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 2 ** 24 },
      );
      const line = out.stdout.trim().split('\n').pop();
      if (out.status === 0 && line) r.measured = JSON.parse(line) as Measured;
      else r.error = [{ field: '-', reason: `the measuring process failed (exit ${out.status})` }];
    }
    results.push(r);
    if (args.json) process.stdout.write(JSON.stringify(r) + '\n');
  }
  if (!args.json) printTable(results, args.s);
  printGpuNeeds(args.json);
}

/**
 * Estimates only: what a GPU worker needs for the full-size shapes, full fine-tuning and with a frozen base (no
 * trainable weights: the floor for an adapter, whose ξ shares the base).
 */
function printGpuNeeds(json: boolean): void {
  const steps = [
    { G: 4, B: 1, N: 256 },
    { G: 8, B: 8, N: 512 },
  ];
  const lines: string[][] = [];
  for (const [name, model] of [
    ['Qwen2.5-0.5B', QWEN25_05B],
    ['Qwen2.5-1.5B', QWEN25_15B],
  ] as const)
    for (const { G, B, N } of steps)
      for (const mb of [undefined, 4, 1]) {
        if (mb === 4 && B === 1) continue;
        const run = resolveConfig({
          algorithm: 'popo',
          model: { builtin: 'tiny-86k' },
          data: { train: [{ id: '1', problem: '1', answer: '1' }] },
          sampling: { group_size: G, prompts_per_step: B, max_new_tokens: N },
          optimizer: { micro_batch_size: mb },
        });
        const full = estimateRunMemory({ model, run, promptTokens: 64 });
        const frozen = estimateRunMemory({
          model,
          run,
          promptTokens: 64,
          trainableParams: 0,
          siameseParams: 0,
          largestTrainableTensor: 0,
        });
        const row = {
          model: name,
          step: `G ${G} × B ${B}, ${N} new`,
          micro_batch: mb ?? 'whole batch',
          resident: full.residentBytes,
          full: full.peak,
          frozen_base: frozen.peak,
        };
        if (json) process.stdout.write(JSON.stringify({ gpu_estimate: row }) + '\n');
        lines.push([
          name,
          row.step,
          String(row.micro_batch),
          fmt(row.resident),
          `${fmt(row.full)} (${full.peakPhase})`,
          fmt(row.frozen_base),
        ]);
      }
  if (json) return;
  process.stdout.write('\nWhat a GPU worker needs (estimates; 64-token prompts):\n');
  const head = ['model', 'step', 'micro-batch', 'resident', 'peak, full', 'peak, frozen base'];
  const rows = [head, ...lines];
  const widths = head.map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const r of rows)
    process.stdout.write('| ' + r.map((x, c) => x.padEnd(widths[c])).join(' | ') + ' |\n');
}

function printTable(results: Result[], s: Settings): void {
  const head = [
    'model',
    'params',
    'estimate',
    'measured tensors',
    'wasm heap',
    'est/heap',
    'generate s',
    'update s',
    'or: refused at creation',
  ];
  const lines = results.map((r) => [
    r.label,
    `${(r.parameters / 1e6).toFixed(0)}M`,
    `${fmt(r.estimate)} (${r.estimatePhase})`,
    r.measured ? fmt(r.measured.tensorPeak) : '',
    r.measured?.heapBytes ? fmt(r.measured.heapBytes) : '',
    r.measured?.heapBytes ? (r.estimate / r.measured.heapBytes).toFixed(2) : '',
    r.measured ? r.measured.generateSeconds.toFixed(1) : '',
    r.measured ? r.measured.updateSeconds.toFixed(1) : '',
    r.error ? r.error.map((e) => `${e.field}: ${e.reason}`).join(' | ') : '',
  ]);
  process.stdout.write(
    `POPO, G=${s.group}, 1 prompt of ${s.prompt} tokens, ${s.newTokens} new tokens; limit ${fmt(WASM_HEAP_BYTES)} (wasm heap)\n`,
  );
  const rows = [head, ...lines];
  const widths = head.map((_, c) => Math.max(...rows.map((r) => (c === 8 ? 0 : r[c].length))));
  for (const r of rows)
    process.stdout.write('| ' + r.map((x, c) => x.padEnd(widths[c])).join(' | ') + ' |\n');
}

await main();
