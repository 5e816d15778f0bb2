import { describe, expect, it } from 'vitest';
import { readSafetensorsHeader, type TensorRecord } from '../model/safetensors.js';
import {
  CheckpointError,
  decodeCheckpoint,
  encodeCheckpoint,
  type CheckpointContents,
} from './checkpoint.js';
import { DEFAULT_CONFIG } from './config.js';

const rec = (...values: number[]): TensorRecord => ({
  dtype: 'F32',
  shape: [values.length],
  data: Float32Array.from(values),
});

function contents(state: CheckpointContents['state']): CheckpointContents {
  return {
    step: 3,
    config: DEFAULT_CONFIG,
    modelConfig: { hidden_size: 2 } as unknown as CheckpointContents['modelConfig'],
    tokenizer: 'char',
    rng: { algorithm: 'xoroshiro128plus', state: [1, 2, 3, 4] },
    policy: new Map([['w', rec(1, 2)]]),
    state,
  };
}

describe('checkpoint', () => {
  it('stores the algorithm state as tensor groups and metadata scalars, and gives it back', () => {
    const state = {
      tensors: {
        siamese: new Map([['w', rec(3, 4)]]),
        optimizer: new Map([
          ['m/w', rec(0.5, 0.25)],
          ['v/w', rec(0.125, 1)],
        ]),
      },
      scalars: { optimizer_step: 3, g_max: 0.75 },
    };
    const blob = encodeCheckpoint(contents(state));
    // The file layout is the one checkpoints always had: `<group>/<tensor>`, scalars as metadata strings.
    const header = readSafetensorsHeader(blob.bytes);
    expect(header.metadata).toMatchObject({ optimizer_step: '3', g_max: '0.75', step: '3' });
    const back = decodeCheckpoint(blob);
    expect(back.step).toBe(3);
    expect(Array.from(back.policy.get('w')!.data)).toEqual([1, 2]);
    expect(Object.keys(back.state.tensors).sort()).toEqual(['optimizer', 'siamese']);
    expect(Array.from(back.state.tensors.siamese.get('w')!.data)).toEqual([3, 4]);
    expect(Array.from(back.state.tensors.optimizer.get('v/w')!.data)).toEqual([0.125, 1]);
    expect(back.state.scalars).toEqual({ optimizer_step: 3, g_max: 0.75 });
  });

  it('refuses algorithm state that would collide with the run’s own entries', () => {
    expect(() =>
      encodeCheckpoint(contents({ tensors: { policy: new Map([['w', rec(0)]]) }, scalars: {} })),
    ).toThrow(CheckpointError);
    expect(() => encodeCheckpoint(contents({ tensors: {}, scalars: { step: 1 } }))).toThrow(/reserved/);
  });
});
