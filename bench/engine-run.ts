/** `bench/engine.ts --json` as a child process (for the side-by-side benchmarks), and its JSON rows. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/** argv for one timed repetition of the engine bench on `backends` × `configs`. */
export const engineArgv = (backends: string, configs: string): string[] => [
  '--import',
  './bench/register.mjs',
  'bench/engine.ts',
  '--json',
  '--reps=1',
  `--backends=${backends}`,
  `--configs=${configs}`,
];

/** The JSON lines of a bench's stdout. */
export const jsonRows = <T>(text: string): T[] =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as T);
