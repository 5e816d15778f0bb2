import { splitTopLevel, unwrapGroup } from './latex-scan.js';

/**
 * The shape of an answer, so "(1,2)" and "\{2,1\}" are compared as a tuple and a set, not as strings.
 * - `seq`: parenthesised/bracketed tuple, point or interval; ordered, brackets matter (`[a,b)` ≠ `(a,b)`).
 * - `set`: `\{…\}`; unordered.
 * - `list`: a bare comma list of several answers ("1, -2", "x=1 or x=2", `1\pm\sqrt{2}`); unordered.
 * - `union`: `A \cup B`; unordered.
 * - `matrix`: pmatrix/bmatrix/… cells, row-major.
 */
export type AnswerNode =
  | { kind: 'scalar'; text: string }
  | { kind: 'seq'; open: string; close: string; items: AnswerNode[] }
  | { kind: 'set'; items: AnswerNode[] }
  | { kind: 'list'; items: AnswerNode[] }
  | { kind: 'union'; items: AnswerNode[] }
  | { kind: 'matrix'; rows: AnswerNode[][] };

const MATRIX_RE = /^\\begin\{([pbBvV]?matrix|array)\}(?:\{[^}]*\})?(.*)\\end\{\1\}$/s;
const MAX_ITEMS = 64;

