import { toComputeLatex } from './compute-latex.js';
import { answerKey, normalizeAnswer } from './normalize.js';
import { splitTopLevel } from './latex-scan.js';
import { isLabel, relationToInterval, splitRelations, type AnswerNode } from './structure.js';
import { SYMBOLIC_POINTS, type SymbolicValue } from './symbolic.js';

/** A scalar answer prepared for comparison. */
export interface Leaf {
  key: string;
  /** Value of a plain or scientific decimal literal ("0.15", "-3", "6.72 \\times 10^{-5}"). */
  value?: number;
  /** compute-engine LaTeX (not for literals); undefined for hazards. For an equation or relation, `(lhs)-(rhs)`. */
  expr?: string;
  equation: boolean;
  /** `lhs < rhs` (with `>` and `≥` turned around): `expr` is lhs − rhs. */
  relation?: '<' | '<=' | '!=';
  /** A labelled answer (`y = 2x+1`) compares as its value, or as the equation when the other side is one. */
  labelExpr?: string;
  /** The label's comparison key: two labelled answers must name the same thing (`\\angle BEA_2` ≠ `\\angle BEA_1`). */
  label?: string;
}

const PLAIN = /^-?\d+(?:\.\d+)?$/;
const SCIENTIFIC = /^(-?\d+(?:\.\d+)?)(?:(?:\\times|\\cdot|\*)10\^(?:\{(-?\d+)\}|(\d))|e(-?\d+))$/i;
const BASE_NUMBER = /^(\d+)_(\d+)$/;

/**
 * The value an answer with "=" and "\approx" stands for, as Math-Verify reads it: a chain `x = 5+5+1 = 11`
 * is its last part, `x \approx 11` is 11, `1/3 \approx 0.33` is 1/3.
 */
function resolveChain(t: string): string {
  const approx = splitTopLevel(t, '\\approx');
  if (approx.length > 1) {
    const before = approx[0].trim();
    t = splitTopLevel(before, '=').length === 1 && isLabel(before) ? approx[1] : before;
  }
  const parts = splitTopLevel(t, '=').map((p) => p.trim());
  if (parts.length >= 3 && !/[,;]/.test(t) && parts[parts.length - 1] !== '') return parts[parts.length - 1];
  return t.trim();
}

function relationLeaf(t: string): Leaf | undefined {
  const { parts, ops } = splitRelations(t);
  if (ops.length !== 1 || parts.some((p) => p === '')) return undefined;
  let [lhs, rhs] = parts;
  let op = ops[0];
  if (op === '>' || op === '>=') {
    [lhs, rhs] = [rhs, lhs];
    op = op === '>' ? '<' : '<=';
  }
  const l = toComputeLatex(lhs);
  const r = toComputeLatex(rhs);
  return {
    key: answerKey(t),
    expr: l && r ? `(${l})-(${r})` : undefined,
    equation: false,
    relation: op as '<' | '<=' | '!=',
  };
}

/**
 * Literals are evaluated here, not by compute-engine: its parser rounds any number below 1e-10 to 0
 * (so 9.2e-19 would equal 8.2e-19), and integers beyond 2^53 must compare exactly.
 */
function literalValue(key: string): number | undefined {
  if (PLAIN.test(key)) return Number(key);
  const m = SCIENTIFIC.exec(key);
  return m ? Number(`${m[1]}e${m[2] ?? m[3] ?? m[4]}`) : undefined;
}

export function makeLeaf(text: string): Leaf {
  // Items of lists and right-hand sides get the whole-answer rules too ("x = 52_8", "1\frac{1}{2}, 3").
  let t = resolveChain(normalizeAnswer(text).text);
  const sides = splitTopLevel(t, '=');
  let equation = false;
  let labelExpr: string | undefined;
  let label: string | undefined;
  if (sides.length === 2 && !/[<>]|\\[lg]e(?![a-zA-Z])|\\ne(?![a-zA-Z])/.test(sides[0])) {
    if (isLabel(sides[0]) && sides[1].trim() !== '') {
      const [l, r] = [toComputeLatex(sides[0].trim()), toComputeLatex(sides[1].trim())];
      if (l && r) labelExpr = `(${l})-(${r})`;
      label = answerKey(sides[0].trim());
      t = resolveChain(normalizeAnswer(sides[1]).text);
    } else if (sides[0].trim() !== '' && sides[1].trim() !== '') equation = true;
  }
  const key = answerKey(t);
  if (!equation) {
    const rel = relationLeaf(t);
    if (rel) return rel;
  }
  const value = equation ? undefined : literalValue(key);
  if (value !== undefined) return { key, value, equation: false, labelExpr, label };
  if (equation) {
    const [lhs, rhs] = splitTopLevel(t, '=').map((x) => toComputeLatex(x.trim()));
    return { key, expr: lhs && rhs ? `(${lhs})-(${rhs})` : undefined, equation: true };
  }
  return { key, expr: toComputeLatex(t), equation: false, labelExpr, label };
}

