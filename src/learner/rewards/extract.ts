import { braceMatches, findBoxes, findMathEnvs, lastNumber, numberAt, type Span } from './answer-scan.js';

/**
 * `strict` (default): an answer must be marked — a `\boxed{}` or an answer phrase ("The final answer is …",
 * "Answer: …", "#### …"); decimal commas are not read (`1,5` would clash with lists).
 * `math_verify`: as Hugging Face's Math-Verify, which the POPO authors rewarded with: when nothing is marked,
 * the last math environment or number anywhere in the text is the answer, and `2,74` reads as 2.74.
 */
export type VerifyMode = 'strict' | 'math_verify';
export const VERIFY_MODES: readonly VerifyMode[] = ['strict', 'math_verify'];

/** Where an extracted answer came from; `reason` strings in results use these names. */
export type AnswerSource = 'boxed' | 'final-answer' | 'free-text' | 'last-number' | 'whole';

export interface ExtractedAnswer {
  answer: string;
  source: AnswerSource;
}

export interface ExtractOptions {
  mode?: VerifyMode;
  /** When no marked answer exists, take the last number in the text (GSM8K style). */
  lastNumberFallback?: boolean;
  /** When no form exists, take the whole text (for completions that are only the answer). */
  wholeFallback?: boolean;
}

/**
 * Math-Verify's priorities (with `boxed_match_priority=0`, as its tests use): boxes and "final answer is X.
 * I hope" first, then "final answer … is X", "answer: X", "answer … X"; within one priority the match that
 * ends last wins, so a later final-answer phrase beats an earlier box.
 */
const P_BOX = 0;
const P_FINAL_IS = 50;
const P_ANSWER_COLON = 100;
const P_ANSWER = 200;
/** This project's line-based reading of an answer phrase whose value is not a number or math ("is Evelyn"). */
const P_PHRASE_LINE = 250;
const P_FREE = 300;

interface Candidate {
  answer: string;
  priority: number;
  end: number;
  source: AnswerSource;
}

class Scan {
  readonly close: Int32Array;
  readonly boxes: Span[];
  readonly envs: Span[];
  readonly boxByStart = new Map<number, number>();
  readonly envByStart = new Map<number, number>();
  readonly envTexts = new Map<number, string>();

  constructor(
    readonly text: string,
    readonly decimalComma: boolean,
  ) {
    this.close = braceMatches(text);
    this.boxes = findBoxes(text, this.close);
    this.envs = findMathEnvs(text);
    this.boxes.forEach((b, i) => this.boxByStart.set(b.start, i));
    this.envs.forEach((e, i) => this.envByStart.set(e.start, i));
    // Which math environment holds each box (both lists are in text order).
    let e = 0;
    this.boxEnv = this.boxes.map((b) => {
      while (e < this.envs.length && this.envs[e].end <= b.start) e++;
      const env = this.envs[e];
      return env && env.start <= b.start && b.end <= env.end ? e : -1;
    });
  }

  readonly boxEnv: number[];
}

/** Text between two boxes that still joins them into one answer: "\boxed{1} and \boxed{2}", "…}, \boxed{…". */
function joinsBoxes(gap: string): boolean {
  if (gap.length > 80) return false;
  const words = gap
    .replace(/\\(?:text|textbf|mbox|mathrm)\s*\{([^{}]*)\}/g, ' $1 ')
    .replace(/\\q?quad|\\[,;:! ]|\\[()[\]]|[$,;.:]/g, ' ')
    .trim()
    .split(/\s+/)
    .filter((w) => w !== '');
  if (words.length === 0) return true;
  return words.length <= 4 && words.some((w) => /^(?:and|or)$/i.test(w));
}

/** Boxes joined into runs; each run is one answer (several boxed parts form a set). */
function boxRuns(scan: Scan): Candidate[] {
  const out: Candidate[] = [];
  const { boxes, text } = scan;
  for (let i = 0; i < boxes.length;) {
    let j = i;
    // Boxes in one math environment are one answer (Math-Verify joins them all), others when only
    // connectives lie between them.
    const sameEnv = (k: number) => scan.boxEnv[k] >= 0 && scan.boxEnv[k] === scan.boxEnv[k + 1];
    while (j + 1 < boxes.length && (sameEnv(j) || joinsBoxes(text.slice(boxes[j].end, boxes[j + 1].start)))) {
      j++;
    }
    const parts = boxes.slice(i, j + 1).map((b) => b.content.trim());
    if (parts.some((p) => p !== '')) {
      out.push({ answer: parts.join(', '), priority: P_BOX, end: boxes[j].end, source: 'boxed' });
    }
    i = j + 1;
  }
  return out;
}

