import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';

import { initBackend } from '../backend.js';
import { sftLoss } from './sft.js';
import { batchTensors, expectClose, randomBatch, sequenceLogProbs, softmax } from './test-reference.js';

beforeAll(async () => {
  await initBackend('cpu'); // also registers the gradients tfjs-core's node bundle lacks
});

describe('SFT loss', () => {
  it('is the mean −log π over completion tokens only', () => {
    const b = randomBatch(31, 5, 6, 7);
    const { sum, len } = sequenceLogProbs(b);
    const want = -sum.reduce((a, x) => a + x, 0) / len.reduce((a, x) => a + x, 0);
    const t = batchTensors(b);
    const loss = sftLoss(t);
    expect(loss.dataSync()[0]).toBeCloseTo(want, 5);
    tf.dispose([loss, t.logits, t.targetIds, t.completionMask]);
  });

  it('its gradient is (π − e_y)/count on completion positions and 0 on prompt/padding', () => {
    const b = randomBatch(32, 3, 4, 5);
    const count = b.mask.flat().reduce((a, m) => a + m, 0);
    const t = batchTensors(b);
    const g = tf.grad((x: tf.Tensor) => sftLoss({ ...t, logits: x as tf.Tensor3D }))(t.logits);
    const got = g.arraySync() as number[][][];
    b.logits.forEach((row, i) =>
      row.forEach((z, j) => {
        const want = b.mask[i][j]
          ? softmax(z).map((p, k) => (p - (k === b.targets[i][j] ? 1 : 0)) / count)
          : z.map(() => 0);
        expectClose(got[i][j], want, 1e-5);
      }),
    );
    tf.dispose([g, t.logits, t.targetIds, t.completionMask]);
  });
});
