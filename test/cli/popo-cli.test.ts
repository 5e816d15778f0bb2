import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readSafetensorsHeader } from '../../src/learner/model/safetensors.js';
import { writeTinyModelDir } from '../../src/learner/trainer/tiny-model-dir.js';
import { DIST_CLI } from '../helpers/dist.js';

const root = join(import.meta.dirname, '../..');
let dir: string;
let cfg: string;

/** The real command, as a user runs it after `npm run build`. */
function popo(...args: string[]) {
  const r = spawnSync(process.execPath, [DIST_CLI, ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, POPO_BACKEND: 'cpu' },
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const lines = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, number>);
const timeless = ({ step_seconds: _a, tokens_per_second: _b, ...m }: Record<string, number>) => m;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'popo-cli-'));
  const model = await writeTinyModelDir(join(dir, 'base'));
  cfg = join(dir, 'run.yaml');
  writeFileSync(
    cfg,
    [
      'algorithm: popo',
      'seed: 3',
      'steps: 4',
      `model: { path: ${model} }`,
      'data: { task: { name: add, difficulty: 1, n_train: 40, n_test: 6 } }',
      'sampling: { group_size: 4, prompts_per_step: 2, max_new_tokens: 3 }',
      'optimizer: { lr: 0.01 }',
      'checkpoint_every: 2',
      'eval: { n: 1, k: 1, temperature: 0, max_examples: 6 }',
      '',
    ].join('\n'),
  );
});

