import { buildIfStale } from '../scripts/build.mjs';

/**
 * Tests that spawn the CLI, a worker or embedded mode run the compiled dist/, as users do; it is rebuilt once per
 * test run when a source is newer than the last build, so `npm test` alone works on a fresh clone.
 */
export default function setup(): void {
  buildIfStale();
}
