import type { VerifyMode } from './extract.js';

/** The outcome of one answer check. `reason` says which comparison decided, for logs and debugging. */
export interface VerifyResult {
  correct: boolean;
  reason: string;
  /** The answer taken from the completion (before normalisation), when one was found. */
  extracted?: string;
}

export interface VerifyOptions {
  /**
   * `strict` (default): only a boxed or phrase-marked answer counts and decimal commas are not read.
   * `math_verify`: Math-Verify's leniencies too (the last math/number in unmarked text; `2,74` = 2.74).
   */
  mode?: VerifyMode;
  /** Relative tolerance for numeric and symbolic comparison (default 1e-6). Two decimal literals compare exactly. */
  relTol?: number;
  /** Use compute-engine for expressions (default true). Off: string and plain-number comparison only. */
  symbolic?: boolean;
  /** Wall-clock limit for the symbolic part of one check, in ms (default 3000). */
  timeoutMs?: number;
  /** No \boxed{} or final-answer phrase: take the last number in the completion (default false). */
  lastNumberFallback?: boolean;
  /** No \boxed{} or final-answer phrase: take the whole completion as the answer (default false). */
  wholeFallback?: boolean;
}

/** What a reward function needs of a dataset row; the trainer's `Example` fits it. */
export interface RewardExample {
  answer: string;
  /** Further accepted answers (e.g. Minerva's alternatives); any match counts. */
  answers?: string[];
}

export interface RewardResult {
  reward: number;
  correct: boolean;
  reason: string;
  extracted?: string;
}

/** A verifier the trainer can plug in: it must never throw. */
export type RewardFn = (completion: string, example: RewardExample) => RewardResult;
