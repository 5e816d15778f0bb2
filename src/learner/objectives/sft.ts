import * as tf from '@tensorflow/tfjs-core';

import { checkObjectiveBatch, tokenLogProbs, type ObjectiveBatch } from './tensor-ops.js';

/**
 * Supervised fine-tuning: mean −log π(target) over completion tokens (prompt and padding excluded). For a
 * micro-batch, `completionTokens` is the whole batch's count, so the micro-batches' losses sum to the batch's.
 */
export function sftLoss(batch: ObjectiveBatch, completionTokens?: number): tf.Scalar {
  checkObjectiveBatch(batch);
  return tf.tidy(() => {
    const mask = tf.cast(batch.completionMask, 'float32');
    const lp = tokenLogProbs(tf.logSoftmax(batch.logits), batch.targetIds);
    const count = completionTokens ?? tf.sum(mask);
    return tf.neg(tf.div(tf.sum(tf.mul(lp, mask)), tf.maximum(count, 1)));
  });
}