const ENV_JOIN = /^\s*(?:,?\s*and|,?\s*or|,)\s*$/;

/** A math environment and up to five more joined by "and" / "or" / "," ("$1$ and $2$"). */
function envRun(scan: Scan, index: number): { answer: string; end: number } {
  const { envs, text } = scan;
  const parts = [envText(scan, index)];
  let last = index;
  while (last + 1 < envs.length && parts.length < 6) {
    const gap = text.slice(envs[last].end, envs[last + 1].start);
    if (gap.length > 12 || !ENV_JOIN.test(gap)) break;
    last++;
    parts.push(envText(scan, last));
  }
  return { answer: parts.join(', '), end: envs[last].end };
}

/** An environment's value: the box(es) inside it when there are any, with its percent suffix. */
function envText(scan: Scan, index: number): string {
  const memo = scan.envTexts.get(index);
  if (memo !== undefined) return memo;
  const env = scan.envs[index];
  let content = env.content;
  if (/\\(?:boxed|fbox)/.test(content)) {
    const runs = boxRuns(new Scan(content, scan.decimalComma));
    if (runs.length > 0) content = runs.map((r) => r.answer).join(', ');
  }
  const text = env.percent ? `${content}\\%` : content;
  scan.envTexts.set(index, text);
  return text;
}

const SIMPLE_FRACTION = /^-?\\frac\{-?\d+(?:[.,]\d+)?\}\{-?\d+(?:[.,]\d+)?\}/;

/** A value starting exactly at `pos`: a box, a math environment, a `\frac{a}{b}`, or a number (list). */
function valueAt(scan: Scan, pos: number, numbers = true): { answer: string; end: number } | undefined {
  const { text } = scan;
  const box = scan.boxByStart.get(pos);
  if (box !== undefined) {
    const b = scan.boxes[box];
    return { answer: b.content.trim(), end: b.end };
  }
  const env = scan.envByStart.get(pos);
  if (env !== undefined) return envRun(scan, env);
  if (text.startsWith('\\frac', pos) || text.startsWith('-\\frac', pos)) {
    const frac = SIMPLE_FRACTION.exec(text.slice(pos, pos + 60));
    if (frac) return { answer: frac[0], end: pos + frac[0].length };
  }
  return numbers ? numberListAt(scan, pos) : undefined;
}

/** A number, or several joined by ", " / "and" / "or" ("1, 2 and 5"), which is several answers, not the first. */
function numberListAt(scan: Scan, pos: number): { answer: string; end: number } | undefined {
  const first = numberAt(scan.text, pos, scan.decimalComma);
  if (!first || endsInsideWord(scan.text, first.end)) return undefined;
  const parts = [tokenText(first)];
  let end = first.end;
  for (let k = 0; k < 64; k++) {
    const sep = /^\s*(?:,|;|\band\b|\bor\b)\s*/.exec(scan.text.slice(end, end + 12));
    if (!sep) break;
    const next = numberAt(scan.text, end + sep[0].length, scan.decimalComma);
    if (!next || next.expression !== first.expression) break;
    parts.push(tokenText(next));
    end = next.end;
  }
  return { answer: parts.join(', '), end };
}

