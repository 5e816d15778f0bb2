/**
 * Linear-time scanners that find candidate answers in a whole completion: `\boxed{}` groups, math
 * environments (`$…$`, `$$…$$`, `\(…\)`, `\[…\]`) and plain numbers / arithmetic expressions.
 * Completions are untrusted model output of any length (a degenerate 1 MB output with thousands of unclosed
 * `\boxed{` must not take minutes), so every scan here visits each character a bounded number of times: braces
 * are matched once for the whole text with a stack, environment searches jump past what they consumed, and
 * number tokens are capped in length.
 */

/** What a number/expression token may be at most (Math-Verify's expression tokens are short too). */
const MAX_TOKEN = 200;

/** For every `{` the index of its matching `}` (or -1), computed once; `\{` and `\}` are not braces. */
export function braceMatches(text: string): Int32Array {
  const close = new Int32Array(text.length).fill(-1);
  const stack: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 92 /* \ */) {
      i++;
      continue;
    }
    if (ch === 123 /* { */) stack.push(i);
    else if (ch === 125 /* } */ && stack.length > 0) close[stack.pop()!] = i;
  }
  return close;
}

export interface Span {
  start: number;
  /** Index after the span (after a percent suffix when there is one). */
  end: number;
  content: string;
  percent?: boolean;
}

const BOX_RE = /\\(?:boxed|fbox|framebox)(?![a-zA-Z])/g;

/** Every outermost `\boxed{…}` (and `\fbox`, `\framebox`, unbraced `\boxed 5`), in order. */
export function findBoxes(text: string, close: Int32Array): Span[] {
  const out: Span[] = [];
  let coveredUntil = -1;
  BOX_RE.lastIndex = 0;
  for (let m = BOX_RE.exec(text); m; m = BOX_RE.exec(text)) {
    if (m.index < coveredUntil) continue; // a box inside a box: the outer one is the answer
    let i = m.index + m[0].length;
    while (text[i] === ' ') i++;
    if (text[i] === '{') {
      const c = close[i];
      if (c < 0) continue; // unbalanced: no answer here (and no scan to the end of the text)
      out.push({ start: m.index, end: c + 1, content: text.slice(i + 1, c) });
      coveredUntil = c + 1;
    } else if (i > m.index + m[0].length) {
      const arg = /^[^\s$]+/.exec(text.slice(i, i + MAX_TOKEN));
      if (arg) out.push({ start: m.index, end: i + arg[0].length, content: arg[0] });
    }
  }
  return out;
}

const PERCENT_AFTER = /^\s*(?:\\?%|[Pp]ercentage|[Pp]ercent|[Pp]ct)(?![a-zA-Z])/;

function withPercent(text: string, span: Span): Span {
  const m = PERCENT_AFTER.exec(text.slice(span.end, span.end + 16));
  return m ? { ...span, end: span.end + m[0].length, percent: true } : span;
}

/**
 * Math environments in order of appearance, not nested: `$$…$$` and `\[…\]` (may span lines), `$…$` and
 * `\(…\)` (one line). An escaped `\$` is currency, not a delimiter. A percent sign after the closing delimiter
 * belongs to the value (`$28$ %`).
 */
export function findMathEnvs(text: string): Span[] {
  const out: Span[] = [];
  // An opener whose closer is absent stays absent for every later opener of the same kind.
  let noDisplayDollar = false;
  let noBracket = false;
  // An inline opener without a closer on its line: later openers on that line have none either.
  let noInlineUntil = -1;
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '\\') {
      const next = text[i + 1];
      if (next === '[' && !noBracket) {
        const c = text.indexOf('\\]', i + 2);
        if (c < 0) noBracket = true;
        else {
          out.push(withPercent(text, { start: i, end: c + 2, content: text.slice(i + 2, c) }));
          i = c + 2;
          continue;
        }
      } else if (next === '(' && i > noInlineUntil) {
        const c = findInline(text, i + 2, '\\)');
        if (c < 0) noInlineUntil = lineEnd(text, i);
        else {
          out.push(withPercent(text, { start: i, end: c + 2, content: text.slice(i + 2, c) }));
          i = c + 2;
          continue;
        }
      }
      i += 2;
      continue;
    }
    if (ch === '$') {
      if (text[i + 1] === '$') {
        if (!noDisplayDollar) {
          const c = findUnescaped(text, i + 2, '$$');
          if (c < 0) noDisplayDollar = true;
          else {
            out.push(withPercent(text, { start: i, end: c + 2, content: text.slice(i + 2, c) }));
            i = c + 2;
            continue;
          }
        }
        i += 2;
        continue;
      }
      // "costs 5$ and 6$": a dollar right after a digit is a currency sign, as in Math-Verify.
      if (!/\d/.test(text[i - 1] ?? '')) {
        const c = findInline(text, i + 1, '$');
        if (c > i + 1) {
          out.push(withPercent(text, { start: i, end: c + 1, content: text.slice(i + 1, c) }));
          i = c + 1;
          continue;
        }
      }
    }
    i++;
  }
  return out;
}

function lineEnd(text: string, from: number): number {
  const n = text.indexOf('\n', from);
  return n < 0 ? text.length : n;
}

/** Index of `closer` on the same line (skipping escaped characters), or -1. Stops at the first newline. */
function findInline(text: string, from: number, closer: string): number {
  for (let j = from; j < text.length; j++) {
    const ch = text[j];
    if (ch === '\n') return -1;
    if (closer === '$' && ch === '\\') {
      j++;
      continue;
    }
    if (text.startsWith(closer, j)) return j;
  }
  return -1;
}

