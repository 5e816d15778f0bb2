import { FieldError } from '../learner/field-error.js';
import { ModelError } from '../learner/model/errors.js';
import { formatBackendInfo, initBackend } from '../learner/backend.js';
import { readExamplesJsonl } from '../learner/data/jsonl.js';
import { OVERLONG_POLICIES, type OverlongPolicy } from '../learner/data/prompt.js';
import { getTask } from '../learner/tasks/index.js';
import { mathScorer, taskScorer, type Scorer } from '../learner/trainer/data-source.js';
import { evaluatePolicy } from '../learner/trainer/evaluate.js';
import { resolveConfig } from '../learner/trainer/config.js';
import { loadPolicy, withPromptTemplate } from '../learner/trainer/policy-source.js';
import type { Example, TrainConfig } from '../learner/trainer/types.js';

export interface EvalCommandOptions {
  model?: string;
  builtin?: string;
  data?: string;
  task?: string;
  n: string;
  k: string;
  temperature: string;
  topP?: string;
  maxNewTokens: string;
  limit?: string;
  seed: string;
  overlong?: string;
  backend?: TrainConfig['backend'];
  promptTemplate?: TrainConfig['data']['prompt_template'];
}

function overlongPolicy(v: string | undefined): OverlongPolicy {
  const p = v ?? 'error';
  if (!(OVERLONG_POLICIES as readonly string[]).includes(p))
    throw new Error(`--overlong must be one of ${OVERLONG_POLICIES.join(', ')}, got "${v}"`);
  return p as OverlongPolicy;
}

function int(name: string, v: string | undefined, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got "${v}"`);
  return n;
}

/** `popo eval`: the same evaluation the trainer runs before and after training, on any model and test set. */
export async function runEval(o: EvalCommandOptions): Promise<number> {
  let examples: Example[];
  let score: Scorer;
  let settings;
  try {
    if (!o.model === !o.builtin) throw new Error('give exactly one of --model <dir> or --builtin <name>');
    if (!o.data === !o.task)
      throw new Error('give exactly one of --data <file.jsonl> or --task <name:difficulty>');
    const seed = int('seed', o.seed, 0);
    if (o.task) {
      const [name, diff = '1'] = o.task.split(':');
      const difficulty = Number(diff);
      // Validates the name and difficulty with the trainer's messages; the test split is then read whole.
      resolveConfig({ seed, data: { task: { name, difficulty, n_train: 1, n_test: 1 } } });
      const task = getTask(name);
      const n = o.limit ? int('limit', o.limit, 1) : 500;
      examples = task.generate({ split: 'test', n, seed, difficulty, upTo: true });
      score = taskScorer(task);
    } else {
      const rows = readExamplesJsonl(o.data!);
      // A file with a held-out split is scored on it; otherwise every row is.
      examples = rows.test.length ? rows.test : rows.train;
      score = mathScorer;
    }
    const n = int('n', o.n, 1);
    settings = {
      n,
      k: int('k', o.k, 1),
      temperature: Number(o.temperature),
      top_p: o.topP === undefined ? 1 : Number(o.topP),
      max_examples: o.limit ? int('limit', o.limit, 1) : examples.length,
      maxNewTokens: int('max-new-tokens', o.maxNewTokens, 1),
      seed,
      overlong: overlongPolicy(o.overlong),
    };
    if (settings.k > n) throw new Error(`--k (${settings.k}) must be <= --n (${n})`);
    if (!(settings.temperature >= 0)) throw new Error(`--temperature must be >= 0, got "${o.temperature}"`);
    if (!(settings.top_p > 0 && settings.top_p <= 1))
      throw new Error(`--top-p must be a number > 0 and <= 1, got "${o.topP}"`);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 2;
  }
  const info = await initBackend(o.backend);
  let loaded;
  try {
    loaded = await loadPolicy(o.model ? { path: o.model } : { builtin: o.builtin }, Number(o.seed));
  } catch (e) {
    // A model that is not there or not a model is the caller's input: say which flag, no stack trace.
    if (e instanceof FieldError) {
      const flag = { 'model.builtin': '--builtin', 'model.path': '--model' }[e.field] ?? e.field;
      process.stderr.write(`${flag}: ${e.reason}\n`);
      return 2;
    }
    if (e instanceof ModelError) {
      process.stderr.write(`--model: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  try {
    const policy = withPromptTemplate(loaded, o.promptTemplate ?? 'none');
    process.stderr.write(
      `evaluating ${Math.min(settings.max_examples, examples.length)} problems × ${settings.n} samples on ${formatBackendInfo(info)}\n`,
    );
    let r;
    try {
      r = await evaluatePolicy(policy, examples, score, settings);
    } catch (e) {
      if (!(e instanceof FieldError)) throw e;
      process.stderr.write(
        `${e.field === 'data.overlong' ? '--overlong (data.overlong)' : e.field}: ${e.reason}\n`,
      );
      return 2;
    }
    process.stdout.write(
      JSON.stringify({
        examples: r.examples,
        n: r.n,
        k: r.k,
        [`pass@${r.k}`]: r.pass_at_k,
        [`avg@${r.k}`]: r.avg_at_k,
        overlong: { policy: r.overlong.policy, count: r.overlong.count, limit: r.overlong.limit },
      }) + '\n',
    );
    return 0;
  } catch (e) {
    if (!(e instanceof FieldError)) throw e;
    process.stderr.write(`--prompt-template: ${e.reason}\n`);
    return 2;
  } finally {
    loaded.model.dispose();
  }
}
