import * as tf from '@tensorflow/tfjs-core';

import { checkObjectiveBatch, maskedMean, tokenLogProbs, type ObjectiveBatch } from './tensor-ops.js';

/** Supervised fine-tuning: mean −log π(target) over completion tokens (prompt and padding excluded). */
export function sftLoss(batch: ObjectiveBatch): tf.Scalar {
  checkObjectiveBatch(batch);
  return tf.tidy(() => {
    const mask = tf.cast(batch.completionMask, 'float32');
    const lp = tokenLogProbs(tf.logSoftmax(batch.logits), batch.targetIds);
    return tf.neg(maskedMean(lp, mask));
  });
}
