/**
 * Small scanners over LaTeX source shared by extraction, normalisation and structure parsing.
 * They work on raw strings (no LaTeX parser): answers are short and only brace/bracket nesting matters.
 */

/** Index of the `}` that closes the `{` at `open`, or -1 when unbalanced. `\{` and `\}` are not braces here. */
export function matchBrace(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const ch = s[i];
    if (ch === '\\') {
      i++; // skip the escaped character: \{ \} are literal set braces
      continue;
    }
    if (ch === '{') depth++;
    else if (ch === '}') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

/**
 * Reads one macro argument starting at `pos` (after optional spaces): a `{…}` group, a control word
 * (`\pi`), or a single character. Returns the argument text (without braces) and the index after it.
 */
export function readArgument(s: string, pos: number): { arg: string; end: number } | undefined {
  let i = pos;
  while (i < s.length && s[i] === ' ') i++;
  if (i >= s.length) return undefined;
  if (s[i] === '{') {
    const close = matchBrace(s, i);
    if (close < 0) return undefined;
    return { arg: s.slice(i + 1, close), end: close + 1 };
  }
  if (s[i] === '\\') {
    const m = /^\\([a-zA-Z]+|.)/.exec(s.slice(i));
    if (!m) return undefined;
    return { arg: m[0], end: i + m[0].length };
  }
  return { arg: s[i], end: i + 1 };
}

const OPENERS = new Set(['(', '[', '{']);
const CLOSERS = new Set([')', ']', '}']);

/**
 * Splits `s` on `sep` where it is outside every (), [], {} and \{ \} group. Mixed pairs like `[a,b)`
 * count as one group, which is what intervals need.
 */
export function splitTopLevel(s: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === '\\') {
      const next = s[i + 1];
      if (next === '{') depth++;
      else if (next === '}') depth--;
      else if (
        sep.startsWith('\\') &&
        depth === 0 &&
        s.startsWith(sep, i) &&
        !/[a-zA-Z]/.test(s[i + sep.length] ?? '')
      ) {
        parts.push(s.slice(start, i));
        start = i + sep.length;
        i += sep.length - 1;
        continue;
      }
      i++;
      continue;
    }
    if (OPENERS.has(ch)) depth++;
    else if (CLOSERS.has(ch)) depth--;
    else if (depth === 0 && !sep.startsWith('\\') && s.startsWith(sep, i)) {
      parts.push(s.slice(start, i));
      start = i + sep.length;
      i += sep.length - 1;
    }
  }
  parts.push(s.slice(start));
  return parts;
}

/**
 * When `s` is one bracket group from its first to its last character (`(…)`, `[…)`, `\{…\}`), returns the
 * opening and closing delimiters and the inner text.
 */
export function unwrapGroup(s: string): { open: string; close: string; inner: string } | undefined {
  const t = s.trim();
  let open: string;
  let close: string;
  let innerStart: number;
  let innerEnd: number;
  if (t.startsWith('\\{') && t.endsWith('\\}')) {
    [open, close, innerStart, innerEnd] = ['\\{', '\\}', 2, t.length - 2];
  } else if ((t[0] === '(' || t[0] === '[') && (t.endsWith(')') || t.endsWith(']'))) {
    [open, close, innerStart, innerEnd] = [t[0], t[t.length - 1], 1, t.length - 1];
  } else {
    return undefined;
  }
  // The opening delimiter must close exactly at the end: "(a+1)(b+2)" is not one group.
  let depth = 0;
  for (let i = 0; i < t.length; i++) {
    const ch = t[i];
    if (ch === '\\') {
      const next = t[i + 1];
      if (next === '{') depth++;
      else if (next === '}') depth--;
      i++;
      if (depth === 0 && i < t.length - 1) return undefined;
      continue;
    }
    if (OPENERS.has(ch)) depth++;
    else if (CLOSERS.has(ch)) {
      depth--;
      if (depth === 0 && i < t.length - 1) return undefined;
    }
  }
  if (depth !== 0) return undefined;
  return { open, close, inner: t.slice(innerStart, innerEnd) };
}
