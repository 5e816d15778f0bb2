import { matchBrace } from './latex-scan.js';

/** Where an extracted answer came from; `reason` strings in results use these names. */
export type AnswerSource = 'boxed' | 'final-answer' | 'last-number' | 'whole';

export interface ExtractedAnswer {
  answer: string;
  source: AnswerSource;
}

const BOX_COMMANDS = ['\\boxed', '\\fbox', '\\framebox'];

/**
 * The content of the last `\boxed{…}` / `\fbox{…}` (braces matched, so `\boxed{\frac{1}{2}}` works) or of
 * the unbraced form `\boxed 5`. Nested boxes resolve to the outer one's content.
 */
export function extractBoxed(text: string): string | undefined {
  let best: { start: number; content: string } | undefined;
  for (const cmd of BOX_COMMANDS) {
    let from = 0;
    for (;;) {
      const at = text.indexOf(cmd, from);
      if (at < 0) break;
      from = at + cmd.length;
      const next = text[from];
      if (next !== undefined && /[a-zA-Z]/.test(next)) continue; // \boxedfoo is another macro
      let content: string | undefined;
      let i = from;
      while (text[i] === ' ') i++;
      if (text[i] === '{') {
        const close = matchBrace(text, i);
        content = close < 0 ? undefined : text.slice(i + 1, close);
        if (close >= 0) from = close + 1;
      } else if (i > from) {
        // "\boxed 5": the argument runs to the next space or math delimiter.
        const m = /^[^\s$]+/.exec(text.slice(i));
        content = m?.[0];
      }
      if (content !== undefined && (!best || at > best.start)) best = { start: at, content };
    }
  }
  return best?.content.trim();
}

/** "The final answer is …", "Final Answer: …", "Answer: …", "#### …" — the last one wins. */
const FINAL_ANSWER_PATTERNS: RegExp[] = [
  /(?:the\s+)?final\s+answer\s*(?:is|:)\s*:?\s*([^\n]+)/gi,
  /the\s+answer\s+is\s*:?\s*([^\n]+)/gi,
  /(?:^|\n)\s*\**answer\**\s*:\s*\**\s*([^\n]+)/gi,
  /####\s*([^\n]+)/g,
];

function cleanFinalAnswer(raw: string): string {
  let s = raw.trim();
  // Markdown emphasis around the answer line.
  s = s.replace(/^\*+|\*+$/g, '').trim();
  // "$\frac{1}{2}$." or "\(x\)": keep the first math span when the line starts with one.
  // "$\$18.90$": an escaped dollar inside the span is currency, not its end.
  const math = /^\$\$?((?:\\\$|[^$])+)\$\$?/.exec(s) ?? /^\\\((.+?)\\\)/.exec(s) ?? /^\\\[(.+?)\\\]/.exec(s);
  if (math) return math[1].trim();
  // Prose after the answer ("42 because …", "42. This is …") is cut at the first sentence end.
  s = s.replace(/\.\s+[A-Z].*$/, '');
  return s.replace(/[.\s]+$/, '').trim();
}

function lastFinalAnswer(text: string): string | undefined {
  let best: { index: number; answer: string } | undefined;
  for (const pattern of FINAL_ANSWER_PATTERNS) {
    for (const m of text.matchAll(pattern)) {
      const answer = cleanFinalAnswer(m[1]);
      if (answer && (!best || m.index! >= best.index)) best = { index: m.index!, answer };
    }
  }
  return best?.answer;
}

function lastNumber(text: string): string | undefined {
  const all = text.match(/-?\d[\d,]*(?:\.\d+)?|-?\.\d+/g);
  return all?.[all.length - 1].replace(/,(?=\d{3}\b)/g, '');
}

export interface ExtractOptions {
  /** When no boxed/final-answer form exists, take the last number in the text (GSM8K style). */
  lastNumberFallback?: boolean;
  /** When no form exists, take the whole text (for completions that are only the answer). */
  wholeFallback?: boolean;
}

/**
 * The final answer of a completion: the last `\boxed{}` / `\fbox{}`, else the last explicit final-answer
 * phrase, else (only when asked) the last number or the whole text. `undefined` when none applies.
 */
export function extractAnswerWithSource(
  text: string,
  options: ExtractOptions = {},
): ExtractedAnswer | undefined {
  if (typeof text !== 'string') return undefined;
  const boxed = extractBoxed(text);
  if (boxed !== undefined && boxed !== '') return { answer: boxed, source: 'boxed' };
  const final = lastFinalAnswer(text);
  if (final !== undefined) {
    // "The final answer is $\boxed{5}$" was handled above; a box inside the phrase is unwrapped here too.
    return { answer: extractBoxed(final) ?? final, source: 'final-answer' };
  }
  if (options.lastNumberFallback) {
    const n = lastNumber(text);
    if (n !== undefined) return { answer: n, source: 'last-number' };
  }
  if (options.wholeFallback && text.trim() !== '') return { answer: text.trim(), source: 'whole' };
  return undefined;
}

/** {@link extractAnswerWithSource} without the source. */
export function extractAnswer(text: string, options: ExtractOptions = {}): string | undefined {
  return extractAnswerWithSource(text, options)?.answer;
}