export interface CompareContext {
  relTol: number;
  /** Results for `Leaf.expr`, when the symbolic pass ran. */
  symbolic?: Map<string, SymbolicValue>;
  leaves: Map<string, Leaf>;
  /** Which kinds of comparison decided a leaf equal (for the reason string). */
  used: Set<'string' | 'numeric' | 'symbolic'>;
}

export function leafOf(ctx: CompareContext, text: string): Leaf {
  let leaf = ctx.leaves.get(text);
  if (!leaf) {
    leaf = makeLeaf(text);
    ctx.leaves.set(text, leaf);
  }
  return leaf;
}

/** Relative closeness only: 8.2e-19 and 9.2e-19 differ, however small. */
function close(a: number, b: number, relTol: number): boolean {
  if (a === b) return true;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return false;
  return Math.abs(a - b) <= relTol * Math.max(Math.abs(a), Math.abs(b));
}

/** Pointwise equality of two value vectors (re, im pairs); points where both are undefined are skipped. */
function valuesEqual(a: number[], b: number[], relTol: number): boolean {
  let compared = 0;
  for (let i = 0; i < a.length; i += 2) {
    const aNaN = Number.isNaN(a[i]);
    const bNaN = Number.isNaN(b[i]);
    if (aNaN && bNaN) continue;
    if (aNaN !== bNaN) return false;
    // Overflow at a sample point (2^{2^n} at n = 37) says nothing either way; one-sided overflow is a difference.
    const aInf = !Number.isFinite(a[i]) || !Number.isFinite(a[i + 1]);
    const bInf = !Number.isFinite(b[i]) || !Number.isFinite(b[i + 1]);
    if (aInf && bInf) continue;
    if (aInf !== bInf) return false;
    if (!close(a[i], b[i], relTol) || !close(a[i + 1], b[i + 1], relTol)) return false;
    compared++;
  }
  return compared > 0;
}

const isConstant = (v: number[]) => v.every((x, i) => x === v[i % 2]);
const isZero = (v: number[]) => v.every((x) => x === 0);

/**
 * Two equations lhs=rhs are the same when their differences are proportional (2x=4 vs x-2=0). Equations
 * without variables are statements, not solution sets: any two false ones would be "proportional".
 */
function proportional(a: number[], b: number[], relTol: number): boolean {
  return ratioOf(a, b, relTol) !== undefined;
}

/** The constant ratio a/b over the sample points, when there is one. */
function ratioOf(a: number[], b: number[], relTol: number): number | undefined {
  if (isConstant(a) || isConstant(b)) return undefined;
  let ratio: number | undefined;
  let compared = 0;
  for (let i = 0; i < a.length; i += 2) {
    if (Number.isNaN(a[i]) || Number.isNaN(b[i])) return undefined;
    if (a[i + 1] !== 0 || b[i + 1] !== 0) return undefined;
    if (a[i] === 0 && b[i] === 0) continue;
    if (b[i] === 0 || a[i] === 0) return undefined;
    const r = a[i] / b[i];
    if (ratio === undefined) ratio = r;
    else if (!close(r, ratio, relTol)) return undefined;
    compared++;
  }
  return compared > 0 ? ratio : undefined;
}

function valuesOf(
  ctx: CompareContext,
  leaf: Leaf,
  expr = leaf.expr,
): { values: number[]; json?: string; exact?: string } | undefined {
  if (leaf.value !== undefined && expr === leaf.expr) {
    return { values: Array.from({ length: 2 * SYMBOLIC_POINTS }, (_, i) => (i % 2 === 0 ? leaf.value! : 0)) };
  }
  const v = expr !== undefined ? ctx.symbolic?.get(expr) : undefined;
  return v?.ok ? v : undefined;
}

/**
 * `x < 1` and `-x > -1` are one relation: lhs − rhs of one is a positive multiple of the other's (any
 * multiple for ≠). Relations without variables are statements, never equal this way.
 */