function findUnescaped(text: string, from: number, closer: string): number {
  let j = text.indexOf(closer, from);
  while (j > 0 && text[j - 1] === '\\') j = text.indexOf(closer, j + 1);
  return j;
}

export interface NumberToken extends Span {
  /** The number written plainly: separators removed, a decimal comma read as a point. */
  value: string;
  /** An arithmetic expression (`2/3`, `(1/2) * (4/3)`) rather than a number. */
  expression: boolean;
}

const THOUSANDS = /^-?[1-9]\d{0,2}(?:[ ,]\d{3})+(?:\.\d+)?/;
const DECIMAL_POINT = /^-?\d+\.\d+/;
const DECIMAL_COMMA = /^-?\d+[.,]\d+/;
const DECIMAL_ONLY = /^\.\d+/;
const INTEGER = /^-?\d+/;
const EXPR_CHAR = /[\d.\s+\-*×/^()÷]/;
/** Longest plain number read (digits with separators); longer digit runs are cut, not scanned. */
const MAX_NUMBER = 64;
const CURRENCY = '$€£¥₹₽₪₩₫฿₡₢₣₤₥₦₧₨₭₮₯₰₱₲₳₴₵₶₷₸₺₻₼₾₿';

/**
 * A number or expression starting at `pos`, as Math-Verify's plain-text patterns read one: it must follow the
 * start of the text, a space or `=` (so `AZYUK2A` holds no number), may carry a currency sign, and a number may
 * have thousands separators (`7,425,000`, `1 000`) and a percent suffix. `decimalComma` reads `2,74` as 2.74.
 */
export function numberAt(
  text: string,
  pos: number,
  decimalComma: boolean,
  memo: { noExpressionBefore: number } = { noExpressionBefore: -1 },
): NumberToken | undefined {
  const before = text[pos - 1];
  if (pos > 0 && before !== '=' && !/\s/.test(before)) return undefined;
  let i = pos;
  if (text.startsWith('**', i)) i += 2;
  // Cheap rejection first: most positions in prose start no number.
  const first = text[i] ?? '';
  if (!/[\d\-(.]/.test(first) && !CURRENCY.includes(first)) return undefined;
  // An expression: digits and operators with at least one operator, ending before a delimiter.
  const exprStart = i < memo.noExpressionBefore ? null : /^-?\(?-?\d/.exec(text.slice(i, i + 4));
  if (exprStart) {
    let end = i + exprStart[0].length;
    const limit = Math.min(text.length, i + MAX_TOKEN);
    while (end < limit && EXPR_CHAR.test(text[end])) end++;
    let run = text.slice(i, end).replace(/[\s.+\-*×/^÷(]+$/, '');
    // "(7)." ends the sentence's own parenthesis: one unmatched ")" at the end is not part of the value.
    if (unbalanced(run) && run.endsWith(')')) run = run.slice(0, -1).replace(/[\s.+\-*×/^÷(]+$/, '');
    if (unbalanced(run)) run = '';
    const after = text[i + run.length] ?? '';
    if (/[+\-*×/^÷]/.test(run.slice(1)) && /^[\s.,:)$*]?$/.test(after) && /[\d)]$/.test(run)) {
      return withPercentNumber(text, {
        start: pos,
        end: i + run.length,
        content: run,
        value: run.replace(/\s+/g, ' ').trim(),
        expression: true,
      });
    }
    // Every later start inside this run reads the same characters: no expression there either.
    if (!/[+\-*×/^÷]/.test(text.slice(i + 1, end))) memo.noExpressionBefore = end;
  }
  const j = CURRENCY.includes(first) ? 1 : 0;
  const rest = text.slice(i + j, i + j + MAX_NUMBER);
  const thousands = THOUSANDS.exec(rest);
  const m =
    thousands ??
    (decimalComma ? DECIMAL_COMMA.exec(rest) : DECIMAL_POINT.exec(rest)) ??
    DECIMAL_ONLY.exec(rest) ??
    INTEGER.exec(rest);
  if (!m) return undefined;
  const raw = m[0];
  let value = raw;
  if (thousands) value = raw.replace(/[ ,]/g, '');
  else if (decimalComma) value = value.replace(',', '.');
  if (value.startsWith('.')) value = `0${value}`;
  return withPercentNumber(text, {
    start: pos,
    end: i + j + raw.length,
    content: raw,
    value,
    expression: false,
  });
}

function withPercentNumber(text: string, t: NumberToken): NumberToken {
  const m = PERCENT_AFTER.exec(text.slice(t.end, t.end + 16));
  return m ? { ...t, end: t.end + m[0].length, percent: true } : t;
}

function unbalanced(s: string): boolean {
  let depth = 0;
  for (const ch of s) {
    if (ch === '(') depth++;
    else if (ch === ')' && --depth < 0) return true;
  }
  return depth !== 0;
}

/** The rightmost-ending number or expression token in `text` (Math-Verify's unanchored plain-text match). */
export function lastNumber(text: string, decimalComma: boolean): NumberToken | undefined {
  let best: NumberToken | undefined;
  const memo = { noExpressionBefore: -1 };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (!/[\d\-.(*]/.test(ch) && !CURRENCY.includes(ch)) continue;
    const t = numberAt(text, i, decimalComma, memo);
    if (!t) continue;
    if (!best || t.end >= best.end) best = t;
    i = Math.max(i, t.end - 1);
  }
  return best;
}
