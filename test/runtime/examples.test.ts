import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST_CLI } from '../helpers/dist.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import {
  dropRedisPrefix,
  type RuntimeApi,
  spawnWorker,
  startRuntimeApi,
  TEST_REDIS_URL,
  type WorkerProcess,
} from './helpers/runtime.js';

/**
 * Every file in examples/ is one run document that works both ways: `popo train -c <file>` in-process, and
 * `popo jobs submit -c <file>` against the real service (API here, a real worker process, Postgres, Redis), which
 * uploads a local data.train_file as a dataset. Both runs are cut short with the same `--set` overrides.
 */

const root = join(import.meta.dirname, '../..');
const EXAMPLES = readdirSync(join(root, 'examples'))
  .filter((f) => /\.(ya?ml|json)$/.test(f))
  .sort();
const SHORT = [
  'steps=2',
  'checkpoint_every=0',
  'eval_every=0',
  'eval.n=1',
  'eval.k=1',
  'eval.max_examples=2',
  'sampling.group_size=2',
  'sampling.prompts_per_step=2',
  'sampling.max_new_tokens=8',
  'sft.batch_size=4',
  'backend=cpu',
];
const sets = (extra: string[] = []) => [...SHORT, ...extra].flatMap((s) => ['--set', s]);

let db: TestDatabase;
let api: RuntimeApi;
let worker: WorkerProcess;
let token: string;
let dir: string;
const prefix = `popo-test-examples-${randomBytes(4).toString('hex')}`;

function popo(args: string[]) {
  const child = spawn(process.execPath, [DIST_CLI, ...args], {
    cwd: root,
    env: { ...process.env, POPO_URL: api.baseUrl, POPO_API_KEY: token, POPO_BACKEND: 'cpu', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('close', (code) => resolve({ code, stdout, stderr })),
  );
}

async function submit(file: string, extra: string[] = []): Promise<string> {
  const r = await popo(['jobs', 'submit', '-c', join('examples', file), ...sets(extra), '--wait', '--quiet']);
  expect(r.code, `${file}: ${r.stderr}`).toBe(0);
  const [id, outcome] = r.stdout.trim().split('\n');
  expect(outcome).toBe(`${id} succeeded step 2/2`);
  return id;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'popo-examples-'));
  db = await createTestDatabase();
  api = await startRuntimeApi({ db, prefix });
  token = (await api.createProject('examples')).token;
  worker = spawnWorker({
    DATABASE_URL: db.url,
    REDIS_URL: TEST_REDIS_URL,
    POPO_REDIS_PREFIX: prefix,
    POPO_WORKER_ID: 'examples-worker-1',
    POPO_WORKER_DEVICES: 'cpu',
  });
  await worker.ready;
});

afterAll(async () => {
  const code = await worker?.stop('SIGTERM');
  if (code !== 0 && code !== null) console.log(worker.output());
  await api?.close();
  await db?.drop();
  await dropRedisPrefix(prefix);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('examples/ run both ways', () => {
  it('there is a demo pair and a dataset example', () => {
    expect(EXAMPLES).toEqual(expect.arrayContaining(['demo-sft.yaml', 'demo-popo.yaml', 'math-popo.yaml']));
  });

  it.each(EXAMPLES)(
    '%s: popo train, then popo jobs submit to the service',
    async (file) => {
      const out = join(dir, file);
      const local = await popo(['train', '-c', join('examples', file), ...sets(), '-o', out, '--quiet']);
      expect(local.code, `${file}: ${local.stderr}`).toBe(0);
      expect(local.stdout).toMatch(/completed after 2 steps/);
      expect(existsSync(join(out, 'final', 'config.json'))).toBe(true);

      const id = await submit(file);
      const [row] = await db.query<{
        kind: string;
        config: Record<string, unknown>;
        dataset_id: string | null;
      }>('SELECT kind, config, dataset_id FROM jobs WHERE id = $1', [id]);
      expect(row.config).toMatchObject({ steps: 2 });
      // A local data file went up as a dataset; the job references it.
      if (file === 'math-popo.yaml') expect(row.dataset_id).not.toBeNull();
    },
    600_000,
  );

  it('the demo chain through the service: the POPO stage starts from the SFT job`s checkpoint', async () => {
    const sft = await submit('demo-sft.yaml');
    const popoJob = await submit('demo-popo.yaml', [`from_checkpoint.job_id=${sft}`]);
    const [row] = await db.query<{ parent_job_id: string; model_builtin: string }>(
      'SELECT parent_job_id, model_builtin FROM jobs WHERE id = $1',
      [popoJob],
    );
    expect(row).toEqual({ parent_job_id: sft, model_builtin: 'tiny-86k' });
  }, 600_000);
});
