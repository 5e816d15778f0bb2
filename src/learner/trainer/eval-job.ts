import type { OutboundPolicy } from '../../common/ssrf-guard.js';
import { initBackend } from '../backend.js';
import { decodeCheckpoint } from './checkpoint.js';
import { loadTrainingData } from './data-source.js';
import { evalMaxNewTokens, evaluatePolicy } from './evaluate.js';
import { loadPolicy, policyFromCheckpoint } from './policy-source.js';
import type { CheckpointBlob, EvalResult, TrainConfig } from './types.js';

export interface EvalJobResult extends EvalResult {
  backend: string;
  split: 'test' | 'train';
}

/**
 * An `eval` job: pass@k / avg@k of a model (or of another job's checkpoint) on the data's test split (the
 * training split when there is none). No training, no checkpoints.
 */
export async function runEvalJob(
  config: TrainConfig,
  base?: CheckpointBlob,
  outbound?: OutboundPolicy,
): Promise<EvalJobResult> {
  const info = await initBackend(config.backend ?? 'auto');
  const policy = base
    ? await policyFromCheckpoint(decodeCheckpoint(base))
    : await loadPolicy(config.model, config.seed);
  try {
    const data = loadTrainingData(config, outbound);
    const split = data.test.length ? 'test' : 'train';
    const res = await evaluatePolicy(policy, split === 'test' ? data.test : data.train, data.reward, {
      ...config.eval,
      maxNewTokens: evalMaxNewTokens(config),
      seed: config.seed,
    });
    return {
      step: base?.step ?? 0,
      n: res.n,
      k: res.k,
      pass_at_k: res.pass_at_k,
      avg_at_k: res.avg_at_k,
      examples: res.examples,
      backend: info.label,
      split,
    };
  } finally {
    policy.model.dispose();
  }
}
