import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeQwenShapedDir } from '../../src/learner/data/qwen-model-dir.js';
import { DIST_CLI } from '../helpers/dist.js';

/**
 * `popo eval` on every benchmark file in ../shared/datasets, CI-sized: from each file its first row and its longest
 * problem (the rows that crashed the engine: OlympiadBench's 1,273-token prompts against a 1,024-position model,
 * MATH train's long tables), for the built-in tiny-1m and tiny-10m (the longest rows only: its prefill is what
 * costs) and for a Qwen2-shaped model with the real byte-level BPE tokenizer and its chat template. Every row must
 * come back scored — none dropped, no crash. Measured on the loaded 2-core machine: 3 to 8 minutes with two long
 * rows per file, hence one.
 * The full run (every row of every file) is the same command per file: docs/engine.md.
 */

const DATASETS = join(import.meta.dirname, '../../../shared/datasets');
const files = readdirSync(DATASETS).filter((f) => f.endsWith('.jsonl'));
let dir: string;
let subset: string;
let longestOnly: string;
let rows: number;

function popo(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // Asynchronous: the test's event loop stays free (vitest's own timers) while a model evaluates.
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [DIST_CLI, ...args], {
      env: { ...process.env, POPO_BACKEND: 'wasm' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'popo-datasets-'));
  const picked: string[] = [];
  const long: string[] = [];
  for (const f of files) {
    const lines = readFileSync(join(DATASETS, f), 'utf8').split('\n').filter(Boolean);
    const [longest] = [...lines.keys()]
      .sort(
        (a, b) =>
          (JSON.parse(lines[b]) as { problem: string }).problem.length -
          (JSON.parse(lines[a]) as { problem: string }).problem.length,
      )
      .slice(0, 1);
    for (const i of new Set([0, longest])) picked.push(lines[i]);
    long.push(lines[longest]);
  }
  longestOnly = join(dir, 'longest.jsonl');
  writeFileSync(longestOnly, long.join('\n') + '\n');
  subset = join(dir, 'subset.jsonl');
  writeFileSync(subset, picked.join('\n') + '\n');
  rows = picked.length;
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('popo eval on every file of ../shared/datasets (first + two longest rows of each)', () => {
  it('has the benchmark files', () => {
    expect(files.length).toBeGreaterThanOrEqual(12);
    expect(rows).toBe(2 * files.length);
  });

  it.each([
    { name: 'tiny-1m', rows: 'first and longest', data: () => subset, expected: () => rows },
    { name: 'tiny-10m', rows: 'longest', data: () => longestOnly, expected: () => files.length },
  ])(
    '$name scores every row ($rows of each file), truncating prompts longer than its context',
    async ({ name, data, expected }) => {
      const r = await popo([
        'eval',
        '--builtin',
        name,
        '--data',
        data(),
        '--max-new-tokens',
        '4',
        '--overlong',
        'truncate_left',
      ]);
      expect(r.code, r.stderr).toBe(0);
      const res = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
        examples: number;
        overlong: { policy: string; count: number };
      };
      expect(res.examples).toBe(expected());
      // Character-level models with 1,024 positions: the longest problems do not fit and were cut on the left.
      expect(res.overlong).toMatchObject({ policy: 'truncate_left' });
      expect(res.overlong.count).toBeGreaterThan(0);
    },
    600_000,
  );

  it('a Qwen2-shaped model with the real BPE tokenizer, under its chat template, scores every row', async () => {
    const model = await writeQwenShapedDir(join(dir, 'qwen'), { maxPositions: 4096 });
    const r = await popo([
      'eval',
      '--model',
      model,
      '--data',
      subset,
      '--max-new-tokens',
      '4',
      '--prompt-template',
      'chat',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
      examples: number;
      overlong?: { count: number };
    };
    expect(res.examples).toBe(rows);
    // 4,096 positions hold every benchmark prompt once BPE-tokenized (the default policy, error, would refuse).
    expect(res.overlong?.count ?? 0).toBe(0);
  }, 600_000);
});
