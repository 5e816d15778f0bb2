/**
 * Side-by-side with PyTorch: runs `bench/engine.ts --json` and `bench/engine_torch.py --json` in alternating rounds
 * (so both see the same machine load), then prints a markdown table of medians and our/PyTorch ratios with the load
 * average seen during each run.
 *
 *   node --import ./bench/register.mjs bench/vs-pytorch.ts [--rounds=3] [--configs=S,M] [--backends=wasm]
 *        [--threads=1,2] [--python=/usr/bin/python3] [--rows=saved.jsonl]
 *
 * Each thread count runs on both sides: PyTorch with `torch.set_num_threads(n)`, popo with POPO_BLAS_THREADS=n
 * (rows `wasm+blas-1t`, `wasm+blas-2t`), and each of ours is compared with PyTorch at the same count.
 *
 * Two tables: wall-clock tokens/s, and tokens per CPU-second of the whole process (robust to other load on a
 * shared machine; equal to wall-clock throughput for a single-threaded run on an idle core). --rows re-renders
 * the tables from JSON rows saved from an earlier run instead of running anything.
 */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { engineArgv, jsonRows, repoRoot as root } from './engine-run.js';

const args = process.argv.slice(2);
const flag = (name: string, dflt: string) =>
  args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt;
const rounds = Number(flag('rounds', '3'));
const configs = flag('configs', 'S,M');
const backends = flag('backends', 'wasm');
const threads = flag('threads', '1').split(',');
const python = flag('python', '/usr/bin/python3');

interface Row {
  backend: string;
  config: string;
  train_tok_s: number;
  prefill_tok_s: number;
  decode_tok_s: number;
  train_tok_cpu_s: number;
  prefill_tok_cpu_s: number;
  decode_tok_cpu_s: number;
  load_avg: number;
}

const parseRows = (text: string) => jsonRows<Row>(text);

function runJson(cmd: string, argv: string[], env: NodeJS.ProcessEnv = process.env): Row[] {
  const out = execFileSync(cmd, argv, {
    cwd: root,
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return parseRows(out);
}

const saved = flag('rows', '');
const rows: Row[] = saved ? parseRows(readFileSync(saved, 'utf8')) : [];
const started = saved ? `(rows from ${saved})` : new Date().toISOString();
for (let r = 1; r <= (saved ? 0 : rounds); r++) {
  process.stderr.write(`round ${r}/${rounds}, load avg ${os.loadavg()[0].toFixed(2)}\n`);
  for (const t of threads) {
    const ours = runJson(process.execPath, engineArgv(backends, configs), {
      ...process.env,
      POPO_BLAS_THREADS: t,
    });
    rows.push(...ours.map((r) => ({ ...r, backend: `${r.backend}-${t}t` })));
    rows.push(
      ...runJson(python, [
        'bench/engine_torch.py',
        '--json',
        '--reps',
        '1',
        '--threads',
        t,
        '--configs',
        configs,
      ]),
    );
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (n: number) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1));
const names = [...new Set(rows.map((r) => r.backend))];
const configList = [...new Set(rows.map((r) => r.config))];
// Every round gives one row per (backend, config).
const roundCount = rows.filter((r) => r.backend === rows[0]?.backend && r.config === rows[0]?.config).length;
/** Each row is compared with PyTorch at its own thread count (`…-2t`); rows without one with 1 thread. */
const reference = (backend: string) => `pytorch-${/-(\d+)t$/.exec(backend)?.[1] ?? '1'}t`;
const loads = rows.map((r) => r.load_avg);
console.log(
  `Started ${started}, ${roundCount} interleaved rounds (1 timed repetition each), ${os.cpus().length} cores ` +
    `(${os.cpus()[0]?.model ?? 'cpu'}); 1-minute load average during the runs ${Math.min(...loads).toFixed(1)}–` +
    `${Math.max(...loads).toFixed(1)} (median ${median(loads).toFixed(1)}). Medians over rounds; ratio = ours / ` +
    `PyTorch with the same thread count in the same rounds.`,
);

function table(title: string, metrics: readonly (keyof Row)[]): void {
  console.log(`\n${title}\n`);
  console.log('| backend | config | train | prefill | decode | load avg |');
  console.log('|---|---|---:|---:|---:|---:|');
  for (const c of configList) {
    for (const b of names) {
      const ref = rows.filter((r) => r.backend === reference(b) && r.config === c);
      const mine = rows.filter((r) => r.backend === b && r.config === c);
      if (!mine.length) continue;
      const cells = metrics.map((m) => {
        const v = median(mine.map((r) => Number(r[m])));
        const base = median(ref.map((r) => Number(r[m])));
        const ratio = ref.length && !b.startsWith('pytorch') ? ` (${(v / base).toFixed(2)}×)` : '';
        return `${fmt(v)}${ratio}`;
      });
      const l = mine.map((r) => r.load_avg);
      console.log(
        `| ${b} | ${c} | ${cells.join(' | ')} | ${Math.min(...l).toFixed(1)}–${Math.max(...l).toFixed(1)} |`,
      );
    }
  }
}

table('Tokens per CPU-second (whole process, all threads)', [
  'train_tok_cpu_s',
  'prefill_tok_cpu_s',
  'decode_tok_cpu_s',
]);
table('Wall-clock tokens/s', ['train_tok_s', 'prefill_tok_s', 'decode_tok_s']);
console.log('\nRaw rows:\n');
for (const r of rows) console.log(`    ${JSON.stringify(r)}`);
