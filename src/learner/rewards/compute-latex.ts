import { readArgument } from './latex-scan.js';

/** Beyond these, symbolic evaluation is skipped and only string/number comparison applies. */
const MAX_LENGTH = 400;
const MAX_EXPONENT = 10_000;
const MAX_FACTORIAL = 2_000;
const MAX_DIGITS = 300;

const UNSUPPORTED =
  /\\(?:sum|prod|int|iint|oint|lim|dots|ldots|cdots|mho|partial|nabla|to|rightarrow|Rightarrow|mapsto)(?![a-zA-Z])/;
const GREEK =
  'alpha|beta|gamma|delta|epsilon|varepsilon|zeta|eta|theta|vartheta|iota|kappa|lambda|mu|nu|xi|rho|sigma|tau|upsilon|phi|varphi|chi|psi|omega|Gamma|Delta|Theta|Lambda|Xi|Sigma|Phi|Psi|Omega';

/** Why an expression is not safe to hand to compute-engine, or undefined when it is. */
export function symbolicHazard(latex: string): string | undefined {
  if (latex.length > MAX_LENGTH) return `longer than ${MAX_LENGTH} characters`;
  if (/\d_\{?\d/.test(latex)) return 'a number in another base';
  if (UNSUPPORTED.test(latex)) return 'uses an operator the checker does not evaluate';
  if (new RegExp(`\\d{${MAX_DIGITS},}`).test(latex)) return `a number with over ${MAX_DIGITS} digits`;
  for (let at = latex.indexOf('^'); at >= 0; at = latex.indexOf('^', at + 1)) {
    const arg = readArgument(latex, at + 1);
    if (!arg) continue;
    const n = Number(arg.arg.replace(/\s/g, ''));
    if (Number.isFinite(n) && Math.abs(n) > MAX_EXPONENT) return `exponent above ${MAX_EXPONENT}`;
  }
  for (const m of latex.matchAll(/(\d+)\s*!/g)) {
    if (Number(m[1]) > MAX_FACTORIAL) return `factorial above ${MAX_FACTORIAL}`;
  }
  return undefined;
}

/** Index of the bracket that opens the group closing at `close` (`)` or `}`), or -1. */
function openingOf(s: string, close: number): number {
  const closer = s[close];
  const opener = closer === ')' ? '(' : '{';
  let depth = 0;
  for (let i = close; i >= 0; i--) {
    if (s[i] === closer && s[i - 1] !== '\\') depth++;
    else if (s[i] === opener && s[i - 1] !== '\\') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

/**
 * `n!`, `(d-k)!` → Γ(n+1): compute-engine's factorial needs an exact integer, and expressions with free
 * variables are compared at non-integer points. Literal factorials (`100!`) stay exact.
 */
function factorialsToGamma(s: string): string {
  let out = s;
  for (let guard = 0; guard < 20; guard++) {
    const m = /[a-zA-Z)}]\s*!/.exec(out);
    if (!m) break;
    const last = m.index; // last character of the operand
    let start = last;
    if (out[last] === ')' || out[last] === '}') {
      start = openingOf(out, last);
      if (start < 0) return s;
    } else {
      const cmd = /\\[a-zA-Z]+$/.exec(out.slice(0, last + 1));
      if (cmd) start = last + 1 - cmd[0].length;
    }
    const operand = out.slice(start, last + 1);
    const inner = operand[0] === '{' ? operand.slice(1, -1) : operand;
    out = `${out.slice(0, start)}\\operatorname{Gamma}(${inner}+1)${out.slice(m.index + m[0].length)}`;
  }
  return out;
}

/** `\binom{a}{b}` (which compute-engine 0.27 does not parse) as a quotient of Γ functions. */
function binomials(s: string): string {
  let out = s;
  for (let at = out.indexOf('\\binom'); at >= 0; at = out.indexOf('\\binom', at + 1)) {
    const a = readArgument(out, at + 6);
    const b = a && readArgument(out, a.end);
    if (!a || !b) return s;
    const rewritten = `\\frac{\\operatorname{Gamma}(${a.arg}+1)}{\\operatorname{Gamma}(${b.arg}+1)\\operatorname{Gamma}(${a.arg}-(${b.arg})+1)}`;
    out = out.slice(0, at) + rewritten + out.slice(b.end);
  }
  return out;
}

/** `x_1`, `A_{1}`, `m_{\max}`, `\alpha_2` → one symbol each (compute-engine reads `x_1` as indexing). */
function subscriptedSymbols(s: string): string {
  const name = (base: string, sub: string) =>
    `\\operatorname{${(base + sub).replace(/\\/g, '').replace(/[^a-zA-Z0-9]/g, '')}}`;
  return (
    s
      .replace(
        new RegExp(`\\\\(${GREEK})_(\\{[^{}]*\\}|[a-zA-Z0-9])`, 'g'),
        (_m, base: string, sub: string) => name(base, sub),
      )
      .replace(/(?<![\\a-zA-Z])([a-zA-Z])_(\{[^{}]*\}|[a-zA-Z0-9])/g, (_m, base: string, sub: string) =>
        name(base, sub),
      )
      // x' and y'' (derivatives in ODE answers) are symbols too; compute-engine reads ' as an operator.
      .replace(/(?<![\\a-zA-Z])([a-zA-Z])('+)/g, (_m, base: string, primes: string) =>
        name(base, 'p'.repeat(primes.length)),
      )
  );
}

/**
 * Single letters compute-engine reserves (D derivative, N numeric evaluation — both throw — E read as
 * an exponent marker, G Catalan's constant, \gamma Euler's constant) become ordinary symbols.
 * e, i and \pi keep their constant meaning, as in answers.
 */
function reservedSymbols(s: string): string {
  return s.replace(/\\operatorname\{[^}]*\}|\\gamma(?![a-zA-Z])|\\[a-zA-Z]+|[DNEG]/g, (m) => {
    if (m === '\\gamma') return '\\operatorname{vgamma}';
    return m.length === 1 ? `\\operatorname{v${m}}` : m;
  });
}

/**
 * Inside one scalar, `[…]` only groups (intervals were split off by the structure parser), but
 * compute-engine reads it as a list; `\exp{x}` is written for `\exp(x)`.
 */
function groupingBrackets(s: string): string {
  // The index of \sqrt[3]{x} keeps its brackets.
  const keep = new Set<number>();
  for (const m of s.matchAll(/\\sqrt\s*\[/g)) {
    const open = m.index + m[0].length - 1;
    const close = s.indexOf(']', open);
    if (close > 0) keep.add(open).add(close);
  }
  let out = Array.from(s, (ch, i) => (keep.has(i) ? ch : ch === '[' ? '(' : ch === ']' ? ')' : ch)).join('');
  for (let at = out.indexOf('\\exp{'); at >= 0; at = out.indexOf('\\exp{', at + 1)) {
    const arg = readArgument(out, at + 4);
    if (!arg) break;
    out = `${out.slice(0, at)}\\exp(${arg.arg})${out.slice(arg.end)}`;
  }
  return out;
}

/**
 * LaTeX for compute-engine from a normalised scalar answer, or undefined when it should not be
 * evaluated symbolically (see {@link symbolicHazard}).
 */
export function toComputeLatex(normalized: string): string | undefined {
  if (symbolicHazard(normalized)) return undefined;
  let s = normalized.replace(/\\Gamma\s*(?=\()/g, '\\operatorname{Gamma}');
  s = binomials(s);
  s = factorialsToGamma(s);
  s = subscriptedSymbols(s);
  s = reservedSymbols(s);
  s = groupingBrackets(s);
  return s;
}
