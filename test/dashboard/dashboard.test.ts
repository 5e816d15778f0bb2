import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedCredentialsModule } from '../../src/modules/dashboard/embedded-credentials.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import {
  dropRedisPrefix,
  type RuntimeApi,
  spawnWorker,
  startRuntimeApi,
  TEST_REDIS_URL,
  type WorkerProcess,
} from '../runtime/helpers/runtime.js';
import { REPO_ROOT } from '../helpers/dist.js';
import { browserUnavailable, launchChromium } from './browser.js';

/**
 * The dashboard in a real headless chromium against the real service: the bundle `npm run build` made (the test
 * run's global setup builds dist/ when stale), the API serving it from dist/dashboard, a worker process training tiny jobs on Postgres + Redis. Screenshots land in
 * test/dashboard/artifacts/ (gitignored) for a human to look at.
 */

const ARTIFACTS = join(import.meta.dirname, 'artifacts');
const unavailable = browserUnavailable();
if (unavailable) {
  const reason = `dashboard browser test: ${unavailable}`;
  // CI installs chromium (.ci/run); only when that install failed (POPO_NO_CHROMIUM says why) may it skip.
  if (process.env.CI && !process.env.POPO_NO_CHROMIUM) throw new Error(`${reason} — CI must install it`);
  console.warn(`SKIPPED ${reason}`);
}

const TINY = {
  model: { builtin: 'tiny-1m' },
  data: { task: { name: 'add', difficulty: 2, n_train: 200, n_test: 20 } },
  seed: 1,
  sampling: { group_size: 4, prompts_per_step: 2, max_new_tokens: 4 },
  optimizer: { lr: 0.001 },
  eval: { n: 1, k: 1, temperature: 0, max_examples: 4 },
};

let db: TestDatabase;
let api: RuntimeApi;
let worker: WorkerProcess;
let browser: { context: BrowserContext; dir: string };
let page: Page;
let project: { projectId: string; token: string };
let credsDir: string;
const prefix = `popo-test-dash-${randomBytes(4).toString('hex')}`;

const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
const points = async (chart: string) =>
  Number(await page.locator(`[data-chart="${chart}"]`).getAttribute('data-points', { timeout: 60_000 }));

