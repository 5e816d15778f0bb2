import { readArgument } from './latex-scan.js';

/** The answer text after normalisation, plus what was stripped that can change the value. */
export interface NormalizedAnswer {
  text: string;
  /** A `%` / `\%` / "percent" was removed: 62.5% may also be written 0.625. */
  percent: boolean;
  /** A degree mark (`^\circ`, `°`, "degrees") was removed: 90° may also be written \frac{\pi}{2}. */
  degrees: boolean;
}

/** Placeholders (control characters never present in answers). */
const ROW_SEP = '\u0001';
const UNIT_GONE = '\u0002';

const UNICODE: [RegExp, string][] = [
  [/[\u2212\u2013\u2014]/g, '-'],
  [/\u00d7/g, '\\times '],
  [/[\u00b7\u22c5]/g, '\\cdot '],
  [/\u00f7/g, '\\div '],
  [/\u03c0/g, '\\pi '],
  [/\u221a/g, '\\sqrt'],
  [/\u221e/g, '\\infty '],
  [/\u00b0/g, '^\\circ'],
  [/\u2264/g, '\\le '],
  [/\u2265/g, '\\ge '],
  [/\u2260/g, '\\ne '],
  [/\u222a/g, '\\cup '],
  [/\u2229/g, '\\cap '],
  [/\u00a0/g, ' '],
];

/** Commands whose argument is plain text (or formatting) to unwrap. */
const TEXT_COMMANDS = [
  'text',
  'textbf',
  'textit',
  'textrm',
  'textnormal',
  'textsf',
  'texttt',
  'mbox',
  'hbox',
  'mathrm',
  'mathbf',
  'mathit',
  'mathsf',
  'mathtt',
  'mathnormal',
  'boldsymbol',
  'bm',
  'emph',
];

/**
 * Unit words stripped from the end of an answer (and whole `\text{…}` groups holding one), so
 * "5.4 \text{ cents}", "864 \mbox{ inches}^2" and "15 cm^2" compare as their numbers.
 * Single letters (m, s, g, h, L) are units only inside \text{}/\mathrm{}: elsewhere they are variables.
 */
const UNIT_WORDS = [
  'units?',
  'square',
  'sq',
  'cubic',
  'cents?',
  'dollars?',
  'euros?',
  'pounds?',
  'lbs?',
  'ounces?',
  'oz',
  'inch(?:es)?',
  'in',
  'feet',
  'foot',
  'ft',
  'yards?',
  'yd',
  'miles?',
  'mi',
  'meters?',
  'metres?',
  'centimeters?',
  'centimetres?',
  'millimeters?',
  'kilometers?',
  'kilometres?',
  'cm',
  'mm',
  'km',
  'seconds?',
  'secs?',
  'minutes?',
  'mins?',
  'hours?',
  'hrs?',
  'days?',
  'weeks?',
  'months?',
  'years?',
  'radians?',
  'rad',
  'mph',
  'kph',
  'km/h',
  'm/s',
  'kg',
  'grams?',
  'liters?',
  'litres?',
  'ml',
  'gallons?',
  'people',
  'persons?',
  'students?',
  'ways',
  'points?',
  'times',
  'steps?',
  'moves?',
  'coins?',
  'balls?',
  'marbles?',
  'games?',
  'numbers?',
  'integers?',
  'digits?',
  'values?',
  'solutions?',
  // Science units (Minerva-style answers)
  'hz',
  'khz',
  'mhz',
  'ghz',
  'ev',
  'kev',
  'mev',
  'gev',
  'cal',
  'kcal',
  'kj',
  'mol',
  'nm',
  'pc',
  'kpc',
  'mpc',
  'au',
  'yr',
  'angstroms?',
  'watts?',
  'joules?',
  'kelvin',
  'newtons?',
];
/** Not A–E: those are multiple-choice answers (\\text{C}). */
const SINGLE_LETTER_UNITS = ['m', 's', 'g', 'h', 'L', 'K', 'J', 'W', 'V'];
/** A unit's power: cm^2, m^{-2}, s^{-1}. */
const UNIT_POWER = '(?:\\s*\\^\\s*(?:\\{\\s*-?\\d\\s*\\}|-?\\d))?';
const UNIT_WORD_RE = new RegExp(`^(?:${UNIT_WORDS.join('|')})${UNIT_POWER}$`, 'i');
const TRAILING_UNIT_RE = new RegExp(
  `^(.*?[\\d}).\\w])\\s*(?:(?:${UNIT_WORDS.join('|')})${UNIT_POWER}\\s*)+$`,
  'i',
);

