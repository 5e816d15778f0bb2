// `npm run build` of the SDK package (also run by the repo's scripts/build.mjs): tsc → dist/*.js + *.d.ts. The
// generated schema is a .d.ts, which tsc does not emit, so it is copied beside the declarations that import it.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export function buildSdk() {
  const dist = join(here, 'dist');
  rmSync(dist, { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(here, 'tsconfig.json')], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`tsc -p client/sdk/tsconfig.json failed (exit ${r.status})`);
  mkdirSync(join(dist, 'generated'), { recursive: true });
  copyFileSync(join(here, 'generated', 'schema.d.ts'), join(dist, 'generated', 'schema.d.ts'));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    buildSdk();
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