function nonEmpty(parts: string[]): string[] {
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

/** A `±` item inside a set or list stands for its two members. */
function flattenLists(items: AnswerNode[]): AnswerNode[] {
  return items.flatMap((n) => (n.kind === 'list' ? n.items : [n]));
}

/** Parses a normalised answer (see normalizeAnswer) into its structure. */
export function parseStructure(text: string, depth = 0): AnswerNode {
  const t = text.trim();
  if (depth > 8) return { kind: 'scalar', text: t };

  // "(p,q) = (3,2)", "(x, y) = (5, 8)": a labelled tuple is its value.
  const sides = splitTopLevel(t, '=');
  if (sides.length === 2 && isLabel(sides[0]) && /^\s*(?:\(|\[|\\\{|\\begin)/.test(sides[1])) {
    return parseStructure(sides[1], depth + 1);
  }

  const unionParts = nonEmpty(splitTopLevel(t, '\\cup'));
  if (unionParts.length > 1 && unionParts.length <= MAX_ITEMS) {
    return { kind: 'union', items: unionParts.map((p) => parseStructure(p, depth + 1)) };
  }

  const commaParts = nonEmpty(splitTopLevel(t, ','));
  if (commaParts.length > 1 && commaParts.length <= MAX_ITEMS) {
    return { kind: 'list', items: flattenLists(commaParts.map((p) => parseStructure(p, depth + 1))) };
  }

  const matrix = MATRIX_RE.exec(t);
  if (matrix) {
    const rows = nonEmpty(matrix[2].split('\\\\')).map((row) =>
      row.split('&').map((cell) => parseStructure(cell, depth + 1)),
    );
    if (rows.length > 0) return { kind: 'matrix', rows };
  }

  const group = unwrapGroup(t);
  if (group) {
    const items = nonEmpty(splitTopLevel(group.inner, ','));
    if (group.open === '\\{') {
      return { kind: 'set', items: flattenLists(items.map((p) => parseStructure(p, depth + 1))) };
    }
    if (items.length === 1 && group.open === '(' && group.close === ')') {
      return parseStructure(items[0], depth + 1); // "(5)" is just 5
    }
    if (items.length >= 2) {
      return {
        kind: 'seq',
        open: group.open,
        close: group.close,
        items: items.map((p) => parseStructure(p, depth + 1)),
      };
    }
  }

  // "1 \pm \sqrt{19}" is the two answers 1+√19 and 1-√19.
  // "\pm 2021" is the two answers 2021 and -2021.
  const pm = t.split('\\pm');
  if (pm.length === 2 && pm[1].trim() !== '') {
    const [a, b] = [pm[0].trim(), pm[1].trim()];
    const negB = /^[\d.]+$/.test(b) ? `-${b}` : `-(${b})`;
    return {
      kind: 'list',
      items: [
        { kind: 'scalar', text: a === '' ? b : `${a}+${b}` },
        { kind: 'scalar', text: a === '' ? negB : `${a}-${b}` },
      ],
    };
  }
  return { kind: 'scalar', text: t };
}

/**
 * A name standing for the answer on the left of "=": `x`, `f(x)`, `AB`, `|AB|`, `(p,q)`, `V_{1}:V_{2}`,
 * `\frac{NO}{BO}`, `m_{\max}`. Digits (outside subscripts) and operators make it an equation instead
 * (`7 = 11a+c`, `a+3z = 0`).
 */
export function isLabel(lhs: string): boolean {
  const t = lhs
    .replace(/_\{[^{}]*\}|_[a-zA-Z0-9]/g, '')
    .replace(/'/g, '')
    .trim();
  if (t === '' || t.length > 40) return false;
  return /^[a-zA-Z\\{}()|:,\s]+$/.test(t);
}

const RELATION_OPS: [string, Relation][] = [
  ['\\le', '<='],
  ['\\ge', '>='],
  ['\\ne', '!='],
  ['<', '<'],
  ['>', '>'],
];
export type Relation = '<' | '<=' | '>' | '>=' | '!=';

/** Splits `a < b \le c` at its top-level relation signs. */
export function splitRelations(t: string): { parts: string[]; ops: Relation[] } {
  const parts: string[] = [];
  const ops: Relation[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < t.length; i++) {
    const ch = t[i];
    if (ch === '(' || ch === '[' || ch === '{') depth++;
    else if (ch === ')' || ch === ']' || ch === '}') depth--;
    if (depth !== 0) {
      if (ch === '\\') i++;
      continue;
    }
    const op = RELATION_OPS.find(
      ([sym]) => t.startsWith(sym, i) && !(sym.startsWith('\\') && /[a-zA-Z]/.test(t[i + sym.length] ?? '')),
    );
    if (op) {
      parts.push(t.slice(start, i).trim());
      ops.push(op[1]);
      start = i + op[0].length;
      i = start - 1;
    } else if (ch === '\\') {
      i++;
    }
  }
  parts.push(t.slice(start).trim());
  return { parts, ops };
}

/** Has a variable: a letter outside control words (`\frac`, `\pi`, `\infty` are not variables). */
export function hasVariable(t: string): boolean {
  return /[a-zA-Z]/.test(t.replace(/\\[a-zA-Z]+/g, ''));
}

/**
 * A one-variable relation as the interval it describes: `x < 1` → (-∞, 1), `-793 < a < 10` → (-793, 10),
 * `-2 \le x \le 7` → [-2, 7]. Undefined for anything else.
 */
export function relationToInterval(text: string): AnswerNode | undefined {
  const { parts, ops } = splitRelations(text);
  if (ops.length === 0 || ops.length > 2 || ops.includes('!=') || parts.some((p) => p === ''))
    return undefined;
  const scalar = (s: string): AnswerNode => ({ kind: 'scalar', text: s });
  const strict = (op: Relation) => op === '<' || op === '>';
  const up = (op: Relation) => op === '<' || op === '<=';
  if (ops.length === 1) {
    const [a, b] = parts;
    const [v, c, op] = hasVariable(a) && !hasVariable(b) ? [a, b, ops[0]] : [b, a, flip(ops[0])];
    if (!hasVariable(v) || hasVariable(c)) return undefined;
    return up(op)
      ? { kind: 'seq', open: '(', close: strict(op) ? ')' : ']', items: [scalar('-\\infty'), scalar(c)] }
      : { kind: 'seq', open: strict(op) ? '(' : '[', close: ')', items: [scalar(c), scalar('\\infty')] };
  }
  const [a, v, b] = parts;
  if (!hasVariable(v) || hasVariable(a) || hasVariable(b) || up(ops[0]) !== up(ops[1])) return undefined;
  const [lo, hi, opLo, opHi] = up(ops[0]) ? [a, b, ops[0], ops[1]] : [b, a, ops[1], ops[0]];
  return {
    kind: 'seq',
    open: strict(opLo) ? '(' : '[',
    close: strict(opHi) ? ')' : ']',
    items: [scalar(lo), scalar(hi)],
  };
}

function flip(op: Relation): Relation {
  return ({ '<': '>', '>': '<', '<=': '>=', '>=': '<=', '!=': '!=' } as const)[op];
}

/** Every scalar leaf of a node, in order. */
export function scalarLeaves(node: AnswerNode): string[] {
  switch (node.kind) {
    case 'scalar':
      return [node.text];
    case 'matrix':
      return node.rows.flat().flatMap(scalarLeaves);
    default:
      return node.items.flatMap(scalarLeaves);
  }
}
