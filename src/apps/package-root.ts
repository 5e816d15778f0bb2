import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The folder holding package.json; found by walking up, since this file runs from src/apps/ and dist/src/apps/. */
export function packageRoot(): string | undefined {
  for (let dir = new URL('.', import.meta.url); dir.pathname !== '/'; dir = new URL('..', dir)) {
    if (existsSync(new URL('package.json', dir))) return fileURLToPath(dir);
  }
  return undefined;
}