function relationEqual(ctx: CompareContext, c: Leaf, g: Leaf): boolean {
  if (c.relation !== g.relation || !ctx.symbolic) return false;
  const cv = valuesOf(ctx, c);
  const gv = valuesOf(ctx, g);
  if (!cv || !gv) return false;
  const ratio = ratioOf(cv.values, gv.values, ctx.relTol);
  return ratio !== undefined && (c.relation === '!=' || ratio > 0);
}

export function leafEqual(ctx: CompareContext, cText: string, gText: string): boolean {
  const c = leafOf(ctx, cText);
  const g = leafOf(ctx, gText);
  if (c.label !== undefined && g.label !== undefined && c.label !== g.label) return false;
  if (c.key === g.key) {
    ctx.used.add('string');
    return true;
  }
  // "52_8" and "52": the question fixes the base, so a missing subscript is not an error; two bases must agree.
  const cBase = BASE_NUMBER.exec(c.key);
  const gBase = BASE_NUMBER.exec(g.key);
  if (cBase || gBase) {
    const equal = (cBase?.[1] ?? c.key) === (gBase?.[1] ?? g.key) && !(cBase && gBase);
    if (equal) ctx.used.add('string');
    return equal;
  }
  if (c.value !== undefined && g.value !== undefined) {
    // Two literals compare exactly (BigInt for integers past 2^53), not within a tolerance.
    const bothInts = /^-?\d+$/.test(c.key) && /^-?\d+$/.test(g.key);
    const equal = bothInts ? BigInt(c.key) === BigInt(g.key) : c.value === g.value;
    if (equal) ctx.used.add('numeric');
    return equal;
  }
  if (c.relation || g.relation) {
    const equal = relationEqual(ctx, c, g);
    if (equal) ctx.used.add('symbolic');
    return equal;
  }
  // A labelled answer (y = -x/2 + 3/4) against a general equation (2x + 4y - 3 = 0) compares as equations.
  let cExpr = c.expr;
  let gExpr = g.expr;
  if (c.equation !== g.equation) {
    if (c.equation && g.labelExpr) gExpr = g.labelExpr;
    else if (g.equation && c.labelExpr) cExpr = c.labelExpr;
    else return false;
  }
  if (!ctx.symbolic) return false;
  const asEquation = c.equation || g.equation;
  const cv = valuesOf(ctx, c, cExpr);
  const gv = valuesOf(ctx, g, gExpr);
  if (!cv || !gv) return false;
  let equal: boolean;
  if (cv.json !== undefined && cv.json === gv.json && !cv.json.includes('Error')) {
    equal = true; // the same canonical expression (the worker flags canonical forms it cannot trust)
  } else if (asEquation) {
    equal = proportional(cv.values, gv.values, ctx.relTol);
  } else if (exactComparable(c, cv, g, gv)) {
    // Two exact rationals (2^{20} vs 1048577): equal only when identical, whatever the tolerance.
    equal = exactOf(c, cv) === exactOf(g, gv);
  } else if (isZero(cv.values) && isZero(gv.values)) {
    // compute-engine rounds |x| < 1e-10 to 0, so two zeros prove nothing unless one side is the literal 0.
    equal = c.value === 0 || g.value === 0;
  } else {
    equal = valuesEqual(cv.values, gv.values, ctx.relTol);
  }
  if (equal) ctx.used.add('symbolic');
  return equal;
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a < 0n ? -a : a;
}

/** "n" or "n/d" in lowest terms with a positive denominator. */
function rational(n: bigint, d: bigint): string {
  if (d < 0n) [n, d] = [-n, -d];
  const g = gcd(n, d) || 1n;
  return d / g === 1n ? `${n / g}` : `${n / g}/${d / g}`;
}

/** The exact rational value of a leaf, when known: a decimal literal, or a constant the engine evaluated exactly. */
function exactOf(leaf: Leaf, v: { exact?: string } | undefined): string | undefined {
  if (leaf.value !== undefined) {
    const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(leaf.key);
    if (!m) return undefined;
    const frac = m[3] ?? '';
    const n = BigInt(`${m[1]}${m[2]}${frac}`);
    return rational(n, 10n ** BigInt(frac.length));
  }
  const e = v?.exact;
  if (e === undefined) return undefined;
  const [n, d = '1'] = e.split('/');
  return rational(BigInt(n), BigInt(d));
}

