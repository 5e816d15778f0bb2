/**
 * The verifier on real benchmark answers (MATH-500, AIME 2024/2025, AMC23, OlympiadBench, Minerva), read
 * from ../shared/datasets beside the repository. Per file it measures up to six rates:
 * - gold-self: `\boxed{gold}` against gold;
 * - rewritten: equivalent rewritings of gold (\dfrac, spaces, "The answer is $…$", decimals for
 *   terminating fractions, AIME zero padding, thousands separators, `x = …`, reversed answer lists);
 * - others: answers of 3 other rows with a different value, which must be judged wrong;
 * - near-miss: gold with its first digit changed, which must be judged wrong;
 * - solution: the reference solution text (MATH-500, AIME 2024) as the completion;
 * - alternative: Minerva's other accepted answers against its first one.
 * The rates and every failure are printed; docs/verifier.md records them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { stopSymbolicWorker } from './symbolic.js';
import { verifyMath } from './verify-math.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const DATA_DIR = join(REPO_ROOT, '../shared/datasets');
/** Files whose reference solution boxes exactly the answer (Minerva's often box an intermediate result). */
const SOLUTION_FILES = ['math500', 'aime2024'];
const FILES = ['math500', 'aime2024', 'aime2025', 'amc23', 'olympiadbench', 'deepscaler_test_minerva'];

/** Thresholds set after measuring (see docs/verifier.md); gold-self must be perfect. */
const MIN_RATE: Record<Kind, number> = {
  self: 1,
  rewritten: 0.99,
  others: 0.99,
  'near-miss': 0.99,
  solution: 0.99,
  // Minerva lists looser alternatives (0.02 for 0.01, 6630 for 6630.65) that a 1e-6 tolerance rejects.
  alternative: 0.9,
};

interface Row {
  id: string;
  answer: string;
  /** MATH-500 and AIME 2024 keep the reference solution, which ends in a \boxed{} answer. */
  solution?: unknown;
  /** Minerva: other accepted forms of the answer. */
  answer_alternatives?: string[];
}

const KINDS = ['self', 'rewritten', 'others', 'near-miss', 'solution', 'alternative'] as const;
type Kind = (typeof KINDS)[number];

interface Check {
  kind: Kind;
  id: string;
  completion: string;
  gold: string;
  expected: boolean;
}

/** Deterministic sampling (mulberry32), so the measured rates are reproducible. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Top-level comma split, written independently of the verifier's own scanner. */
function topLevelItems(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === '\\' && (s[i + 1] === '{' || s[i + 1] === '}')) {
      depth += s[i + 1] === '{' ? 1 : -1;
      cur += ch + s[++i];
      continue;
    }
    if ('([{'.includes(ch)) depth++;
    if (')]}'.includes(ch)) depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((x) => x.trim());
}

/** Value of a plainly written number (int, decimal, \frac{a}{b}), for excluding equal-valued "other" rows. */
function simpleValue(answer: string): number | undefined {
  const s = answer.replace(/\$|\\[!,]|\s/g, '').replace(/\\[dt]frac/g, '\\frac');
  if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s);
  const m = /^(-?)\\frac\{?(\d+)\}?\{?(\d+)\}?$/.exec(s);
  return m ? (m[1] ? -1 : 1) * (Number(m[2]) / Number(m[3])) : undefined;
}

function terminatingDecimal(bare: string): string | undefined {
  const m = /^(-?)\\frac\{(\d+)\}\{(\d+)\}$/.exec(bare.replace(/\s/g, ''));
  if (!m) return undefined;
  let den = Number(m[3]);
  while (den % 2 === 0) den /= 2;
  while (den % 5 === 0) den /= 5;
  if (den !== 1) return undefined;
  return ((Number(m[2]) / Number(m[3])) * (m[1] ? -1 : 1)).toString();
}

/** The gold with its first digit changed (9 → 8, others + 1): almost always a different value. */
function nearMiss(gold: string): string | undefined {
  const bare = gold.replace(/(?<!\\)\$/g, '').trim();
  const at = bare.search(/\d/);
  if (at < 0) return undefined;
  const d = Number(bare[at]);
  return bare.slice(0, at) + String(d === 9 ? 8 : d + 1) + bare.slice(at + 1);
}

