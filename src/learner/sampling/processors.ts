/**
 * Logits processors in the transformers.js style: small steps applied in order to one row of logits
 * (a Float32Array over the vocabulary, modified in place). Removed tokens get -Infinity.
 */
export interface LogitsProcessor {
  readonly name: string;
  process(logits: Float32Array, ctx: ProcessorContext): void;
}

/** Where the row being processed stands (for processors that depend on history, e.g. repetition penalties). */
export interface ProcessorContext {
  /** Batch row (prompt-major: row = prompt · G + sample). */
  row: number;
  prompt: readonly number[];
  /** Tokens generated so far for this row. */
  completion: readonly number[];
}

export class TemperatureProcessor implements LogitsProcessor {
  readonly name = 'temperature';
  constructor(readonly temperature: number) {
    if (!(temperature > 0) || !Number.isFinite(temperature)) {
      throw new Error(
        `temperature: must be a positive number (use greedy decoding for 0), got ${temperature}`,
      );
    }
  }
  process(logits: Float32Array): void {
    for (let i = 0; i < logits.length; i++) logits[i] /= this.temperature;
  }
}

/** Keep the k highest logits (ties with the k-th value are kept, as in transformers). */
export class TopKProcessor implements LogitsProcessor {
  readonly name = 'top_k';
  constructor(readonly k: number) {
    if (!Number.isInteger(k) || k < 1) throw new Error(`top_k: must be a positive integer, got ${k}`);
  }
  process(logits: Float32Array): void {
    if (this.k >= logits.length) return;
    const kth = Float32Array.from(logits).sort((a, b) => b - a)[this.k - 1];
    for (let i = 0; i < logits.length; i++) if (logits[i] < kth) logits[i] = -Infinity;
  }
}

/**
 * Nucleus sampling: keep the most probable tokens until their cumulative probability reaches p (the token that
 * crosses p is kept), at least `minTokensToKeep`.
 */
export class TopPProcessor implements LogitsProcessor {
  readonly name = 'top_p';
  constructor(
    readonly p: number,
    readonly minTokensToKeep = 1,
  ) {
    if (!(p > 0 && p <= 1)) throw new Error(`top_p: must be in (0, 1], got ${p}`);
  }
  process(logits: Float32Array): void {
    if (this.p >= 1) return;
    const probs = softmax(logits);
    const order = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a]);
    let cum = 0;
    let keep = 0;
    while (keep < order.length && (cum < this.p || keep < this.minTokensToKeep)) cum += probs[order[keep++]];
    for (let i = keep; i < order.length; i++) logits[order[i]] = -Infinity;
  }
}

export interface SamplingSettings {
  /** 0 = greedy. Default 1. */
  temperature?: number;
  /** 0 = off. */
  topK?: number;
  /** 1 = off. */
  topP?: number;
}

/** The usual chain (temperature → top-k → top-p), leaving out steps that would do nothing. */
export function buildProcessors(s: SamplingSettings): LogitsProcessor[] {
  const out: LogitsProcessor[] = [];
  const t = s.temperature ?? 1;
  if (t !== 1 && t !== 0) out.push(new TemperatureProcessor(t));
  if (s.topK !== undefined && s.topK !== 0) out.push(new TopKProcessor(s.topK));
  if (s.topP !== undefined && s.topP !== 1) out.push(new TopPProcessor(s.topP));
  return out;
}

/** Numerically stable softmax of a row (float64 accumulation). */
export function softmax(logits: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  const out = new Float64Array(logits.length);
  if (max === -Infinity) throw new Error('softmax: every logit is -Infinity (processors removed all tokens)');
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    out[i] = Math.exp(logits[i] - max);
    sum += out[i];
  }
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}

/** log softmax of a row evaluated at one index. */
export function logSoftmaxAt(logits: Float32Array, index: number): number {
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  return logits[index] - max - Math.log(sum);
}
