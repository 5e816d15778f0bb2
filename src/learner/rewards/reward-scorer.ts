import { checkOutboundUrl, OutboundPolicy } from '../../common/ssrf-guard.js';
import { parseRun } from '../trainer/config.js';
import { extractAnswerWithSource } from './extract.js';
import { HttpGrader } from './http-grader.js';
import { rewardSetSpec, type RewardComponentSpec, type RewardSetSpec } from './reward-spec.js';
import { verifyMath } from './verify-math.js';

/** One completion to score, with its prompt and reference answer(s). */
export interface RewardSample {
  prompt: string;
  completion: string;
  answer: string;
  /** Further accepted answers (math and exact match accept any). */
  answers?: string[];
}

export interface ComponentScore {
  name: string;
  type: RewardComponentSpec['type'];
  weight: number;
  score: number;
  reason: string;
  extracted?: string;
  error?: boolean;
  /** HTTP grader: the calls made (retries included). */
  attempts?: number;
}

export interface SampleScore {
  /** Weighted mean of the component scores. */
  score: number;
  positive: boolean;
  components: ComponentScore[];
}

/** Regular expressions see at most the completion's last 64 KiB (bounded time on degenerate outputs). */
const REGEX_WINDOW = 64 * 1024;

type Scored = Omit<ComponentScore, 'name' | 'type' | 'weight'>;
type ComponentFn = (s: RewardSample) => Scored | Promise<Scored>;

const golds = (s: RewardSample) => [s.answer, ...(s.answers ?? [])].filter((a) => typeof a === 'string');
const squash = (t: string) => t.replace(/\s+/g, ' ').trim();

function componentFn(spec: RewardComponentSpec, policy: OutboundPolicy): ComponentFn {
  switch (spec.type) {
    case 'math':
      return (s) => {
        const r = verifyMath(s.completion, golds(s), {
          mode: spec.mode,
          lastNumberFallback: spec.last_number_fallback,
        });
        return { score: r.correct ? 1 : 0, reason: r.reason, extracted: r.extracted };
      };
    case 'exact_match':
      return (s) => {
        const norm = (t: string) => (spec.case_sensitive ? squash(t) : squash(t).toLowerCase());
        const found = extractAnswerWithSource(s.completion, { wholeFallback: true });
        if (!found) return { score: 0, reason: 'empty completion' };
        const ok = golds(s).map(norm).includes(norm(found.answer));
        return { score: ok ? 1 : 0, reason: ok ? 'exact match' : 'no exact match', extracted: found.answer };
      };
    case 'regex':
      return (s) => {
        const escaped = s.answer.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        const re = new RegExp(spec.pattern.replaceAll('{answer}', escaped), spec.flags);
        const m = re.exec(s.completion.slice(-REGEX_WINDOW));
        return m
          ? { score: 1, reason: 'pattern matched', extracted: m[0] }
          : { score: 0, reason: 'no match' };
      };
    case 'http': {
      const grader = new HttpGrader({
        url: spec.url,
        timeoutMs: spec.timeout_ms,
        retries: spec.retries,
        concurrency: spec.concurrency,
        headers: spec.headers,
        policy,
      });
      return (s) => grader.grade({ prompt: s.prompt, completion: s.completion, answer: s.answer });
    }
  }
}

/**
 * Scores samples against a reward set: each component gives 0..1, the sample's score is their weighted mean
 * and it is positive at or above `positive_threshold`. Components never throw: a failing grader or an invalid
 * sample scores 0 with the reason.
 */
export class RewardScorer {
  private readonly fns: { spec: RewardComponentSpec; name: string; fn: ComponentFn }[];

  constructor(
    readonly spec: RewardSetSpec,
    policy: OutboundPolicy = new OutboundPolicy(),
  ) {
    const names = new Map<string, number>();
    this.fns = spec.rewards.map((c) => {
      const base = c.name ?? c.type;
      const n = (names.get(base) ?? 0) + 1;
      names.set(base, n);
      return { spec: c, name: n === 1 ? base : `${base}_${n}`, fn: componentFn(c, policy) };
    });
  }

  async score(sample: RewardSample): Promise<SampleScore> {
    return this.scoreNow(sample);
  }

  /**
   * The score, synchronously when every component answers synchronously (math, exact match, regex): the trainer
   * scores thousands of completions a step and only an HTTP grader has to wait.
   */
  scoreNow(sample: RewardSample): SampleScore | Promise<SampleScore> {
    const results = this.fns.map(({ spec, name, fn }) => {
      const done = (r: Scored): ComponentScore => ({ name, type: spec.type, weight: spec.weight, ...r });
      const failed = (e: unknown): ComponentScore =>
        done({ score: 0, reason: `reward error: ${(e as Error).message}`, error: true });
      try {
        const r = fn(sample);
        return r instanceof Promise ? r.then(done, failed) : done(r);
      } catch (e) {
        return failed(e);
      }
    });
    if (results.some((r) => r instanceof Promise))
      return Promise.all(results).then((components) => this.combine(components));
    return this.combine(results as ComponentScore[]);
  }

  /** Component names in order (`<name or type>`, `_2`, `_3`… for repeats): the keys of per-component metrics. */
  get componentNames(): string[] {
    return this.fns.map((f) => f.name);
  }

  private combine(components: ComponentScore[]): SampleScore {
    const total = components.reduce((a, c) => a + c.weight, 0);
    const score = components.reduce((a, c) => a + c.weight * c.score, 0) / total;
    return { score, positive: score >= this.spec.positive_threshold, components };
  }

  scoreAll(samples: RewardSample[]): Promise<SampleScore[]> {
    return Promise.all(samples.map((s) => this.score(s)));
  }
}

/** Validates a reward set (throws ConfigError naming each bad field, e.g. `rewards.1.pattern`). */
export function parseRewardSet(input: unknown): RewardSetSpec {
  return parseRun(rewardSetSpec, input);
}

/**
 * The HTTP graders' URLs checked against the outbound policy now (the connection checks again): refusals as
 * `{field, reason}`, empty when every URL may be reached.
 */
export async function rewardUrlIssues(
  spec: RewardSetSpec,
  policy: OutboundPolicy,
): Promise<{ field: string; reason: string }[]> {
  const issues: { field: string; reason: string }[] = [];
  for (const [i, c] of spec.rewards.entries()) {
    if (c.type !== 'http') continue;
    const why = await checkOutboundUrl(c.url, policy);
    if (why) issues.push({ field: `rewards.${i}.url`, reason: why });
  }
  return issues;
}
