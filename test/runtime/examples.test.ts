import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { parseRun } from '../../src/learner/trainer/config.js';
import { DATA_SOURCE_KEYS } from '../../src/learner/trainer/run-spec.js';
import { jobRequestSchema } from '../../src/modules/jobs/job-request-schema.js';
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
const ALL = readdirSync(join(root, 'examples'))
  .filter((f) => /\.(ya?ml|json)$/.test(f))
  .sort();
const doc = (file: string) =>
  YAML.parse(readFileSync(join(root, 'examples', file), 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * The authors' runs (popo-qwen-math-*.yaml, grpo-qwen-math-1.5b.yaml) name a local Qwen2.5-Math directory that is
 * not in the repository (1.5B / 7B parameters, downloaded by the user; they do not train on this CPU anyway) and
 * their training sets (GSM8K, DeepScaleR-Preview) are the user's download too. Training them here is impossible, so
 * they are validated instead, with every check a job gets at creation that does not need the model: `popo train
 * --check` (fields, bounds, cross-field rules, the data files through the row mapping and its field names), and the
 * service's own request schema (jobRequestSchema, the same rules behind POST /v1/jobs) with the model and the data
 * as registered ids. A file whose model directory is present runs both ways like the others.
 */
const needsAbsentModel = (file: string) => {
  const path = doc(file).model?.path;
  return typeof path === 'string' && !existsSync(join(root, path));
};
const EXAMPLES = ALL.filter((f) => !needsAbsentModel(f));
const VALIDATE_ONLY = ALL.filter(needsAbsentModel);
const FIXTURES = join(import.meta.dirname, 'fixtures');
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

  it('there are the authors’ runs (validated below: their models are not here)', () => {
    expect(VALIDATE_ONLY).toEqual(
      expect.arrayContaining([
        'popo-qwen-math-1.5b.yaml',
        'popo-qwen-math-7b.yaml',
        'grpo-qwen-math-1.5b.yaml',
      ]),
    );
  });

  it.each(VALIDATE_ONLY)(
    '%s: validated as the service would at creation, without training (its model is not here)',
    async (file) => {
      const d = doc(file);
      // Data files that are not in the repository are stood in for by a few rows of the same shape (GSM8K's
      // question/answer, DeepScaleR's problem/answer/solution), so the document's field mapping is exercised.
      const stand = d.data.problem_field === 'question' ? 'gsm8k-shaped.jsonl' : 'deepscaler-shaped.jsonl';
      const swaps = (['train_file', 'test_file'] as const)
        .filter((k) => typeof d.data[k] === 'string' && !existsSync(join(root, 'examples', d.data[k])))
        .flatMap((k) => ['--set', `data.${k}=${join(FIXTURES, stand)}`]);
      const check = await popo(['train', '--check', '-c', join('examples', file), ...swaps]);
      expect(check.code, `${file}: ${check.stderr}`).toBe(0);
      expect(check.stdout).toMatch(
        new RegExp(`^valid: ${d.algorithm}, ${d.steps} steps, 3 training / \\d+ held-out`),
      );
      expect(check.stdout).toMatch(/is not here: its context and tokenizer were not checked/);
      // The check can fail: a broken copy of the same document is refused, naming the field.
      const broken = await popo([
        'train',
        '--check',
        '-c',
        join('examples', file),
        ...swaps,
        '--set',
        'eval.k=200',
      ]);
      expect(broken.code).toBe(2);
      expect(broken.stderr).toMatch(/eval\.k: must be <= eval\.n \(128\)/);

      // The service's rules for the same run, the local references swapped for ids as `popo jobs submit` does.
      const settings = Object.fromEntries(
        Object.entries(d.data).filter(
          ([k]) => !DATA_SOURCE_KEYS.includes(k) && k !== 'problem_field' && k !== 'answer_field',
        ),
      );
      const id = '00000000-0000-4000-8000-000000000000';
      expect(() =>
        parseRun(jobRequestSchema, { ...d, model: { id }, data: { ...settings, dataset_id: id } }),
      ).not.toThrow();
    },
    120_000,
  );

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