function isUnit(text: string, inTextCommand: boolean): boolean {
  const t = text.replace(/~/g, ' ').trim();
  if (t === '') return false;
  // "square units", "km/h", "kcal m^{-2}": every word a unit; single letters only inside \text{}.
  return t
    .split(/[\s/]+/)
    .every(
      (w) =>
        UNIT_WORD_RE.test(w) ||
        (inTextCommand && SINGLE_LETTER_UNITS.includes(w.replace(new RegExp(`${UNIT_POWER}$`), ''))),
    );
}

/** Replaces `\cmd{arg}` by `render(arg)` for every listed command, innermost braces matched. */
function replaceCommand(s: string, names: string[], render: (arg: string) => string): string {
  const re = new RegExp(`\\\\(?:${names.join('|')})(?![a-zA-Z])`, 'g');
  let out = '';
  let last = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    const arg = readArgument(s, m.index + m[0].length);
    if (!arg) continue;
    out += s.slice(last, m.index) + render(arg.arg);
    last = arg.end;
    re.lastIndex = arg.end;
  }
  return out + s.slice(last);
}

/** `\frac12` → `\frac{1}{2}`, `\frac 59`, `\frac9{19}`; `\sqrt2` → `\sqrt{2}`. */
function fixShorthand(s: string): string {
  let out = '';
  const re = /\\(frac|sqrt|binom)(?![a-zA-Z])/g;
  let last = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    let pos = m.index + m[0].length;
    let optional = '';
    if (m[1] === 'sqrt' && s[pos] === '[') {
      const close = s.indexOf(']', pos);
      if (close < 0) continue;
      optional = s.slice(pos, close + 1);
      pos = close + 1;
    }
    const nArgs = m[1] === 'sqrt' ? 1 : 2;
    const args: string[] = [];
    for (let k = 0; k < nArgs; k++) {
      const a = readArgument(s, pos);
      if (!a) break;
      args.push(a.arg);
      pos = a.end;
    }
    if (args.length !== nArgs) continue;
    out += s.slice(last, m.index) + `\\${m[1]}${optional}` + args.map((a) => `{${a}}`).join('');
    last = pos;
    re.lastIndex = pos;
  }
  return out + s.slice(last);
}

function stripMathDelimiters(s: string): string {
  return s
    .replace(/\\\$/g, ' ') // currency sign
    .replace(/\$/g, ' ')
    .replace(/\\[()]/g, ' ')
    .replace(/\\\[|\\\]/g, ' ');
}

function removeSizing(s: string): string {
  // \left( → (, \right. → nothing, \bigl[ → [ …
  return s
    .replace(
      /\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|Biggl|Biggr|big|Big|bigg|Bigg)(?![a-zA-Z])\s*\.?/g,
      '',
    )
    .replace(/\\(?:displaystyle|textstyle|scriptstyle|limits|nolimits)(?![a-zA-Z])/g, '');
}

function removeSpacing(s: string): string {
  return s
    .replace(/(\d)\s*\\,\s*(?=\d{3}(?!\d))/g, '$1') // 10\,000 thin-space thousands
    .replace(/(\d)\s*(?:,\s*\\!|\{\s*,\s*\})\s*(?=\d{3}(?!\d))/g, '$1,') // 10,\!080, 10{,}080, 14 {, }916
    .replace(/\\!/g, '')
    .replace(/\\[,;:> ]/g, ' ')
    .replace(/\\q?quad(?![a-zA-Z])/g, ' ')
    .replace(/~/g, ' ');
}

function stripDegrees(s: string): { text: string; found: boolean } {
  // A temperature scale letter after the mark goes with it ("1950^\circ C").
  const re =
    /\s*(?:\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\\degree(?![a-zA-Z])|\^\s*\{\s*o\s*\})(?:\s*[CF](?![a-zA-Z]))?/g;
  const words = /(\d|\})\s*(?:degrees?|deg)\b/gi;
  const found = re.test(s) || words.test(s);
  return { text: s.replace(re, '').replace(words, '$1'), found };
}