async function createJob(body: Record<string, unknown>): Promise<string> {
  const res = await api.request('POST', '/v1/jobs', { token: project.token, json: body });
  if (res.status !== 201) throw new Error(`create job: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id as string;
}

describe.skipIf(!!unavailable)('dashboard in headless chromium', () => {
  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    expect(
      existsSync(join(REPO_ROOT, 'dist/dashboard/index.html')),
      'npm run build writes the dashboard',
    ).toBe(true);
    db = await createTestDatabase();
    // Embedded mode's key offer: the module the all-in-one process installs, over a credentials file.
    credsDir = await mkdtemp(join(tmpdir(), 'popo-creds-'));
    api = await startRuntimeApi({
      db,
      prefix,
      imports: [EmbeddedCredentialsModule.forRoot({ file: join(credsDir, 'credentials.json') })],
    });
    project = await api.createProject('dashboard');
    await writeFile(
      join(credsDir, 'credentials.json'),
      JSON.stringify({ api_url: api.baseUrl, project_id: project.projectId, api_key: project.token }),
    );
    worker = spawnWorker({
      DATABASE_URL: db.url,
      REDIS_URL: TEST_REDIS_URL,
      POPO_REDIS_PREFIX: prefix,
      POPO_WORKER_ID: 'dash-worker',
      POPO_WORKER_DEVICES: '2',
    });
    browser = await launchChromium();
    page = await browser.context.newPage();
    page.on('pageerror', (e) => console.log(`page error: ${e.message}`));
    await worker.ready;
  });

  afterEach(async (ctx) => {
    if (!ctx.task.result?.errors?.length || !page) return;
    // What the page and the service looked like when it went wrong.
    await shot(`failed-${ctx.task.name.replace(/\W+/g, '-')}`).catch(() => undefined);
    const jobs = await db.query('SELECT id, name, status, progress_step, error FROM jobs');
    console.log(`jobs at failure: ${JSON.stringify(jobs)}\nworker output:\n${worker.output().slice(-3000)}`);
  });

  afterAll(async () => {
    await browser?.context.close();
    if (browser) await rm(browser.dir, { recursive: true, force: true });
    const code = await worker?.stop('SIGTERM');
    if (code !== 0 && code !== null) console.log(worker.output());
    await api?.close();
    await db?.drop();
    await dropRedisPrefix(prefix);
    if (credsDir) await rm(credsDir, { recursive: true, force: true });
  });

  it('serves the bundle at / without shadowing the API', async () => {
    const index = await fetch(`${api.baseUrl}/`);
    expect(index.status).toBe(200);
    expect(await index.text()).toContain('<div id="app">');
    expect((await api.request('GET', '/v1/health')).status).toBe(200);
    expect((await fetch(`${api.baseUrl}/docs/openapi.json`)).status).toBe(200);
    expect((await api.request('GET', '/v1/jobs')).status).toBe(401);
  });

  it('signs in: a wrong key is refused, the local key is offered on localhost', async () => {
    await page.goto(`${api.baseUrl}/`);
    await page.fill('input[name="api_key"]', 'popo_not-a-real-key');
    await page.click('button[type="submit"]');
    await expect.poll(() => page.locator('.signin .error').textContent()).toMatch(/unauthorized|invalid/i);
    await page.click('[data-test="use-local-key"]');
    await page.waitForSelector('[data-test="jobs-table"]');
    await page.waitForSelector('[data-socket="live"]');
    expect(await page.textContent('header')).toContain('dashboard');
  });

  let liveJob: string;
  let baseline: string;

  it('submits a job from the generated form, showing the API field errors beside the fields', async () => {
    // The baseline (GRPO) to start the form from and to compare with later.
    baseline = await createJob({
      ...TINY,
      algorithm: 'grpo',
      name: 'grpo-baseline',
      steps: 12,
      eval_every: 4,
    });
    await page.goto(`${api.baseUrl}/#/new`);
    await page.waitForSelector('[data-test="submit-form"] [data-field="algorithm"]');
    await page.selectOption('select[name="start-from"]', baseline);
    await expect.poll(() => page.inputValue('input[name="steps"]')).toBe('12');
    await page.selectOption('select[name="algorithm"]', JSON.stringify('popo'));
    await page.fill('input[name="name"]', 'popo-live');
    await page.fill('input[name="steps"]', '400');
    await page.fill('input[name="eval_every"]', '25');
    // A section the started-from config already fills is open; a click would close it again.
    await page.locator('details[data-field="popo"]').evaluate((d) => ((d as HTMLDetailsElement).open = true));
    await page.fill('input[name="popo.tau"]', '1.5');
    await page.click('[data-test="submit"]');
    const fieldError = page.locator('[data-error-for="popo.tau"]');
    await fieldError.waitFor();
    expect(await fieldError.textContent()).toMatch(/< 1|less than|must be/);
    await shot('01-submit-field-error');

    await page.fill('input[name="popo.tau"]', '0.99');
    await page.click('[data-test="submit"]');
    await page.waitForURL(/#\/jobs\/[0-9a-f-]{36}$/);
    liveJob = page.url().split('/').at(-1)!;
    const row = (await api.request('GET', `/v1/jobs/${liveJob}`, { token: project.token })).body;
    expect(row).toMatchObject({
      kind: 'popo',
      name: 'popo-live',
      total_steps: 400,
      model_builtin: 'tiny-1m',
    });
    expect(row.config).toMatchObject({ popo: { tau: 0.99 }, steps: 400 });
  });

  it('charts the steps as they arrive over the socket', async () => {
    const status = page.locator('.toolbar [data-status="running"], .toolbar [data-status="failed"]');
    await status.waitFor({ timeout: 60_000 });
    expect(await page.locator('.toolbar .badge').textContent(), (await page.textContent('.job')) ?? '').toBe(
      'running',
    );
    await expect
      .poll(() => points('train_pass'), { timeout: 90_000, interval: 200 })
      .toBeGreaterThanOrEqual(2);
    const before = await points('train_pass');
    // Nothing reloads the page: more points can only come over socket.io.
    await expect
      .poll(() => points('train_pass'), { timeout: 60_000, interval: 200 })
      .toBeGreaterThan(before + 3);
    for (const chart of ['loss', 'entropy', 'drift', 'reward', 'zero_pos', 'throughput'])
      expect(await points(chart)).toBeGreaterThan(0);
    // The loss chart holds the POPO terms, the drift chart its bound.
    expect(await page.locator('[data-chart="loss"] .u-legend').textContent()).toMatch(/nll.*l_sim.*l_ent/s);
    expect(await page.locator('[data-chart="drift"] .u-legend').textContent()).toContain('drift_bound');
    await page.locator('input[name="smoothing"]').fill('0.6');
    await shot('02-job-live-charts');
  });

  it('opens the completions of a step and follows one prompt across steps', async () => {
    const panel = page.locator('[data-test="completions"]');
    await panel.locator('.group').first().waitFor();
    await page.selectOption('select[name="completions-step"]', '2');
    await expect.poll(() => panel.locator('.group').first().getAttribute('data-step')).toBe('2');
    // Both groups of step 2 (COMPLETION_GROUPS prompts), all G = 4 samples each, as the API stores them.
    const api2 = await api.request('GET', `/v1/jobs/${liveJob}/completions?step=2`, { token: project.token });
    expect(api2.body.items).toHaveLength(8);
    expect(await panel.locator('.group tbody tr').count()).toBe(8);
    const first = api2.body.items[0];
    expect(await panel.locator('.group').first().textContent()).toContain(first.prompt);
    await panel.locator('[data-test="follow-prompt"]').first().click();
    const history = page.locator('[data-test="prompt-history"] tbody tr');
    await history.first().waitFor();
    const steps = await history.evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-step'))));
    expect(steps).toContain(2);
    const byPrompt = await api.request(
      'GET',
      `/v1/jobs/${liveJob}/completions?prompt=${encodeURIComponent(first.prompt)}&limit=1000`,
      { token: project.token },
    );
    expect(byPrompt.body.items.every((x: { prompt: string }) => x.prompt === first.prompt)).toBe(true);
    await panel.screenshot({ path: join(ARTIFACTS, '03-completions.png') });
  });

  it('compares two jobs on one chart', async () => {
    await page.goto(`${api.baseUrl}/#/jobs`);
    await page.check(`tr[data-job="${liveJob}"] input[type="checkbox"]`);
    await page.check(`tr[data-job="${baseline}"] input[type="checkbox"]`);
    await page.click('[data-test="compare-picked"]');
    await page.waitForSelector('[data-chart="compare"]');
    await page.selectOption('select[name="metric"]', 'pass_rate');
    const legend = page.locator('[data-chart="compare"] .u-legend');
    await expect.poll(() => legend.textContent()).toMatch(/popo-live[\s\S]*grpo-baseline/);
    await expect.poll(() => points('compare'), { timeout: 60_000 }).toBeGreaterThan(3);
    expect(await page.locator('[data-test="compare-jobs"] tbody tr').count()).toBe(2);
    await shot('04-compare');
  });

  it('cancels a running job from its page', async () => {
    await page.goto(`${api.baseUrl}/#/jobs/${liveJob}`);
    // The toolbar's badge: the page before (compare) also shows statuses, and may still be on screen.
    await page.waitForSelector('.toolbar [data-status="running"]');
    await page.click('button[data-action="cancel"]');
    await page.waitForSelector('.toolbar [data-status="cancelled"]', { timeout: 60_000 });
    expect(await page.isDisabled('button[data-action="cancel"]')).toBe(true);
    expect(await page.isEnabled('button[data-action="retry"]')).toBe(true);
    const row = (await api.request('GET', `/v1/jobs/${liveJob}`, { token: project.token })).body;
    expect(row.status).toBe('cancelled');
    await page.waitForSelector('[data-test="checkpoints"] tr');
    await shot('05-job-cancelled');
  });

  it('filters the jobs table and shows the workers on the health page', async () => {
    await page.goto(`${api.baseUrl}/#/jobs?status=cancelled`);
    await page.waitForSelector(`tr[data-job="${liveJob}"]`);
    expect(await page.locator('[data-test="jobs-table"] tbody tr').count()).toBe(1);
    await page.goto(`${api.baseUrl}/#/jobs`);
    await page.waitForSelector(`tr[data-job="${baseline}"]`);
    await shot('06-jobs');
    await page.goto(`${api.baseUrl}/#/health`);
    await page.waitForSelector('[data-test="workers"] tbody tr');
    expect(await page.textContent('[data-test="workers"]')).toContain('dash-worker');
    await shot('07-health');
  });
});
