/**
 * What the second core is best used for on a CPU worker: one learner whose BLAS products use both cores
 * (`POPO_BLAS_THREADS=2`, a worker with one slot), or two learners side by side with one thread each (two slots,
 * each its own job: learnerEnv splits the cores). Runs `bench/engine.ts --json` both ways in alternating rounds
 * and prints the total tokens/s the machine delivers, plus what one job sees.
 *
 *   node --import ./bench/register.mjs bench/second-core.ts [--rounds=2] [--configs=S,M]
 */
import { execFile } from 'node:child_process';
import os from 'node:os';
import { promisify } from 'node:util';
import { engineArgv, jsonRows, repoRoot } from './engine-run.js';

const args = process.argv.slice(2);
const flag = (name: string, dflt: string) =>
  args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt;
const rounds = Number(flag('rounds', '2'));
const configs = flag('configs', 'S,M');
const run = promisify(execFile);

interface Row {
  config: string;
  train_tok_s: number;
  prefill_tok_s: number;
  decode_tok_s: number;
}
const METRICS = ['train_tok_s', 'prefill_tok_s', 'decode_tok_s'] as const;

async function engine(threads: number): Promise<Row[]> {
  const { stdout } = await run(process.execPath, engineArgv('wasm', configs), {
    cwd: repoRoot,
    env: { ...process.env, POPO_BLAS_THREADS: String(threads) },
    maxBuffer: 1 << 24,
  });
  return jsonRows<Row>(stdout);
}

/** Per round: one learner on 2 threads; two side by side — their summed rates, and each one's. */
const results: Record<'one' | 'total' | 'each', Row[][]> = { one: [], total: [], each: [] };
for (let r = 1; r <= rounds; r++) {
  process.stderr.write(
    `round ${r}/${rounds}: one learner, 2 BLAS threads (load ${os.loadavg()[0].toFixed(1)})\n`,
  );
  results.one.push(await engine(2));
  process.stderr.write(`round ${r}/${rounds}: two learners side by side, 1 thread each\n`);
  const [a, b] = await Promise.all([engine(1), engine(1)]);
  // The two processes' phases overlap only roughly (each times its own train, prefill and decode), so the sum
  // of their rates is the machine's throughput while both run.
  results.total.push(a.map((row, i) => ({ ...row, ...sum(row, b[i]) })));
  results.each.push(a, b);
}

function sum(a: Row, b: Row): Partial<Row> {
  return Object.fromEntries(METRICS.map((m) => [m, a[m] + b[m]]));
}
const median = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

console.log(
  `${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'cpu'}), ${rounds} alternating rounds, medians; ` +
    'wasm+blas, tokens/s wall-clock.\n',
);
console.log('| config | setup | train | prefill | decode |');
console.log('|---|---|---:|---:|---:|');
for (const c of configs.split(',')) {
  const pick = (runs: Row[][]) => runs.map((set) => set.find((r) => r.config === c)!);
  const [one, total, each] = [pick(results.one), pick(results.total), pick(results.each)];
  const cells = (rows: Row[]) => METRICS.map((m) => fmt(median(rows.map((r) => r[m])))).join(' | ');
  console.log(`| ${c} | one learner, 2 threads | ${cells(one)} |`);
  console.log(`| ${c} | two learners, 1 thread each: total | ${cells(total)} |`);
  console.log(`| ${c} | two learners: one job's rate | ${cells(each)} |`);
}
