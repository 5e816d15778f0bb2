import * as tf from '@tensorflow/tfjs-core';

/**
 * Loss functions run inside `tf.variableGrads` / `optimizer.minimize`, whose tidy disposes every tensor but the
 * returned loss. Statistics therefore travel in a side channel: kept here, read and disposed after the step.
 */
export type StatTensors<T = Record<string, tf.Tensor>> = { [K in keyof T]: tf.Tensor };

export type ReadStats<T extends StatTensors<T>> = {
  [K in keyof T]: T[K] extends tf.Scalar ? number : number[];
};

export function keepStats<T extends StatTensors<T>>(stats: T): T {
  for (const t of Object.values<tf.Tensor>(stats)) tf.keep(t);
  return stats;
}

/** Reads every tensor (scalars as numbers, others as flat arrays) and disposes them. */
export async function readStats<T extends StatTensors<T>>(stats: T): Promise<ReadStats<T>> {
  const out: Record<string, number | number[]> = {};
  try {
    for (const [key, t] of Object.entries<tf.Tensor>(stats)) {
      const values = Array.from(await t.data());
      out[key] = t.rank === 0 ? values[0] : values;
    }
  } finally {
    disposeStats(stats);
  }
  return out as ReadStats<T>;
}

export function disposeStats<T extends StatTensors<T>>(stats: T): void {
  for (const t of Object.values<tf.Tensor>(stats)) if (!t.isDisposed) t.dispose();
}