/** "3\sqrt{2}" or "2x": the digits are the start of a larger expression, not a number answer. */
function endsInsideWord(text: string, end: number): boolean {
  return /^[\\^_{(]/.test(text[end] ?? '');
}

function tokenText(t: { value: string; percent?: boolean }): string {
  return t.percent ? `${t.value}\\%` : t.value;
}

function skipSpaces(text: string, pos: number): number {
  while (pos < text.length && /\s/.test(text[pos])) pos++;
  return pos;
}

/** "final answer is X. I hope it is correct." (the MATH/Minerva few-shot format). */
function finalAnswerHope(scan: Scan, out: Candidate[]): void {
  for (const m of scan.text.matchAll(/final answer is:?\s*/gi)) {
    const v = valueAt(scan, m.index + m[0].length);
    if (!v) continue;
    if (/^\.?\s?I hope/.test(scan.text.slice(v.end, v.end + 10))) {
      out.push({ answer: v.answer, priority: P_BOX, end: v.end, source: 'final-answer' });
    }
  }
}

/** "Final Answer: The volume of $V$ is 120." — the first " is" within 100 characters followed by a value. */
function finalAnswerIs(scan: Scan, out: Candidate[]): void {
  const { text } = scan;
  for (const m of text.matchAll(/final answer/gi)) {
    const from = m.index + m[0].length;
    const window = text.slice(from, from + 100 + 16);
    for (const is of window.matchAll(/\s+is:?\s*/g)) {
      if (is.index > 100) break;
      const v = valueAt(scan, from + is.index + is[0].length);
      if (v) {
        out.push({ answer: v.answer, priority: P_FINAL_IS, end: v.end, source: 'final-answer' });
        break;
      }
    }
  }
}

/**
 * "Answer: X" / "the answer is X": the first math value starting within 50 characters of the word, or for
 * numbers the value after the last "=" within 100 characters on that line ("Answer: P(A) = 2/3").
 */
function answerWord(scan: Scan, out: Candidate[]): void {
  const { text } = scan;
  for (const m of text.matchAll(/answer(:?)|####/gi)) {
    const priority = m[1] === ':' || m[0] === '####' ? P_ANSWER_COLON : P_ANSWER;
    const from = m.index + m[0].length;
    const push = (v: { answer: string; end: number }) =>
      out.push({ answer: v.answer, priority, end: v.end, source: 'final-answer' });
    // Both readings compete by where they end, as in Math-Verify: "The answer is $y = 2x + 3$." is the
    // environment (it ends after the "= 3"), "Answer: P(A) = 2/3" the number after the last "=".
    const line = text.slice(from, from + 100).split('\n', 1)[0];
    const eq = line.lastIndexOf('=');
    if (eq >= 0 && line[eq - 1] !== '\\' && line[eq - 1] !== '<' && line[eq - 1] !== '>') {
      const v = numberListAt(scan, skipSpaces(text, from + eq + 1));
      if (v && !/^\s*=/.test(text.slice(v.end, v.end + 8))) push(v);
    }
    // Math values may start on a later line; plain numbers only on the answer's own line.
    let sameLine = true;
    for (let p = from; p <= from + 50 && p < text.length; p++) {
      if (text[p] === '\n') sameLine = false;
      const v = valueAt(scan, p, sameLine);
      if (v && !/^\s*=/.test(text.slice(v.end, v.end + 8))) {
        push(v);
        break;
      }
    }
  }
}

/** This project's answer-phrase reading: the rest of the line, cut at the first sentence break. */
const PHRASE_PATTERNS: RegExp[] = [
  /(?:the\s+)?final\s+answer\s*(?:is|:)\s*:?\s*([^\n]+)/gi,
  /the\s+answer\s+is\s*:?\s*([^\n]+)/gi,
  /(?:^|\n)\s*\**answer\**\s*:\s*\**\s*([^\n]+)/gi,
  /####\s*([^\n]+)/g,
];

function cleanPhrase(raw: string): string {
  let s = raw.trim().slice(0, 4000);
  s = s.replace(/^\*+|\*+$/g, '').trim();
  const math = /^\$\$?((?:\\\$|[^$])+)\$\$?/.exec(s) ?? /^\\\((.+?)\\\)/.exec(s) ?? /^\\\[(.+?)\\\]/.exec(s);
  if (math) return math[1].trim();
  const stop = /\.\s+[A-Z]/.exec(s);
  if (stop) s = s.slice(0, stop.index);
  return s.replace(/[.\s]+$/, '').trim();
}

function phraseLines(scan: Scan, out: Candidate[]): void {
  for (const pattern of PHRASE_PATTERNS) {
    for (const m of scan.text.matchAll(pattern)) {
      const answer = cleanPhrase(m[1]);
      if (answer)
        out.push({ answer, priority: P_PHRASE_LINE, end: m.index + m[0].length, source: 'final-answer' });
    }
  }
}

/** Math-Verify's unanchored reading: the last math environment, `\frac{a}{b}` or number in the text. */
function freeText(scan: Scan, out: Candidate[]): void {
  const { envs, text } = scan;
  if (envs.length > 0) {
    // The run that ends last starts at most five environments before the last one.
    for (let i = Math.max(0, envs.length - 6); i < envs.length; i++) {
      const r = envRun(scan, i);
      out.push({ answer: r.answer, priority: P_FREE, end: r.end, source: 'free-text' });
    }
  }
  let frac: RegExpExecArray | undefined;
  for (const m of text.matchAll(/-?\\frac\{-?\d+(?:[.,]\d+)?\}\{-?\d+(?:[.,]\d+)?\}/g)) frac = m;
  if (frac)
    out.push({ answer: frac[0], priority: P_FREE, end: frac.index + frac[0].length, source: 'free-text' });
  const n = lastNumber(text, scan.decimalComma);
  if (n) out.push({ answer: tokenText(n), priority: P_FREE, end: n.end, source: 'free-text' });
}

function best(cands: Candidate[]): Candidate | undefined {
  let top: Candidate | undefined;
  for (const c of cands) {
    if (!top || c.priority < top.priority || (c.priority === top.priority && c.end > top.end)) top = c;
  }
  return top;
}

/**
 * The final answer of a text. Marked answers first (boxes — several adjacent boxes form one answer — and
 * answer phrases, by Math-Verify's priorities); in `math_verify` mode also the last math or number anywhere;
 * then, only when asked, the last number or the whole text. `undefined` when none applies.
 */
export function extractAnswerWithSource(
  text: string,
  options: ExtractOptions = {},
): ExtractedAnswer | undefined {
  if (typeof text !== 'string') return undefined;
  const mode = options.mode ?? 'strict';
  const scan = new Scan(text, mode === 'math_verify');
  const cands = boxRuns(scan);
  finalAnswerHope(scan, cands);
  finalAnswerIs(scan, cands);
  answerWord(scan, cands);
  phraseLines(scan, cands);
  if (mode === 'math_verify') freeText(scan, cands);
  const top = best(cands.filter((c) => c.answer.trim() !== ''));
  if (top) return { answer: top.answer.trim(), source: top.source };
  if (options.lastNumberFallback) {
    const n = lastNumber(text, false);
    if (n) return { answer: tokenText(n), source: 'last-number' };
  }
  if (options.wholeFallback && text.trim() !== '') return { answer: text.trim(), source: 'whole' };
  return undefined;
}

/** {@link extractAnswerWithSource} without the source. */
export function extractAnswer(text: string, options: ExtractOptions = {}): string | undefined {
  return extractAnswerWithSource(text, options)?.answer;
}

/**
 * The content of the last `\boxed{…}` / `\fbox{…}` group (adjacent boxes joined), or undefined. Nested boxes
 * resolve to the outer one's content.
 */
export function extractBoxed(text: string): string | undefined {
  if (typeof text !== 'string') return undefined;
  const runs = boxRuns(new Scan(text, false));
  return runs.length > 0 ? runs[runs.length - 1].answer.trim() : undefined;
}

/**
 * The answer a gold string stands for. Dataset golds are bare answers ("x^2+1", "2x+3"), used whole; a gold
 * with a box or a "final answer is" phrase is a reference solution and gives that answer; in `math_verify`
 * mode a gold with math delimiters or answer words is read like a completion, as Math-Verify parses both
 * sides the same way.
 */
export function extractGold(gold: string, mode: VerifyMode): string {
  const boxed = extractBoxed(gold);
  if (boxed !== undefined && boxed !== '') return boxed;
  if (/final answer/i.test(gold)) {
    // A reference solution ending "Final Answer: The final answer is $28\%$. I hope it is correct."
    const scan = new Scan(gold, mode === 'math_verify');
    const cands: Candidate[] = [];
    finalAnswerHope(scan, cands);
    finalAnswerIs(scan, cands);
    const top = best(cands);
    if (top) return top.answer.trim();
  }
  if (mode === 'math_verify') {
    const whole = numberAt(gold.trim(), 0, true);
    if (whole && whole.end === gold.trim().length) return tokenText(whole);
    if (/\$|\\\(|\\\[|answer/i.test(gold)) {
      const found = extractAnswerWithSource(gold, { mode });
      if (found) return found.answer;
    }
  }
  return gold;
}
