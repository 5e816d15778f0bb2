import { z } from 'zod';
import { field } from '../trainer/spec-fields.js';
import { VERIFY_MODES } from './extract.js';

/**
 * The declarative form of a reward: one or more components, each the built-in math verifier, an exact match, a
 * regular expression or a user-supplied HTTP grader, combined by weight. A sample is positive when the weighted
 * mean of its component scores is at or above `positive_threshold` (POPO learns only from positives).
 */

const { num, oneOf, bool, text, section } = field;

const common = {
  name: text(
    'Name of this component in per-component scores and metrics (default: its type).',
    64,
  ).optional(),
  weight: num({ gt: 0, lte: 1000 }, 'Weight of this component in the weighted mean.').default(1),
};

export const mathRewardSpec = section(
  {
    type: z.literal('math'),
    mode: oneOf(
      VERIFY_MODES as unknown as readonly ['strict', 'math_verify'],
      '`strict`: only a boxed or phrase-marked answer counts; `math_verify`: also the last math or number in ' +
        'unmarked text and decimal commas, as Hugging Face Math-Verify.',
    ).default('strict'),
    last_number_fallback: bool(
      'No marked answer: take the last number in the completion (GSM8K style).',
    ).default(false),
    ...common,
  },
  'The built-in math answer verifier (docs/verifier.md): 1 when the final answer equals the reference answer.',
);

export const exactRewardSpec = section(
  {
    type: z.literal('exact_match'),
    case_sensitive: bool('Compare letter case too.').default(true),
    ...common,
  },
  'Exact match of the final answer (boxed/answer phrase, else the whole completion) with the reference answer, ' +
    'whitespace collapsed.',
);

/** Nested quantifiers ("(a+)+", "(\\w*)*") backtrack exponentially on untrusted text; they are refused. */
const NESTED_QUANTIFIER = /\((?:[^()\\]|\\.)*[*+}](?:[^()\\]|\\.)*\)\s*(?:[*+?]|\{\d)/;

export const regexRewardSpec = section(
  {
    type: z.literal('regex'),
    pattern: text(
      'JavaScript regular expression; 1 when it matches the completion. `{answer}` stands for the reference ' +
        'answer, escaped (e.g. "\\\\boxed\\{\\s*{answer}\\s*\\}").',
      1000,
    ).superRefine((pattern, ctx) => {
      if (NESTED_QUANTIFIER.test(pattern)) {
        ctx.addIssue({ code: 'custom', message: 'must not nest quantifiers (catastrophic backtracking)' });
        return;
      }
      try {
        new RegExp(pattern.replaceAll('{answer}', 'x'));
      } catch (e) {
        ctx.addIssue({
          code: 'custom',
          message: `is not a valid regular expression (${(e as Error).message})`,
        });
      }
    }),
    flags: z
      .string({ error: 'must be a string' })
      .regex(/^(?!.*(.).*\1)[imsu]*$/, { error: 'must be distinct letters of i, m, s, u' })
      .default('')
      .meta({ description: 'Regular expression flags (i, m, s, u).' }),
    ...common,
  },
  'A regular expression over the completion (a format or answer check).',
);

export const httpRewardSpec = section(
  {
    type: z.literal('http'),
    url: text(
      'Grader URL: receives POST {prompt, completion, answer} and answers {score} with 0 <= score <= 1. ' +
        'Loopback, private, link-local and metadata addresses are refused unless POPO_OUTBOUND_ALLOW allows them.',
      2048,
    ),
    timeout_ms: num(
      { int: true, gte: 100, lte: 60_000 },
      'Time for one grader call, connect to last byte.',
    ).default(10_000),
    retries: num(
      { int: true, gte: 0, lte: 5 },
      'Further attempts after a timeout, a network error, a 429 or a 5xx (exponential backoff).',
    ).default(2),
    concurrency: num({ int: true, gte: 1, lte: 64 }, 'Grader calls in flight at once.').default(4),
    headers: z
      .record(
        z.string().regex(/^[A-Za-z0-9-]{1,64}$/, { error: 'header names are letters, digits and dashes' }),
        z.string({ error: 'must be a string' }).max(4096, { error: 'must be at most 4096 characters' }),
        { error: 'must be an object of header names to strings' },
      )
      .optional()
      .meta({ description: 'Extra request headers (e.g. Authorization for the grader).' }),
    ...common,
  },
  'A user-supplied HTTP grader.',
);

export const rewardComponentSpec = z.discriminatedUnion(
  'type',
  [mathRewardSpec, exactRewardSpec, regexRewardSpec, httpRewardSpec],
  { error: 'must be an object with type math, exact_match, regex or http' },
);

/** One to 16 components: a run's `rewards` and a reward set's. */
export const rewardListSpec = z
  .array(rewardComponentSpec, { error: 'must be an array' })
  .min(1, { error: 'must hold at least one reward' })
  .max(16, { error: 'must hold at most 16 rewards' });

export const rewardSetSpec = section(
  {
    rewards: rewardListSpec.meta({ description: 'Reward components, combined by weighted mean.' }),
    positive_threshold: num(
      { gte: 0, lte: 1 },
      'A sample is positive when the weighted mean of its component scores is at or above this value.',
    ).default(0.5),
  },
  'Rewards combined by weight.',
);

export type RewardComponentSpec = z.output<typeof rewardComponentSpec>;
export type RewardSetSpec = z.output<typeof rewardSetSpec>;
export type RewardSetInput = z.input<typeof rewardSetSpec>;
