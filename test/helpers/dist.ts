import { join } from 'node:path';

/**
 * What users run, compiled: tests spawn these (test/global-setup.ts builds dist/ when a source changed), never
 * TypeScript through a loader, so a test sees exactly the product's module resolution.
 */
export const REPO_ROOT = join(import.meta.dirname, '../..');
export const DIST_MAIN = join(REPO_ROOT, 'dist/src/main.js');
export const DIST_CLI = join(REPO_ROOT, 'dist/src/cli/main.js');