describe('popo CLI', () => {
  it('train writes a complete run folder and prints the held-out pass rate before and after', () => {
    const out = join(dir, 'run');
    const r = popo('train', '-c', cfg, '-o', out, '--quiet');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/completed after 4 steps on cpu/);
    expect(r.stdout).toMatch(/before held-out avg@1: [\d.]+%/);
    expect(r.stdout).toMatch(/after {2}held-out avg@1: [\d.]+%/);
    expect(lines(join(out, 'metrics.jsonl')).map((m) => m.step)).toEqual([1, 2, 3, 4]);
    expect(lines(join(out, 'eval.jsonl')).map((m) => m.step)).toEqual([0, 4]);
    expect(readdirSync(join(out, 'checkpoints')).sort()).toEqual([
      'step-000002.safetensors',
      'step-000002.safetensors.sha256',
      'step-000004.safetensors',
      'step-000004.safetensors.sha256',
    ]);
    for (const f of [
      'config.json',
      'curve.html',
      'curve.png',
      'final/config.json',
      'final/model.safetensors',
    ]) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    expect(readFileSync(join(out, 'curve.html'), 'utf8')).toContain('<svg');
  });

  it('train with --set lora.rank writes the merged model to final/ and the PEFT adapter to final-adapter/', () => {
    const out = join(dir, 'run-lora');
    const r = popo('train', '-c', cfg, '-o', out, '--quiet', '--set', 'steps=2', '--set', 'lora.rank=2');
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(join(out, 'final')).sort()).toEqual([
      'config.json',
      'model.safetensors',
      'tokenizer_config.json',
    ]);
    expect(readdirSync(join(out, 'final-adapter')).sort()).toEqual([
      'adapter_config.json',
      'adapter_model.safetensors',
      'tokenizer_config.json',
    ]);
    const adapter = JSON.parse(
      readFileSync(join(out, 'final-adapter', 'adapter_config.json'), 'utf8'),
    ) as object;
    expect(adapter).toMatchObject({ peft_type: 'LORA', r: 2, target_modules: ['q_proj', 'v_proj'] });
  });

  it('--resume of a LoRA run rebuilds θ from the base the checkpoint names; a changed base is refused', () => {
    const base = join(dir, 'lora-base');
    cpSync(join(dir, 'base'), base, { recursive: true });
    const out = join(dir, 'run-lora-resume');
    const args = ['-c', cfg, '-o', out, '--quiet', '--set', 'lora.rank=2', '--set', `model.path=${base}`];
    expect(popo('train', ...args).code).toBe(0);
    const before = lines(join(out, 'metrics.jsonl'));
    const ckpt = join(out, 'checkpoints/step-000002.safetensors');
    // No base weights in it: the adapters, ξ's, the predictor and their moments.
    const groups = new Set(
      [...readSafetensorsHeader(readFileSync(ckpt)).entries.keys()].map((k) => k.split('/')[0]),
    );
    expect([...groups].sort()).toEqual(['lora', 'optimizer', 'predictor', 'siamese']);
    const r = popo('train', ...args, '--resume', ckpt);
    expect(r.code, r.stderr).toBe(0);
    expect(lines(join(out, 'metrics.jsonl')).map(timeless)).toEqual(before.map(timeless));
    writeFileSync(join(base, 'config.json'), readFileSync(join(base, 'config.json'), 'utf8') + '\n');
    const refused = popo('train', ...args, '--resume', ckpt);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(
      `cannot resume: checkpoint step 2: its base, the model at ${base}, has changed`,
    );
    expect(refused.stderr).toContain('config.json differs');
  });

  it('--resume continues from a checkpoint: each step once, the same numbers as the uninterrupted run', () => {
    const out = join(dir, 'run');
    const before = lines(join(out, 'metrics.jsonl'));
    const r = popo(
      'train',
      '-c',
      cfg,
      '-o',
      out,
      '--quiet',
      '--resume',
      join(out, 'checkpoints/step-000002.safetensors'),
    );
    expect(r.code, r.stderr).toBe(0);
    const after = lines(join(out, 'metrics.jsonl'));
    expect(after.map((m) => m.step)).toEqual([1, 2, 3, 4]);
    expect(after.map(timeless)).toEqual(before.map(timeless));
  });

  it('refuses a checkpoint whose bytes do not match the sha256 written beside it', () => {
    const out = join(dir, 'run');
    const ckpt = join(out, 'checkpoints/step-000002.safetensors');
    writeFileSync(ckpt + '.sha256', '0'.repeat(64) + '  step-000002.safetensors\n');
    const r = popo('train', '-c', cfg, '-o', join(dir, 'resumed'), '--quiet', '--resume', ckpt);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot resume: .*sha256/);
  });

  it('refuses a run that cannot fit the backend memory, naming what to change, and exits 2 before training', () => {
    const r = popo(
      'train',
      '-c',
      cfg,
      '-o',
      join(dir, 'huge'),
      '--set',
      'sampling.group_size=1024',
      '--set',
      'sampling.prompts_per_step=4096',
    );
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(
      /optimizer\.micro_batch_size: the run needs about .* GiB at its peak \(training\), more than .*set optimizer\.micro_batch_size to at most \d+/,
    );
    expect(existsSync(join(dir, 'huge', 'metrics.jsonl'))).toBe(false);
  });

  it('names every bad hyperparameter and exits 2 before training', () => {
    const r = popo(
      'train',
      '-c',
      cfg,
      '-o',
      join(dir, 'bad'),
      '--set',
      'popo.tau=2',
      '--set',
      'sampling.group_size=1',
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('popo.tau: must be a number > 0 and < 1');
    expect(r.stderr).toContain('sampling.group_size: must be an integer >= 2 and <= 1024');
    expect(existsSync(join(dir, 'bad', 'metrics.jsonl'))).toBe(false);
  });

  it('eval scores a model on a JSONL file with pass@k and avg@k', () => {
    const data = join(dir, 'test.jsonl');
    writeFileSync(
      data,
      ['1+1=', '2+3=', '4+4=']
        .map((p, i) => JSON.stringify({ problem: p, answer: String(eval(p.slice(0, -1))), id: i }))
        .join('\n'),
    );
    const r = popo(
      'eval',
      '--model',
      join(dir, 'run', 'final'),
      '--data',
      data,
      '-n',
      '4',
      '-k',
      '2',
      '-t',
      '1',
      '--max-new-tokens',
      '3',
    );
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(res).toMatchObject({ examples: 3, n: 4, k: 2 });
    expect(res['pass@2']).toBeGreaterThanOrEqual(res['avg@2']);
    // A task split smaller than the default 500 is evaluated whole (add at difficulty 1 has 20 test problems).
    const task = popo(
      'eval',
      '--model',
      join(dir, 'run', 'final'),
      '--task',
      'add:1',
      '--max-new-tokens',
      '3',
    );
    expect(task.code, task.stderr).toBe(0);
    expect(JSON.parse(task.stdout.trim().split('\n').at(-1)!)).toMatchObject({ examples: 20, n: 1, k: 1 });
    const unknown = popo('eval', '--model', join(dir, 'run', 'final'), '--task', 'calculus:1');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown task "calculus"');
    // A model that is not there: the flag and the reason, exit 2 (was an uncaught stack trace, exit 7).
    const noBuiltin = popo('eval', '--builtin', 'nope', '--data', data);
    expect(noBuiltin.code, noBuiltin.stderr).toBe(2);
    expect(noBuiltin.stderr).toContain('--builtin: unknown built-in model "nope"');
    expect(noBuiltin.stderr).not.toContain('    at ');
    const noDir = popo('eval', '--model', join(dir, 'nowhere'), '--data', data);
    expect(noDir.code, noDir.stderr).toBe(2);
    expect(noDir.stderr).toMatch(/^--model: .*nowhere is not a model directory/m);
    const bad = popo('eval', '--model', join(dir, 'run', 'final'), '--data', data, '-n', '1', '-k', '2');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--k (2) must be <= --n (1)');
    // A prompt with no room for the new tokens in the model's 1024 positions: refused by default, naming the
    // field and the count; truncate_left scores it (issue 9: this was an uncaught stack trace, exit 7).
    const long = join(dir, 'long.jsonl');
    writeFileSync(
      long,
      [
        JSON.stringify({ problem: '1+'.repeat(600) + '1=', answer: '601' }),
        '{"problem":"1+1=","answer":"2"}',
      ].join('\n'),
    );
    const refused = popo(
      'eval',
      '--model',
      join(dir, 'run', 'final'),
      '--data',
      long,
      '--max-new-tokens',
      '3',
    );
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /--overlong \(data\.overlong\): 1 of 2 prompts are longer than 1021 tokens/,
    );
    const kept = popo(
      'eval',
      '--model',
      join(dir, 'run', 'final'),
      '--data',
      long,
      '--max-new-tokens',
      '3',
      '--overlong',
      'truncate_left',
    );
    expect(kept.code, kept.stderr).toBe(0);
    expect(JSON.parse(kept.stdout.trim().split('\n').at(-1)!)).toMatchObject({
      examples: 2,
      overlong: { policy: 'truncate_left', count: 1, limit: 1021 },
    });
  });
});
