import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/dist.js';
import { runCommand, startTestService, type TestService } from '../helpers/service.js';

/**
 * The SDK as a package: `npm pack` of client/sdk (built by test/global-setup through scripts/build.mjs), unpacked
 * into a scratch project's node_modules as `npm install` would put it, its dependencies linked from the repo's
 * node_modules (no network). A TypeScript consumer type-checks against the published .d.ts, and the CI example
 * (examples/ci/gate.mjs) runs from that project against the real service.
 */

const SDK = join(REPO_ROOT, 'client/sdk');
let project: string;
let files: string[];
let svc: TestService;

beforeAll(async () => {
  project = mkdtempSync(join(tmpdir(), 'popo-sdk-consumer-'));
  const [packed] = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', project], {
      cwd: SDK,
      encoding: 'utf8',
    }),
  ) as { filename: string; files: { path: string }[] }[];
  files = packed.files.map((f) => f.path).sort();
  const installed = join(project, 'node_modules/@popo/sdk');
  mkdirSync(installed, { recursive: true });
  await tar.x({ file: join(project, packed.filename), cwd: installed, strip: 1 });
  const sdkPkg = JSON.parse(readFileSync(join(SDK, 'package.json'), 'utf8'));
  const example = JSON.parse(readFileSync(join(REPO_ROOT, 'examples/ci/package.json'), 'utf8'));
  for (const dep of [...Object.keys(sdkPkg.dependencies), ...Object.keys(example.dependencies)]) {
    if (dep === '@popo/sdk') continue;
    symlinkSync(join(REPO_ROOT, 'node_modules', dep), join(project, 'node_modules', dep), 'dir');
  }
  for (const f of ['gate.mjs', 'run.yaml']) copyFileSync(join(REPO_ROOT, 'examples/ci', f), join(project, f));
  svc = await startTestService('sdkpkg');
});

afterAll(async () => {
  await svc?.stop();
  if (project) rmSync(project, { recursive: true, force: true });
});

describe('the @popo/sdk package', () => {
  it('ships ESM and .d.ts (with the generated schema) and nothing else', () => {
    expect(files).toContain('dist/index.js');
    expect(files).toContain('dist/index.d.ts');
    expect(files).toContain('dist/generated/schema.d.ts');
    expect(files).toContain('package.json');
    expect(files).toContain('README.md');
    expect(files.filter((f) => !f.startsWith('dist/') && !['package.json', 'README.md'].includes(f))).toEqual(
      [],
    );
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
  });

  it('type-checks a consumer against the published types', () => {
    writeFileSync(
      join(project, 'consumer.ts'),
      [
        "import { createPopoClient, parseGate, type Job, type CreateJobRequest, PopoApiError } from '@popo/sdk';",
        "const popo = createPopoClient({ baseUrl: 'http://localhost:3000', token: 'k' });",
        "const body: CreateJobRequest = { algorithm: 'popo', model: { builtin: 'tiny-1m' }, steps: 3 };",
        'export async function run(): Promise<Job> {',
        '  const job = await popo.createJob(body, { idempotencyKey: "x" });',
        '  for await (const p of popo.streamMetrics(job.id)) p.step.toFixed();',
        '  parseGate("pass_rate=0.5").min.toFixed();',
        '  return popo.waitForJob(job.id, { timeoutMs: 1000 });',
        '}',
        'export const isApiError = (e: unknown) => e instanceof PopoApiError && e.code.length > 0;',
        // A wrong field must not type-check: the types are real, not `any`.
        '// @ts-expect-error steps is a number',
        "export const bad: CreateJobRequest = { algorithm: 'popo', model: { builtin: 'tiny-1m' }, steps: 'x' };",
      ].join('\n'),
    );
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2023',
          strict: true,
          noEmit: true,
          types: ['node'],
          typeRoots: [join(REPO_ROOT, 'node_modules/@types')],
        },
        files: ['consumer.ts'],
      }),
    );
    writeFileSync(join(project, 'package.json'), JSON.stringify({ type: 'module', private: true }));
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    execFileSync(process.execPath, [tsc, '-p', join(project, 'tsconfig.json')], { encoding: 'utf8' });
  });

  it('examples/ci/gate.mjs passes a bar the job clears (exit 0) and fails one it cannot (exit 4)', async () => {
    const env = { POPO_URL: svc.api.baseUrl, POPO_API_KEY: svc.token, GITHUB_RUN_ID: '' };
    const gate = (...args: string[]) =>
      runCommand(['gate.mjs', 'run.yaml', ...args], { command: process.execPath, cwd: project, env });

    const pass = await gate('--fail-below', 'pass_rate=0', '--timeout', '300000');
    expect(pass.code, pass.stdout + pass.stderr).toBe(0);
    expect(pass.stdout).toMatch(/^step 4: pass_rate /m);
    expect(pass.stdout).toMatch(/^gate pass_rate >= 0: [\d.]+ → pass$/m);
    expect(pass.stdout).toMatch(/^status: succeeded$/m);

    const fail = await gate('--fail-below', 'eval_after.avg_at_k=1.01');
    expect(fail.code, fail.stdout + fail.stderr).toBe(4);
    expect(fail.stdout).toMatch(/^gate eval_after\.avg_at_k >= 1\.01: [\d.]+ → FAIL$/m);

    const refused = await gate('--fail-below', 'pass_rate=high');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('expected <metric>=<number>');
  });
});
