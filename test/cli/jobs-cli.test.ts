import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPopoClient, type JobEvent, type PopoClient } from '../../client/sdk/index.js';
import { DIST_CLI, REPO_ROOT } from '../helpers/dist.js';
import { envWithoutPopo, runCommand, startTestService, type TestService } from '../helpers/service.js';
import { waitFor } from '../runtime/helpers/runtime.js';

/**
 * `popo jobs …` as a CI pipeline runs it: the compiled CLI, spawned from another directory, against the real
 * service (API, a worker process, Postgres, Redis). Thresholds are chosen so no assertion depends on how well a
 * 3-step run of a random tiny model learns: a gate of 0 always holds, one above 1 never does.
 */

let svc: TestService;
let client: PopoClient;
let cwd: string;

const RUN = [
  'algorithm: popo',
  'seed: 3',
  'model: { builtin: tiny-1m }',
  'data: { task: { name: add, difficulty: 1, n_train: 20, n_test: 2 } }',
  'steps: 3',
  'checkpoint_every: 0',
  'sampling: { group_size: 4, prompts_per_step: 2, max_new_tokens: 4 }',
  'optimizer: { lr: 0.001 }',
  'eval: { n: 1, k: 1, temperature: 0, max_examples: 2 }',
  '',
].join('\n');

const popo = (args: string[], env: Record<string, string> = {}) =>
  runCommand(args, { cwd, env: { POPO_URL: svc.api.baseUrl, POPO_API_KEY: svc.token, ...env } });

beforeAll(async () => {
  svc = await startTestService('cli');
  client = createPopoClient({ baseUrl: svc.api.baseUrl, token: svc.token });
  cwd = mkdtempSync(join(tmpdir(), 'popo-jobs-cli-'));
  writeFileSync(join(cwd, 'run.yaml'), RUN);
});

afterAll(async () => {
  await svc?.stop();
  if (cwd) rmSync(cwd, { recursive: true, force: true });
});

