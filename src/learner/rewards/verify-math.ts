import { leafOf, nodeEqual, type CompareContext } from './compare.js';
import { extractAnswerWithSource, extractGold, VERIFY_MODES, type VerifyMode } from './extract.js';
import { answerKey, normalizeAnswer, type NormalizedAnswer } from './normalize.js';
import { parseStructure, scalarLeaves, type AnswerNode } from './structure.js';
import { evaluateLatex, type SymbolicValue } from './symbolic.js';
import type { VerifyOptions, VerifyResult } from './types.js';

const DEFAULTS = { relTol: 1e-6, symbolic: true, timeoutMs: 3000 };
/** Beyond this many distinct expressions a check stays with string/number comparison. */
const MAX_SYMBOLIC_EXPRS = 128;
const MAX_ANSWER_LENGTH = 2000;

/**
 * The ways one normalised answer may be read: itself, and for a percentage or an angle in degrees also
 * its fraction / radian value, so 62.5% ≡ 0.625 and 90° ≡ π/2.
 */
function readings(n: NormalizedAnswer): AnswerNode[] {
  const base = parseStructure(n.text);
  const out = [base];
  if (base.kind === 'scalar' && !base.text.includes('=')) {
    if (n.percent) out.push({ kind: 'scalar', text: `\\frac{${base.text}}{100}` });
    if (n.degrees) out.push({ kind: 'scalar', text: `\\frac{(${base.text})\\pi}{180}` });
  }
  return out;
}

function anyEqual(ctx: CompareContext, cands: AnswerNode[], golds: AnswerNode[]): boolean {
  return cands.some((c) => golds.some((g) => nodeEqual(ctx, c, g)));
}

function describe(node: AnswerNode): string {
  switch (node.kind) {
    case 'scalar':
      return 'a single value';
    case 'matrix':
      return `a ${node.rows.length}x${node.rows[0]?.length ?? 0} matrix`;
    case 'seq':
      return `a ${node.open}…${node.close} group of ${node.items.length}`;
    default:
      return `a ${node.kind} of ${node.items.length}`;
  }
}

function verifyOne(
  candidate: NormalizedAnswer,
  goldRaw: string,
  opts: Required<Pick<VerifyOptions, 'relTol' | 'symbolic' | 'timeoutMs'>> & { mode: VerifyMode },
): Omit<VerifyResult, 'extracted'> {
  const goldText = extractGold(goldRaw, opts.mode);
  if (goldText.length > MAX_ANSWER_LENGTH) {
    return { correct: false, reason: `gold answer longer than ${MAX_ANSWER_LENGTH} characters` };
  }
  const gold = normalizeAnswer(goldText);
  if (gold.text === '') return { correct: false, reason: 'gold answer is empty after normalisation' };
  if (answerKey(candidate.text) === answerKey(gold.text))
    return { correct: true, reason: 'equivalent (string)' };

  const cands = readings(candidate);
  const golds = readings(gold);
  const ctx: CompareContext = { relTol: opts.relTol, leaves: new Map(), used: new Set() };
  if (anyEqual(ctx, cands, golds)) {
    return { correct: true, reason: `equivalent (${ctx.used.has('numeric') ? 'numeric' : 'string'})` };
  }
  if (!opts.symbolic) return { correct: false, reason: 'not equivalent (symbolic comparison off)' };

  // Second pass with compute-engine values for every leaf expression, fetched in one worker round trip.
  const exprs = new Set<string>();
  for (const node of [...cands, ...golds]) {
    for (const text of scalarLeaves(node)) {
      // The first pass may have stopped early, so not every leaf exists yet.
      const leaf = leafOf(ctx, text);
      if (leaf.expr !== undefined) exprs.add(leaf.expr);
      if (leaf.labelExpr !== undefined) exprs.add(leaf.labelExpr);
    }
  }
  if (exprs.size === 0) return { correct: false, reason: notEquivalent(cands[0], golds[0]) };
  if (exprs.size > MAX_SYMBOLIC_EXPRS) {
    return { correct: false, reason: `not equivalent (symbolic skipped: ${exprs.size} expressions)` };
  }
  const list = [...exprs];
  const batch = evaluateLatex(list, opts.timeoutMs);
  if (batch.status !== 'ok') return { correct: false, reason: `not equivalent (${batch.reason})` };
  ctx.symbolic = new Map<string, SymbolicValue>(list.map((e, i) => [e, batch.results[i]]));
  ctx.used.clear();
  if (anyEqual(ctx, cands, golds)) return { correct: true, reason: 'equivalent (symbolic)' };
  return { correct: false, reason: notEquivalent(cands[0], golds[0]) };
}

function notEquivalent(c: AnswerNode, g: AnswerNode): string {
  if (c.kind === g.kind && (c.kind !== 'scalar' || g.kind === 'scalar')) return 'not equivalent';
  return `not equivalent (expected ${describe(g)}, got ${describe(c)})`;
}

/**
 * Judges whether a completion's final answer equals the gold answer (or any of several golds).
 * Extraction: last `\boxed{}`/`\fbox{}`, else "The (final) answer is …" / "Answer: …" / "#### …".
 * Comparison: normalised strings, then plain numbers, then compute-engine evaluation (numeric, and at
 * sample points for expressions with variables), through tuple/interval/set/list/matrix structure.
 * Never throws.
 */
export function verifyMath(
  completion: string,
  gold: string | string[],
  options: VerifyOptions = {},
): VerifyResult {
  try {
    if (typeof completion !== 'string') return { correct: false, reason: 'completion: expected a string' };
    const golds = (Array.isArray(gold) ? gold : [gold]).filter(
      (g) => typeof g === 'string' && g.trim() !== '',
    );
    if (golds.length === 0) return { correct: false, reason: 'gold: expected a non-empty string' };
    const opts = {
      relTol: options.relTol ?? DEFAULTS.relTol,
      symbolic: options.symbolic ?? DEFAULTS.symbolic,
      timeoutMs: options.timeoutMs ?? DEFAULTS.timeoutMs,
      mode: options.mode ?? 'strict',
    };
    if (!VERIFY_MODES.includes(opts.mode)) {
      return { correct: false, reason: `options.mode: must be one of ${VERIFY_MODES.join(', ')}` };
    }
    if (!(opts.relTol >= 0)) return { correct: false, reason: 'options.relTol: must be a number >= 0' };
    if (!(opts.timeoutMs > 0))
      return { correct: false, reason: 'options.timeoutMs: must be a positive number' };

    const found = extractAnswerWithSource(completion, { ...options, mode: opts.mode });
    if (!found) return { correct: false, reason: 'no final answer found (no \\boxed{} or "the answer is")' };
    const extracted = found.answer;
    if (extracted.length > MAX_ANSWER_LENGTH) {
      return { correct: false, reason: `answer longer than ${MAX_ANSWER_LENGTH} characters`, extracted };
    }
    const candidate = normalizeAnswer(extracted);
    if (candidate.text === '') return { correct: false, reason: 'empty answer', extracted };

    let last: Omit<VerifyResult, 'extracted'> = { correct: false, reason: 'not equivalent' };
    for (const g of golds) {
      last = verifyOne(candidate, g, opts);
      if (last.correct) break;
    }
    return { ...last, extracted };
  } catch (err) {
    return { correct: false, reason: `verifier error: ${(err as Error)?.message ?? String(err)}` };
  }
}