function stripPercent(s: string): { text: string; found: boolean } {
  const re = /\s*(?:\\%|%|\b(?:percentage|percent|pct)\b)/gi;
  const found = re.test(s);
  return { text: s.replace(re, ''), found };
}

function normalizeNumbers(s: string): string {
  return (
    s
      // .5 → 0.5
      .replace(/(^|[^\d.}])\.(\d)/g, '$10.$2')
      // 025 → 25 (not 0.25, not inside longer numbers)
      .replace(/(^|[^\d.])0+(?=\d)/g, '$1')
      // 2.50 → 2.5, 27.0 → 27, "5." → 5
      .replace(/(\d+\.\d*?)0+(?!\d)/g, '$1')
      .replace(/(\d)\.(?!\d)/g, '$1')
  );
}

/** "1,000" and "1 000" (whole answer only, no space after a comma: "8, 221" is a list). */
function stripThousands(s: string): string {
  const m = /^(-?)(\d{1,3}(?:,\d{3})+|\d{1,3}(?: \d{3})+)(\.\d+)?$/.exec(s);
  return m ? m[1] + m[2].replace(/[, ]/g, '') + (m[3] ?? '') : s;
}

/**
 * `;` separates the coordinates of a point in many textbooks ("(0;-2;6)") and answers in others
 * ("-12;-11;-10"): inside brackets it is a comma, and at the top level too when there is no comma there.
 */
function semicolons(s: string): string {
  if (!s.includes(';')) return s;
  let depth = 0;
  let topComma = false;
  for (const ch of s) {
    if (ch === '(' || ch === '[' || ch === '{') depth++;
    else if (ch === ')' || ch === ']' || ch === '}') depth--;
    else if (ch === ',' && depth === 0) topComma = true;
  }
  depth = 0;
  let out = '';
  for (const ch of s) {
    if (ch === '(' || ch === '[' || ch === '{') depth++;
    else if (ch === ')' || ch === ']' || ch === '}') depth--;
    out += ch === ';' && (depth > 0 || !topComma) ? ',' : ch;
  }
  return out;
}

/** `{1,3}` (plain LaTeX grouping braces around the whole answer, not a set `\{…\}`) is `1,3`. */
function unwrapBraces(s: string): string {
  for (let k = 0; k < 3 && s.startsWith('{') && s.endsWith('}'); k++) {
    let depth = 0;
    for (let i = 0; i < s.length; i++) {
      if (s[i] === '\\') {
        i++;
        continue;
      }
      if (s[i] === '{') depth++;
      else if (s[i] === '}' && --depth === 0 && i < s.length - 1) return s;
    }
    s = s.slice(1, -1).trim();
  }
  return s;
}

/** "1\frac{4}{5}" and "137 \frac{1}{2}" are mixed numbers in answers, not products. */
function mixedNumber(s: string): string {
  const m = /^(-?)(\d+)\s*\\frac\{(\d+)\}\{(\d+)\}$/.exec(s);
  if (!m) return s;
  const [, sign, whole, num, den] = m;
  return sign ? `-(${whole}+\\frac{${num}}{${den}})` : `${whole}+\\frac{${num}}{${den}}`;
}

/**
 * Canonical LaTeX for an answer: math delimiters, sizing and spacing commands, `\text{}` wrappers,
 * units, degree and percent marks, thousands separators and number formatting are removed or unified.
 * The result is still LaTeX (for the symbolic parser) with single spaces.
 */
