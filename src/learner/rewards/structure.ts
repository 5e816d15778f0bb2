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
  const pm = t.split('\\pm');
  if (pm.length === 2 && pm[0].trim() !== '' && pm[1].trim() !== '') {
    return {
      kind: 'list',
      items: [
        { kind: 'scalar', text: `${pm[0]}+${pm[1]}` },
        { kind: 'scalar', text: `${pm[0]}-${pm[1]}` },
      ],
    };
  }
  return { kind: 'scalar', text: t };
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
