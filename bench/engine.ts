/**
 * Engine benchmark: training tokens/s (forward + backward + Adam step), prefill and KV-cache decode tokens/s, and
 * raw matMul GFLOP/s, for every TensorFlow.js backend that loads here.
 *
 *   npm run bench:engine -- [--quick] [--json] [--backends=wasm,wasm-stock,cpu] [--configs=S,M] [--cpu-all]
 *
 * --quick: one timed repetition instead of three. The pure-JS cpu backend always gets one repetition and runs
 * config M only with --cpu-all (one M training step takes minutes there). `wasm` is wasm+blas when OpenBLAS loads;
 * `wasm-stock` is the wasm backend with its own kernels (for comparison). --json: one JSON line per
 * (backend, config) on stdout instead of the tables, e.g.
 * {"backend":"wasm+blas","config":"S","train_tok_s":…,"prefill_tok_s":…,"decode_tok_s":…,"load_avg":…}.
 */
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import {
  type BackendInfo,
  type ConcreteBackend,
  formatBackendInfo,
  initBackend,
} from '../src/learner/backend.js';
import { disableBlasKernels } from '../src/learner/kernels/blas-matmul.js';
import { CausalLM } from '../src/learner/model/causal-lm.js';
import { countParameters, type ModelConfig } from '../src/learner/model/config.js';
import { KVCache } from '../src/learner/model/kv-cache.js';
import { AdamW } from '../src/learner/trainer/optimizer.js';
import { Rng } from '../src/learner/util/random.js';

interface BenchConfig {
  label: string;
  model: ModelConfig;
  train: { batch: number; seq: number };
  decode: { batch: number; prompt: number; newTokens: number };
}

const llama = (dims: Partial<ModelConfig>): ModelConfig => ({
  architectures: ['LlamaForCausalLM'],
  hidden_size: 256,
  intermediate_size: 704,
  num_hidden_layers: 4,
  num_attention_heads: 4,
  num_key_value_heads: 4,
  vocab_size: 64,
  max_position_embeddings: 1024,
  tie_word_embeddings: false,
  torch_dtype: 'float32',
  ...dims,
});

const CONFIGS: Record<string, BenchConfig> = {
  S: {
    label: 'S: 4L h256 4H/4KV ff704 V64',
    model: llama({}),
    train: { batch: 16, seq: 128 },
    decode: { batch: 16, prompt: 64, newTokens: 64 },
  },
  M: {
    label: 'M: 8L h512 8H/2KV ff1408 V512',
    model: llama({
      hidden_size: 512,
      intermediate_size: 1408,
      num_hidden_layers: 8,
      num_attention_heads: 8,
      num_key_value_heads: 2,
      vocab_size: 512,
    }),
    // 8 × 256 would exceed the 4 GiB wasm heap (tfjs keeps every activation the backward pass needs).
    train: { batch: 8, seq: 128 },
    decode: { batch: 16, prompt: 128, newTokens: 64 },
  },
};

const args = process.argv.slice(2);
const flag = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const quick = args.includes('--quick');
const json = args.includes('--json');
type BenchBackend = ConcreteBackend | 'wasm-stock';
const backends = (flag('backends') ?? 'tensorflow-gpu,tensorflow,wasm,cpu').split(',') as BenchBackend[];
const configNames = (flag('configs') ?? 'S,M').split(',');
for (const c of configNames)
  if (!CONFIGS[c])
    throw new Error(`--configs: unknown config "${c}" (known: ${Object.keys(CONFIGS).join(', ')})`);

const progress = (msg: string) => process.stderr.write(`  … ${msg}\n`);

