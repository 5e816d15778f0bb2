import { readFileSync } from 'node:fs';
import { basename, dirname, extname, resolve } from 'node:path';
import YAML from 'yaml';
import { readExamplesJsonl } from '../learner/data/jsonl.js';
import { ConfigError, parseRun, resolveConfig } from '../learner/trainer/config.js';
import { localRunSchema } from '../learner/trainer/run-spec.js';
import type { TrainConfig } from '../learner/trainer/types.js';

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

/** Reads a run document (YAML or JSON is YAML) and applies `--set` overrides; nothing is validated yet. */
export function readRunDocument(file: string, overrides: string[] = []): Plain {
  const raw = (YAML.parse(readFileSync(file, 'utf8')) ?? {}) as Plain;
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw new Error(`${file}: a run document must be a mapping`);
  for (const o of overrides) applyOverride(raw, o);
  return raw;
}

export type LocalRun = ReturnType<typeof localRunSchema.parse>;

/**
 * The CLI's run document → the trainer's input: `data.train_file` / `data.test_file` (relative to the document)
 * become examples through the one row mapping (rows with split "test" and every row of test_file are held out).
 */
export function trainConfigOf(doc: LocalRun, baseDir: string): TrainConfig {
  const { train_file, test_file, problem_field, answer_field, ...data } = doc.data;
  const fields = { problem: problem_field, answer: answer_field };
  const examples = {
    train: [] as TrainConfig['data']['train'] & object,
    test: [] as TrainConfig['data']['train'] & object,
  };
  if (train_file) {
    const rows = readExamplesJsonl(resolve(baseDir, train_file), fields);
    examples.train.push(...rows.train);
    examples.test.push(...rows.test);
  }
  if (test_file) {
    const rows = readExamplesJsonl(resolve(baseDir, test_file), fields);
    examples.test.push(...rows.train, ...rows.test);
  }
  if (train_file && !examples.train.length)
    throw new ConfigError([{ field: 'data.train_file', reason: `${train_file} has no training rows` }]);
  return resolveConfig({
    ...doc,
    data: train_file ? { ...data, ...examples } : { ...data, ...(test_file ? { test: examples.test } : {}) },
  });
}

/** Reads, validates (ConfigError naming every bad field) and resolves a run document for `popo train`. */
export function loadRunConfig(
  file: string,
  overrides: string[] = [],
  patch: Plain = {},
): { config: TrainConfig; doc: LocalRun; name: string } {
  const doc = parseRun(localRunSchema, { ...readRunDocument(file, overrides), ...patch });
  return { config: trainConfigOf(doc, dirname(file)), doc, name: basename(file, extname(file)) };
}
