// `npm run build`: a clean dist/ holding only the product (src/ and migrations/, as tsconfig.build.json says),
// compiled by tsc. With --if-stale it builds only when a source is newer than the last build: `npm start`,
// `npm run openapi` and the test run (vitest's globalSetup) use that, so tests spawn exactly what users run.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { buildSdk } from '../client/sdk/build.mjs';

const root = new URL('..', import.meta.url).pathname;
const STAMP = join(root, 'dist', '.built');
const LOCK = join(root, '.build.lock');
const INPUTS = [
  'src',
  'migrations',
  'client/sdk',
  'client/dashboard',
  'package.json',
  'tsconfig.json',
  'tsconfig.build.json',
];

function newestInput() {
  let newest = 0;
  for (const input of INPUTS) {
    const path = join(root, input);
    if (!existsSync(path)) continue;
    const files = statSync(path).isDirectory()
      ? readdirSync(path, { recursive: true }).map((f) => join(path, f))
      : [path];
    // Tests are not compiled (tsconfig.build.json), so editing one does not call for a build; the SDK's dist/ is an
    // output.
    for (const f of files)
      if (!f.endsWith('.test.ts') && !f.includes('client/sdk/dist'))
        newest = Math.max(newest, statSync(f).mtimeMs);
  }
  return newest;
}

export function isStale() {
  return (
    !existsSync(STAMP) ||
    !existsSync(join(root, 'client/sdk/dist/index.js')) ||
    statSync(STAMP).mtimeMs < newestInput()
  );
}

export function build() {
  rmSync(join(root, 'dist'), { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`tsc -p tsconfig.build.json failed (exit ${r.status})`);
  // The web dashboard the API serves at / (client/dashboard/vite.config.ts writes dist/dashboard).
  const vite = join(dirname(createRequire(import.meta.url).resolve('vite/package.json')), 'bin', 'vite.js');
  const v = spawnSync(process.execPath, [vite, 'build', '--config', 'client/dashboard/vite.config.ts'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (v.status !== 0) throw new Error(`vite build of client/dashboard failed (exit ${v.status})`);
  // The SDK as the package `npm install ./client/sdk` gets (client/sdk/dist: ESM + .d.ts).
  buildSdk();
  writeFileSync(STAMP, new Date().toISOString() + '\n');
}

/**
 * Two test runs in one checkout must not build at once (one would delete dist/ under the other's children): the
 * first takes the lock and builds, the others wait for it and then find dist/ fresh. A lock older than 10 minutes
 * is left over from a killed build.
 */
export function buildIfStale() {
  for (;;) {
    if (!isStale()) return false;
    let fd;
    try {
      fd = openSync(LOCK, 'wx');
    } catch {
      if (existsSync(LOCK) && Date.now() - statSync(LOCK).mtimeMs > 600_000) rmSync(LOCK, { force: true });
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
      continue;
    }
    try {
      if (!isStale()) return false;
      build();
      return true;
    } finally {
      closeSync(fd);
      rmSync(LOCK, { force: true });
    }
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop())) {
  try {
    if (process.argv.includes('--if-stale')) buildIfStale();
    else build();
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