/**
 * Exact comparison applies to two integers, or to two exact values neither of which is a written decimal
 * fraction: "0.333" may be a rounding of 1/3 and keeps the tolerance.
 */
function exactComparable(c: Leaf, cv: { exact?: string }, g: Leaf, gv: { exact?: string }): boolean {
  const ce = exactOf(c, cv);
  const ge = exactOf(g, gv);
  if (ce === undefined || ge === undefined) return false;
  if (!ce.includes('/') && !ge.includes('/')) return true;
  const decimal = (l: Leaf) => l.value !== undefined && l.key.includes('.');
  return !decimal(c) && !decimal(g);
}

/** Unordered equality: a perfect matching between the items (Kuhn's augmenting paths). */
function multisetEqual(ctx: CompareContext, cs: AnswerNode[], gs: AnswerNode[]): boolean {
  if (cs.length !== gs.length) return false;
  const memo = new Map<string, boolean>();
  const eq = (i: number, j: number) => {
    const k = `${i},${j}`;
    let v = memo.get(k);
    if (v === undefined) {
      v = nodeEqual(ctx, cs[i], gs[j]);
      memo.set(k, v);
    }
    return v;
  };
  const matchOfGold = new Array<number>(gs.length).fill(-1);
  const tryAssign = (i: number, seen: boolean[]): boolean => {
    for (let j = 0; j < gs.length; j++) {
      if (seen[j] || !eq(i, j)) continue;
      seen[j] = true;
      if (matchOfGold[j] < 0 || tryAssign(matchOfGold[j], seen)) {
        matchOfGold[j] = i;
        return true;
      }
    }
    return false;
  };
  for (let i = 0; i < cs.length; i++) {
    if (!tryAssign(i, new Array<boolean>(gs.length).fill(false))) return false;
  }
  return true;
}

function orderedEqual(ctx: CompareContext, cs: AnswerNode[], gs: AnswerNode[]): boolean {
  return cs.length === gs.length && cs.every((c, i) => nodeEqual(ctx, c, gs[i]));
}

function isVector(rows: AnswerNode[][]): boolean {
  return rows.length === 1 || rows.every((r) => r.length === 1);
}

/**
 * Is the candidate `c` the gold answer `g`? The gold side decides the semantics: a bare gold list is
 * unordered (several answers), a gold tuple/interval is ordered and its brackets must match.
 */
export function nodeEqual(ctx: CompareContext, c: AnswerNode, g: AnswerNode): boolean {
  switch (g.kind) {
    case 'scalar': {
      if (c.kind === 'scalar') return leafEqual(ctx, c.text, g.text);
      // "\boxed{15\frac{39}{40}} or \boxed{\frac{639}{40}}": one answer restated, every form equal to the gold.
      if (c.kind === 'list' && c.items.every((item) => nodeEqual(ctx, item, g))) return true;
      // "-793 < a < 10" against "(-793, 10)": a one-variable relation is the interval it describes.
      const interval = c.kind === 'seq' ? relationToInterval(g.text) : undefined;
      return interval !== undefined && nodeEqual(ctx, c, interval);
    }
    case 'list':
      if (c.kind === 'list' || c.kind === 'set' || (c.kind === 'seq' && c.open === '(' && c.close === ')')) {
        return multisetEqual(ctx, c.items, g.items);
      }
      return false;
    case 'set':
      return (c.kind === 'set' || c.kind === 'list') && multisetEqual(ctx, c.items, g.items);
    case 'union':
      return c.kind === 'union' && multisetEqual(ctx, c.items, g.items);
    case 'seq':
      if (c.kind === 'scalar') {
        const interval = relationToInterval(c.text);
        return interval !== undefined && nodeEqual(ctx, interval, g);
      }
      if (c.kind === 'seq')
        return c.open === g.open && c.close === g.close && orderedEqual(ctx, c.items, g.items);
      if (c.kind === 'list' && g.open === '(' && g.close === ')') return orderedEqual(ctx, c.items, g.items);
      if (c.kind === 'matrix' && isVector(c.rows)) return orderedEqual(ctx, c.rows.flat(), g.items);
      return false;
    case 'matrix':
      if (c.kind === 'matrix') {
        return c.rows.length === g.rows.length && c.rows.every((row, i) => orderedEqual(ctx, row, g.rows[i]));
      }
      if (isVector(g.rows) && ((c.kind === 'seq' && c.open === '(') || c.kind === 'list')) {
        return orderedEqual(ctx, c.items, g.rows.flat());
      }
      return false;
  }
}