export function normalizeAnswer(raw: string): NormalizedAnswer {
  let s = String(raw);
  for (const [re, to] of UNICODE) s = s.replace(re, to);
  // "\\frac" outside a matrix is a doubly escaped command (copied from a JSON or Python string).
  if (!s.includes('\\begin')) s = s.replace(/\\\\(?=[a-zA-Z{}])/g, '\\');
  // Protect the matrix row separator "\\" from the single-backslash rules below.
  s = s.replace(/\\\\/g, ROW_SEP);
  s = removeSizing(s);
  s = stripMathDelimiters(s);
  s = removeSpacing(s);
  s = s.replace(/\\[dtc]frac(?![a-zA-Z])/g, '\\frac').replace(/\\[dt]binom(?![a-zA-Z])/g, '\\binom');
  s = s.replace(/\\(?:leqslant|leq)(?![a-zA-Z])/g, '\\le').replace(/\\(?:geqslant|geq)(?![a-zA-Z])/g, '\\ge');
  s = s.replace(/\\neq(?![a-zA-Z])/g, '\\ne').replace(/\\(?:varnothing)(?![a-zA-Z])/g, '\\emptyset');
  // ASCII relations and their named forms: ">=" is "\ge", "\lt" is "<".
  s = s.replace(/>=/g, '\\ge ').replace(/<=/g, '\\le ').replace(/!=/g, '\\ne ');
  s = s.replace(/\\lt(?![a-zA-Z])/g, '<').replace(/\\gt(?![a-zA-Z])/g, '>');
  s = s.replace(/\\leqq(?![a-zA-Z])/g, '\\le').replace(/\\geqq(?![a-zA-Z])/g, '\\ge');
  s = s.replace(/\\infin(?![a-zA-Z])|\binfinity\b/gi, '\\infty');
  s = s
    .replace(/\^\s*\{\s*\\prime\s*\}|\^\s*\\prime(?![a-zA-Z])/g, "'")
    .replace(/\^\s*\{\s*\\prime\s*\\prime\s*\}/g, "''");
  // A removed unit takes its power with it: "864 \mbox{ inches}^2".
  const withUnits = s;
  s = replaceCommand(s, TEXT_COMMANDS, (arg) => (isUnit(arg, true) ? UNIT_GONE : ` ${arg.trim()} `));
  s = s.replace(new RegExp(`${UNIT_GONE}${UNIT_POWER}`, 'g'), ' ');
  // "\text{m}" alone is an answer (a letter, a word), not a unit of nothing.
  if (s.trim() === '') s = replaceCommand(withUnits, TEXT_COMMANDS, (arg) => ` ${arg.trim()} `);
  // After \text{} is unwrapped, so "\text{ degrees}" and "\text{5\%}" are seen too.
  const deg = stripDegrees(s);
  s = deg.text;
  const pct = stripPercent(s);
  s = pct.text;
  s = s.replace(/\s+/g, ' ').trim();
  // Words joining several answers: "1 or 2", "x=1 and x=2", "(11,7)or(7,11)".
  s = s.replace(/\s+(?:or|and)\s+/gi, ', ').replace(/\)\s*(?:or|and)\s*\(/g, '), (');
  s = s.replace(/^[a-zA-Z]\s*\\in\s*/, ''); // "x \in [-2,7]"
  // Trailing punctuation and units ("15 cm^2", "5.4 cents"), repeated because they can stack.
  for (let k = 0; k < 3; k++) {
    s = s.replace(/[\s.,;:]+$/, '');
    const unit = TRAILING_UNIT_RE.exec(s);
    if (unit && /\d/.test(unit[1])) s = unit[1];
  }
  s = s.replace(/^\+\s*(?=\\infty)/, '');
  s = fixShorthand(s);
  s = s.replace(/\s+/g, ' ').trim();
  s = stripThousands(s);
  s = semicolons(s);
  s = unwrapBraces(s);
  // "\left[\begin{array}…\end{array}\right]": brackets around a matrix are its delimiters, not a tuple.
  s = s.replace(/^[[(]\s*(\\begin\{[a-zA-Z]*\}.*\\end\{[a-zA-Z]*\})\s*[\])]$/s, '$1');
  s = normalizeNumbers(s);
  s = mixedNumber(s);
  // Multiple-choice letters: "(C)", "\text{(C)}" and "C" are one answer.
  s = s.replace(/^\(([A-E])\)$/, '$1');
  // "4210_{5}" → "4210_5" (compare.ts accepts the bare digits when only one side names the base).
  s = s.replace(/^(\d+)_\{(\d+)\}$/, '$1_$2');
  s = s.replace(new RegExp(ROW_SEP, 'g'), '\\\\');
  return { text: s, percent: pct.found, degrees: deg.found };
}

/**
 * A comparison key: spaces dropped except where they separate a control word from a letter
 * (`\pi r` must not become `\pir`), and pure-text answers lowercased.
 */
export function answerKey(normalized: string): string {
  const key = normalized.replace(/(\\[a-zA-Z]+ (?=[a-zA-Z]))| /g, (_m, command?: string) => command ?? '');
  return /^[a-zA-Z][a-zA-Z ]+$/.test(normalized) && /[a-zA-Z]{2}/.test(normalized) ? key.toLowerCase() : key;
}
