import { readFileSync } from 'node:fs';
import { basename, dirname, extname, resolve } from 'node:path';
import YAML from 'yaml';
import { readExamplesJsonl } from '../learner/data/jsonl.js';

type Plain = Record<string, unknown>;

/** Applies `a.b.c=value` (value parsed as a YAML scalar, so numbers and booleans keep their type). */
export function applyOverride(config: Plain, assignment: string): void {
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw new Error(`--set expects key=value, got "${assignment}"`);
  const path = assignment.slice(0, eq).split('.');
  let node = config;
  for (const key of path.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Plain;
  }
  node[path.at(-1)!] = YAML.parse(assignment.slice(eq + 1));
}

/**
 * Reads a run config (YAML or JSON). `data.train_file` / `data.test_file` (paths relative to the config) are
 * loaded into `data.train` / `data.test`, so the trainer only ever sees examples.
 */
export function loadRunConfig(file: string, overrides: string[] = []): { raw: Plain; name: string } {
  const text = readFileSync(file, 'utf8');
  const raw = (YAML.parse(text) ?? {}) as Plain;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${file}: a config must be a mapping`);
  for (const o of overrides) applyOverride(raw, o);
  const data = raw.data as Plain | undefined;
  for (const split of ['train', 'test'] as const) {
    const key = `${split}_file`;
    if (data && typeof data[key] === 'string') {
      data[split] = readExamplesJsonl(resolve(dirname(file), data[key] as string));
      delete data[key];
    }
  }
  return { raw, name: basename(file, extname(file)) };
}