describe('popo jobs create --wait', () => {
  let id: string;

  it('follows the job to the end, shows its warnings and passes a gate that holds (exit 0, --json)', async () => {
    const run = await popo([
      'jobs',
      'create',
      '-f',
      'run.yaml',
      '--wait',
      '--fail-below',
      'pass_rate=0',
      '--json',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout);
    id = out.job.id;
    expect(out).toMatchObject({
      exit_code: 0,
      job: { status: 'succeeded', progress_step: 3, total_steps: 3 },
      gates: [{ metric: 'pass_rate', min: 0, passed: true }],
      last_metrics: { step: 3 },
    });
    expect(out.gates[0].value).toBe(out.last_metrics.values.pass_rate);
    expect(run.stderr).toMatch(/gate pass_rate >= 0: [\d.]+ → pass/);

    // Every warning the job recorded is reported, once per kind with its count, and shown on stderr.
    const events = (await client.jobs.events(id, { limit: 1000 })) as JobEvent[];
    const warned = events.filter((e) => e.level !== 'info');
    const kinds = [...new Set(warned.map((e) => e.code))];
    expect(kinds.length).toBeGreaterThan(0); // a random tiny model gets nothing right: POPO warns
    expect(out.warnings.map((w: { code: string }) => w.code)).toEqual(kinds);
    expect(out.warnings.reduce((n: number, w: { count: number }) => n + w.count, 0)).toBe(warned.length);
    for (const code of kinds) expect(run.stderr).toContain(`: ${code}`);
  });

  it('a gate that does not hold exits 4; a metric the job never reported fails its gate too', async () => {
    const below = await popo(['jobs', 'wait', id, '--fail-below', 'eval_after.avg_at_k=1.01', '--quiet']);
    expect(below.code, below.stderr).toBe(4);
    expect(below.stdout).toBe(`${id} succeeded step 3/3\n`);
    expect(below.stderr).toMatch(/gate eval_after\.avg_at_k >= 1\.01: [\d.]+ → FAIL/);

    const missing = await popo(['jobs', 'wait', id, '--fail-below', 'no_such_metric=0', '--json']);
    expect(missing.code).toBe(4);
    expect(JSON.parse(missing.stdout).gates).toEqual(
      [{ metric: 'no_such_metric', min: 0, value: undefined, passed: false }].map(({ value: _v, ...g }) => g),
    );
    expect(missing.stderr).toContain('gate no_such_metric >= 0: not reported → FAIL');

    const bad = await popo(['jobs', 'wait', id, '--fail-below', 'pass_rate>half']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('expected <metric>=<number>');
  });

  it('submit -c is the same command; the run document can also come from --config', async () => {
    const run = await popo([
      'jobs',
      'submit',
      '-c',
      'run.yaml',
      '--set',
      'steps=1',
      '--fail-below',
      'pass_rate=0',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const [jobId, outcome] = run.stdout.trim().split('\n');
    expect(outcome).toBe(`${jobId} succeeded step 1/1`);
    const none = await popo(['jobs', 'create', '--wait']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--file <run.yaml>');
  });

  it('pause prints the state the job is in, and a cancelled job makes the waiting create exit 1', async () => {
    const waiting = popo([
      'jobs',
      'create',
      '-f',
      'run.yaml',
      '--set',
      'steps=100000',
      '--wait',
      '--interval',
      '200',
    ]);
    const job = await waitFor(
      async () => {
        const page = await client.jobs.list({ status: 'running', limit: 5 });
        return page.items.find((j) => j.total_steps === 100000 && j.progress_step > 0);
      },
      'the long job to run a step',
      90_000,
    );

    const pause = await popo(['jobs', 'pause', job.id]);
    expect(pause.code, pause.stderr).toBe(0);
    // Running until the worker reaches its next step; paused once it has. Never a bare "running".
    expect(pause.stdout).toMatch(new RegExp(`^${job.id} (running \\(pause requested\\)|paused)\\n$`));

    const cancel = await popo(['jobs', 'cancel', job.id]);
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout).toMatch(new RegExp(`^${job.id} (cancelled|\\w+ \\(cancel requested\\))\\n$`));

    const run = await waiting;
    expect(run.code).toBe(1);
    expect(run.stdout.trim().split('\n').at(-1)).toMatch(
      new RegExp(`^${job.id} cancelled step \\d+/100000$`),
    );
    const again = await popo(['jobs', 'cancel', job.id]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('can be cancelled');
  });
});

describe('popo jobs: connection and output plumbing', () => {
  it('takes URL and key from .popo/credentials.json when neither flag nor environment gives them', async () => {
    const home = mkdtempSync(join(tmpdir(), 'popo-creds-'));
    try {
      mkdirSync(join(home, '.popo'));
      writeFileSync(
        join(home, '.popo', 'credentials.json'),
        JSON.stringify({ api_url: svc.api.baseUrl, project_id: 'p', api_key: svc.token }),
      );
      const ok = await runCommand(['jobs', 'list', '--limit', '1'], { cwd: home });
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout).toMatch(/^[0-9a-f-]{36} /);
      // POPO_API_URL is honoured too; the file's key is never sent to a URL other than its own.
      const elsewhere = await runCommand(['jobs', 'list'], {
        cwd: home,
        env: { POPO_API_URL: 'http://127.0.0.1:9' },
      });
      expect(elsewhere.code).toBe(2);
      expect(elsewhere.stderr).toContain('no API key');
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('a reader that goes away (`popo jobs list | head -1`) ends the command quietly, exit 0', async () => {
    // Something to list, whichever tests ran before.
    const made = await popo(['jobs', 'create', '-f', 'run.yaml', '--set', 'steps=1']);
    expect(made.code, made.stderr).toBe(0);
    const child = spawn(process.execPath, [DIST_CLI, 'jobs', 'list', '--limit', '50'], {
      cwd,
      env: { ...envWithoutPopo(), POPO_URL: svc.api.baseUrl, POPO_API_KEY: svc.token },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Closed before the command has its answer, so every line it writes meets a closed pipe.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise((resolve) => child.once('close', resolve));
    expect(stderr).not.toContain('EPIPE');
    expect(code).toBe(0);
  });

  it('the bin entry is the compiled CLI with a node shebang, and runs from any directory', async () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));
    expect(join(REPO_ROOT, pkg.bin.popo)).toBe(DIST_CLI);
    expect(readFileSync(DIST_CLI, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
    const help = await runCommand(['jobs', 'create', '--help'], { cwd: tmpdir() });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--fail-below');
  });
});