/** CPU time of the whole process (all threads) in ms: robust to other load on a shared machine. */
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Medians of `reps` timed runs (wall and process CPU ms) after `warmup` untimed ones. */
async function timeBoth(
  fn: () => void | Promise<void>,
  reps: number,
  warmup = 1,
): Promise<{ wall: number; cpu: number }> {
  for (let i = 0; i < warmup; i++) await fn();
  const walls: number[] = [];
  const cpus: number[] = [];
  for (let i = 0; i < reps; i++) {
    const [t0, c0] = [performance.now(), cpuMs()];
    await fn();
    walls.push(performance.now() - t0);
    cpus.push(cpuMs() - c0);
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { wall: median(walls), cpu: median(cpus) };
}

const timeIt = async (fn: () => void | Promise<void>, reps: number, warmup = 1) =>
  (await timeBoth(fn, reps, warmup)).wall;

async function matmulGflops(n: number, reps: number): Promise<number> {
  const [a, b] = [tf.randomNormal([n, n]), tf.randomNormal([n, n])];
  // Read outside tf.tidy (tidy scans a returned typed array element by element), asynchronously: webgpu in Node
  // has no synchronous read.
  const ms = await timeIt(async () => {
    const c = tf.matMul(a, b);
    await c.data();
    c.dispose();
  }, reps);
  tf.dispose([a, b]);
  return (2 * n ** 3) / (ms * 1e6);
}

function randomIds(rng: Rng, rows: number, cols: number, vocab: number): tf.Tensor2D {
  return tf.tensor2d(
    Array.from({ length: rows }, () => Array.from({ length: cols }, () => rng.int(vocab))),
    [rows, cols],
    'int32',
  );
}

async function trainTokensPerSec(
  model: CausalLM,
  cfg: BenchConfig,
  reps: number,
  rng: Rng,
  tag: string,
  warmup: number,
): Promise<{ wall: number; cpu: number }> {
  const { batch, seq } = cfg.train;
  const V = cfg.model.vocab_size;
  const ids = randomIds(rng, batch, seq, V);
  const targets = tf.oneHot(tf.slice(ids, [0, 1], [-1, -1]), V);
  // The trainer's own AdamW (fused on wasm), as plain Adam: no clipping, no decay (PyTorch's side: torch.optim.Adam).
  const vars = new Map([...model.weights().values()].map((v) => [v.name, v]));
  const optimizer = new AdamW(vars, {
    lr: 1e-4,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    weight_decay: 0,
    clip_grad_norm: 0,
  } as ConstructorParameters<typeof AdamW>[1]);
  let step = 0;
  const ms = await timeBoth(
    async () => {
      progress(`${tag} train step ${++step}/${reps + warmup}`);
      const { value, grads } = tf.variableGrads(() => {
        const { logits } = model.forward(ids);
        const logp = tf.logSoftmax(tf.slice(logits, [0, 0, 0], [-1, seq - 1, -1]));
        return tf.neg(tf.mean(tf.sum(tf.mul(logp, targets), -1))) as tf.Scalar;
      }, [...vars.values()]);
      await optimizer.apply(new Map(Object.entries(grads)), 1e-4);
      await value.data();
      tf.dispose([value, ...Object.values(grads)]);
    },
    reps,
    warmup,
  );
  tf.dispose([...optimizer.stateTensors().values()]);
  tf.dispose([ids, targets]);
  return { wall: (batch * seq) / (ms.wall / 1000), cpu: (batch * seq) / (ms.cpu / 1000) };
}

async function inference(model: CausalLM, cfg: BenchConfig, reps: number, rng: Rng, tag: string) {
  const { batch, prompt, newTokens } = cfg.decode;
  const V = cfg.model.vocab_size;
  let prefillMs = 0;
  let decodeMs = 0;
  let prefillCpu = 0;
  let decodeCpu = 0;
  const runs = reps + 1;
  for (let r = 0; r < runs; r++) {
    progress(`${tag} prefill+decode run ${r + 1}/${runs}`);
    const cache = new KVCache(model.dims.layers);
    const ids = randomIds(rng, batch, prompt, V);
    let t0 = performance.now();
    let c0 = cpuMs();
    let next = tf.tidy(() =>
      tf.cast(tf.argMax(tf.squeeze(model.forward(ids, { cache, lastOnly: true }).logits, [1]), -1), 'int32'),
    );
    await next.data();
    const pre = performance.now() - t0;
    const preCpu = cpuMs() - c0;
    t0 = performance.now();
    c0 = cpuMs();
    for (let t = 0; t < newTokens; t++) {
      const prev = next;
      next = tf.tidy(() =>
        tf.cast(
          tf.argMax(
            tf.squeeze(model.forward(tf.reshape(prev, [batch, 1]), { cache, lastOnly: true }).logits, [1]),
            -1,
          ),
          'int32',
        ),
      );
      // Sampling reads every step's logits back to the CPU, so the benchmark does too.
      await next.data();
      prev.dispose();
    }
    const dec = performance.now() - t0;
    const decCpu = cpuMs() - c0;
    next.dispose();
    ids.dispose();
    cache.dispose();
    if (r > 0) {
      prefillMs += pre;
      decodeMs += dec;
      prefillCpu += preCpu;
      decodeCpu += decCpu;
    }
  }
  return {
    prefill: (batch * prompt) / (prefillMs / reps / 1000),
    decode: (batch * newTokens) / (decodeMs / reps / 1000),
    prefillCpu: (batch * prompt) / (prefillCpu / reps / 1000),
    decodeCpu: (batch * newTokens) / (decodeCpu / reps / 1000),
  };
}

type Row = Record<string, string>;

function fmt(n: number): string {
  if (!Number.isFinite(n)) return '–';
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1);
}

