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
    expect(Array.from(back.policy!.get('w')!.data)).toEqual([1, 2]);
    expect(Object.keys(back.state.tensors).sort()).toEqual(['optimizer', 'siamese']);
    expect(Array.from(back.state.tensors.siamese.get('w')!.data)).toEqual([3, 4]);
    expect(Array.from(back.state.tensors.optimizer.get('v/w')!.data)).toEqual([0.125, 1]);
    expect(back.state.scalars).toEqual({ optimizer_step: 3, g_max: 0.75 });
  });

  it('a LoRA checkpoint names its base in the metadata instead of storing it; one that stores it still decodes', () => {
    const base = { path: '/models/base', files: { 'config.json': 'a'.repeat(64) } };
    const lora = new Map([['m.lora_A.weight', rec(5)]]);
    const { policy: _p, ...rest } = contents({ tensors: {}, scalars: {} });
    const blob = encodeCheckpoint({ ...rest, base, lora });
    const header = readSafetensorsHeader(blob.bytes);
    expect([...header.entries.keys()]).toEqual(['lora/m.lora_A.weight']);
    expect(JSON.parse(header.metadata.base)).toEqual(base);
    const back = decodeCheckpoint(blob);
    expect(back.policy).toBeUndefined();
    expect(back.base).toEqual(base);
    expect(Array.from(back.lora!.get('m.lora_A.weight')!.data)).toEqual([5]);
    // Written before bases were named: the base as policy/*, no `base` key.
    const old = decodeCheckpoint(encodeCheckpoint({ ...contents({ tensors: {}, scalars: {} }), lora }));
    expect(old.base).toBeUndefined();
    expect(Array.from(old.policy!.get('w')!.data)).toEqual([1, 2]);
    // Neither the weights nor a named base with adapters: nothing to rebuild θ from.
    expect(() => encodeCheckpoint({ ...rest, base })).toThrow(CheckpointError);
    expect(() => encodeCheckpoint(rest)).toThrow(CheckpointError);
  });

  it('refuses algorithm state that would collide with the run’s own entries', () => {
    expect(() =>
      encodeCheckpoint(contents({ tensors: { policy: new Map([['w', rec(0)]]) }, scalars: {} })),
    ).toThrow(CheckpointError);
    expect(() => encodeCheckpoint(contents({ tensors: {}, scalars: { step: 1 } }))).toThrow(/reserved/);
  });
});