function rewritings(gold: string, file: string): string[] {
  const bare = gold.replace(/(?<!\\)\$/g, '').trim();
  const thousands = /^(\\\$)?\d{1,3}(,(\\!)?\s?\d{3})+(\.\d+)?$/.test(bare);
  // A space after the comma of "58,500" would make it the list 58, 500: only lists get spaced.
  const spaced = (thousands ? bare : bare.replace(/,\s*/g, ', ')).replace(/([+=])/g, ' $1 ');
  const out = [
    `The answer is $${bare}$.`,
    `Therefore $\\boxed{${bare.replace(/\\frac/g, '\\dfrac')}}$`,
    `\\boxed{ ${spaced} }`,
    `**Final Answer:** $${bare}$`,
  ];
  // Slash fractions for every simple \frac: exercises the symbolic path on expressions. Parenthesised
  // whole, since "(2)/(7)\sqrt{53}" reads as 2/(7√53) (implicit product binds tighter than "/").
  const slashed = bare.replace(/\\frac\{([^{}]*)\}\{([^{}]*)\}/g, '(($1)/($2))');
  // (Not for mixed numbers: "1\frac{4}{5}" is 1 + 4/5, but "1((4)/(5))" is a product.)
  if (slashed !== bare && !/\d\s*\\frac/.test(bare)) out.push(`\\boxed{${slashed}}`);
  const frac = /^(-?)\\frac\{(\d+)\}\{(\d+)\}$/.exec(bare);
  if (frac) out.push(`\\boxed{${frac[1]}\\frac{${3 * Number(frac[2])}}{${3 * Number(frac[3])}}}`); // unreduced
  if (/^\d+$/.test(bare) && Number(bare) > 1) out.push(`\\boxed{${Number(bare) - 1} + 1}`);
  const decimal = terminatingDecimal(bare);
  if (decimal) out.push(`\\boxed{${decimal}}`);
  if (/^\d+$/.test(bare)) {
    out.push(`#### ${bare}`, `\\boxed{${bare}.0}`);
    if (file.startsWith('aime') && bare.length < 3) out.push(`\\boxed{${bare.padStart(3, '0')}}`);
    if (Number(bare) >= 1000) out.push(`\\boxed{${Number(bare).toLocaleString('en-US')}}`);
  }
  const items = topLevelItems(bare);
  const prose = /[a-zA-Z]{4,}/.test(bare.replace(/\\[a-zA-Z]+/g, ''));
  if (items.length === 1 && !/=|\\in\b/.test(bare) && !/^[([\\]/.test(bare)) out.push(`\\boxed{x = ${bare}}`);
  if (items.length > 1 && !/^[([]/.test(bare) && !prose && !thousands) {
    out.push(`\\boxed{${[...items].reverse().join(', ')}}`);
  }
  return out;
}

function buildChecks(file: string, rows: Row[]): Check[] {
  const random = rng(12345 + file.length);
  const checks: Check[] = [];
  for (const row of rows) {
    checks.push({
      kind: 'self',
      id: row.id,
      completion: `\\boxed{${row.answer}}`,
      gold: row.answer,
      expected: true,
    });
    if (SOLUTION_FILES.includes(file) && typeof row.solution === 'string') {
      checks.push({
        kind: 'solution',
        id: row.id,
        completion: row.solution,
        gold: row.answer,
        expected: true,
      });
    }
    for (const alt of row.answer_alternatives?.slice(1) ?? []) {
      checks.push({
        kind: 'alternative',
        id: row.id,
        completion: `\\boxed{${alt}}`,
        gold: row.answer,
        expected: true,
      });
    }
    for (const completion of rewritings(row.answer, file)) {
      checks.push({ kind: 'rewritten', id: row.id, completion, gold: row.answer, expected: true });
    }
    const squash = (s: string) => s.replace(/\$|\s|\\[!,]/g, '');
    const mine = simpleValue(row.answer);
    let taken = 0;
    for (let tries = 0; taken < 3 && tries < 50; tries++) {
      const other = rows[Math.floor(random() * rows.length)];
      if (other === row || squash(other.answer) === squash(row.answer)) continue;
      const theirs = simpleValue(other.answer);
      if (mine !== undefined && theirs !== undefined && Math.abs(mine - theirs) < 1e-9) continue;
      checks.push({
        kind: 'others',
        id: `${row.id} vs ${other.id}`,
        completion: `\\boxed{${other.answer}}`,
        gold: row.answer,
        expected: false,
      });
      taken++;
    }
    const miss = nearMiss(row.answer);
    if (miss !== undefined) {
      checks.push({
        kind: 'near-miss',
        id: row.id,
        completion: `\\boxed{${miss}}`,
        gold: row.answer,
        expected: false,
      });
    }
  }
  return checks;
}

const present = existsSync(DATA_DIR);
if (!present) console.warn(`verify-datasets: ${DATA_DIR} is absent; the dataset checks are skipped.`);

describe.skipIf(!present)('verifyMath on benchmark answers', () => {
  afterAll(() => stopSymbolicWorker());
  const summary: string[] = [];
  afterAll(() =>
    console.log(['file                     kind        pass/total   rate', ...summary].join('\n')),
  );

  for (const file of FILES) {
    it(`${file}: gold-self, rewritings and other rows`, () => {
      const rows = readFileSync(join(DATA_DIR, `${file}.jsonl`), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Row);
      const checks = buildChecks(file, rows);
      const failures: string[] = [];
      const tally = Object.fromEntries(KINDS.map((k) => [k, [0, 0]])) as Record<Kind, [number, number]>;
      for (const check of checks) {
        const result = verifyMath(check.completion, check.gold);
        const ok = result.correct === check.expected;
        tally[check.kind][1]++;
        if (ok) tally[check.kind][0]++;
        else
          failures.push(
            `  [${check.kind}] ${check.id}: ${JSON.stringify(check.completion)} vs gold ${JSON.stringify(check.gold)} → ${result.reason}`,
          );
      }
      for (const kind of KINDS) {
        const [pass, total] = tally[kind];
        if (total === 0) continue;
        summary.push(
          `${file.padEnd(24)} ${kind.padEnd(11)} ${`${pass}/${total}`.padStart(10)}   ${((100 * pass) / total).toFixed(2)}%`,
        );
      }
      if (failures.length > 0) console.log(`${file}: ${failures.length} failures\n${failures.join('\n')}`);
      for (const kind of KINDS) {
        const [pass, total] = tally[kind];
        if (total === 0) continue;
        expect(pass / total, `${file} ${kind}: ${pass}/${total}`).toBeGreaterThanOrEqual(MIN_RATE[kind]);
      }
    });
  }
});