function printTable(title: string, rows: Row[]): void {
  const cols = Object.keys(rows[0]);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]) =>
    '| ' + cells.map((c, i) => (i === 0 ? c.padEnd(width[i]) : c.padStart(width[i]))).join(' | ') + ' |';
  console.log(`\n${title}\n`);
  console.log(line(cols));
  console.log(
    '|' + width.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|',
  );
  for (const r of rows) console.log(line(cols.map((c) => r[c] ?? '')));
}

async function main(): Promise<void> {
  const load = () =>
    os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
  const log = json ? (msg: string) => process.stderr.write(msg + '\n') : console.log;
  log(
    `# engine bench — ${new Date().toISOString()} — ${os.cpus()[0]?.model ?? 'cpu'} ×${os.cpus().length}, ` +
      `${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}, load avg ${load()}${quick ? ' (--quick)' : ''}`,
  );
  for (const c of configNames) {
    const b = CONFIGS[c];
    log(
      `config ${b.label}: ${(countParameters(b.model) / 1e6).toFixed(2)}M params; train ${b.train.batch}×${b.train.seq}; ` +
        `decode ${b.decode.batch} rows, prompt ${b.decode.prompt}, ${b.decode.newTokens} new tokens`,
    );
  }
  const perf: Row[] = [];
  const mm: Row[] = [];
  const skipped: string[] = [];
  for (const name of backends) {
    let info: BackendInfo;
    try {
      info = await initBackend(name === 'wasm-stock' ? 'wasm' : name);
      if (name === 'wasm-stock') {
        disableBlasKernels();
        info = { ...info, label: 'wasm', blas: { active: false, reason: 'wasm-stock asked for' } };
      }
    } catch (err) {
      skipped.push(`${name}: ${(err as Error).message.split(';')[0]}`);
      continue;
    }
    const label = formatBackendInfo({ ...info, skipped: [] });
    progress(label);
    // The pure-JS cpu backend runs at ~1 GFLOP/s: one timed repetition, and config M only when asked for.
    const slow = name === 'cpu';
    const reps0 = Number(flag('reps'));
    const reps = reps0 > 0 ? reps0 : slow || quick ? 1 : 3;
    if (!json) {
      progress(`${name}: matMul`);
      mm.push({
        backend: label,
        'matMul 512 GFLOP/s': fmt(await matmulGflops(512, quick ? 3 : 10)),
        'matMul 1024 GFLOP/s': fmt(await matmulGflops(1024, quick ? 2 : 5)),
      });
    }
    for (const c of configNames) {
      if (slow && c !== 'S' && !args.includes('--cpu-all')) {
        progress(`cpu: config ${c} skipped (pass --cpu-all to run it)`);
        continue;
      }
      const cfg = CONFIGS[c];
      const rng = new Rng(1);
      const model = CausalLM.create(cfg.model, 1);
      const tag = `${name} ${c}:`;
      const train = await trainTokensPerSec(model, cfg, reps, rng, tag, slow ? 0 : 1);
      const inf = await inference(model, cfg, reps, rng, tag);
      model.dispose();
      if (json) {
        const round1 = (n: number) => Math.round(n * 10) / 10;
        console.log(
          JSON.stringify({
            backend: info.label,
            config: c,
            train_tok_s: round1(train.wall),
            prefill_tok_s: round1(inf.prefill),
            decode_tok_s: round1(inf.decode),
            // Tokens per CPU-second of the whole process (all threads): what one core would give, load aside.
            train_tok_cpu_s: round1(train.cpu),
            prefill_tok_cpu_s: round1(inf.prefillCpu),
            decode_tok_cpu_s: round1(inf.decodeCpu),
            load_avg: Math.round(os.loadavg()[0] * 100) / 100,
          }),
        );
      }
      perf.push({
        backend: label,
        config: c,
        'train tok/s (fwd+bwd+Adam)': fmt(train.wall),
        'prefill tok/s': fmt(inf.prefill),
        'decode tok/s (KV cache)': fmt(inf.decode),
      });
    }
  }
  if (json) {
    for (const s of skipped) log(`skipped ${s}`);
    return;
  }
  if (perf.length) printTable('Model throughput', perf);
  if (mm.length) printTable('Raw matMul', mm);
  for (const s of skipped) console.log(`\nskipped ${s}`);
  console.log(`\nload avg at end: ${load()}`);
}

await main();
