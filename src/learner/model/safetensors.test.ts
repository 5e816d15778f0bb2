import { describe, expect, it } from 'vitest';
import { ModelError } from './errors.js';
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, roundToBf16 } from './float-formats.js';
import {
  readSafetensors,
  readSafetensorsHeader,
  type TensorRecord,
  writeSafetensors,
} from './safetensors.js';

function rawFile(header: unknown, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function expectModelError(fn: () => unknown, code: string, message: RegExp): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ModelError);
    expect((err as ModelError).code).toBe(code);
    expect((err as Error).message).toMatch(message);
    return;
  }
  throw new Error('expected a ModelError');
}

describe('16-bit float formats', () => {
  it('decodes known bit patterns', () => {
    expect(f16BitsToF32(0x3c00)).toBe(1);
    expect(f16BitsToF32(0xc000)).toBe(-2);
    expect(f16BitsToF32(0x7bff)).toBe(65504);
    expect(f16BitsToF32(0x0001)).toBe(2 ** -24);
    expect(f16BitsToF32(0x7c00)).toBe(Infinity);
    expect(bf16BitsToF32(0x3f80)).toBe(1);
    expect(bf16BitsToF32(0xc0a0)).toBe(-5);
  });

  it('rounds float32 to nearest, ties to even', () => {
    expect(f32ToF16Bits(1)).toBe(0x3c00);
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(1e6)).toBe(0x7c00);
    expect(f32ToF16Bits(2 ** -24)).toBe(0x0001);
    expect(f32ToF16Bits(2 ** -26)).toBe(0x0000);
    // 1 + 2^-11 is exactly between 1 and the next f16 (1 + 2^-10): ties go to the even mantissa (1).
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00);
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie → even
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(Number.isNaN(bf16BitsToF32(f32ToBf16Bits(NaN)))).toBe(true);
  });

  it('round-trips every finite f16 value exactly', () => {
    const mismatches: number[] = [];
    for (let bits = 0; bits < 0x10000; bits++) {
      const v = f16BitsToF32(bits);
      if (Number.isFinite(v) && f32ToF16Bits(v) !== bits) mismatches.push(bits);
    }
    expect(mismatches).toEqual([]);
  });

  it('roundToBf16 keeps 8 significant bits', () => {
    const r = roundToBf16(new Float32Array([Math.PI, -1 / 3]));
    expect(r[0]).toBeCloseTo(3.140625, 7);
    expect(Math.abs(r[1] + 1 / 3)).toBeLessThan(2 ** -9);
  });
});

describe('safetensors', () => {
  const tensors = new Map<string, TensorRecord>([
    ['a', { dtype: 'F32', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, -6.5]) }],
    ['b.bias', { dtype: 'BF16', shape: [3], data: new Float32Array([0.5, -2, 1 / 3]) }],
    ['c', { dtype: 'F16', shape: [1, 2], data: new Float32Array([0.1, 1000]) }],
    ['empty', { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) }],
  ]);

  it('round-trips names, shapes, dtypes, metadata and values', () => {
    const buf = writeSafetensors(tensors, { metadata: { format: 'pt', step: '7' } });
    const header = readSafetensorsHeader(buf);
    expect(header.metadata).toEqual({ format: 'pt', step: '7' });
    expect(header.dataStart % 8).toBe(0);
    const back = readSafetensors(buf);
    expect([...back.keys()]).toEqual(['a', 'b.bias', 'c', 'empty']);
    expect(back.get('a')).toEqual(tensors.get('a'));
    expect(back.get('b.bias')!.dtype).toBe('BF16');
    expect(Array.from(back.get('b.bias')!.data)).toEqual(
      Array.from(roundToBf16(tensors.get('b.bias')!.data)),
    );
    expect(back.get('c')!.data[0]).toBeCloseTo(0.1, 3);
    expect(back.get('c')!.data[1]).toBe(1000);
    expect(back.get('empty')!.shape).toEqual([0, 4]);
  });

  it('reads a file written by hand with an unaligned data section', () => {
    const data = new Uint8Array(new Float32Array([1.5, -2.25]).buffer);
    const buf = rawFile({ x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, data);
    expect(Array.from(readSafetensors(buf).get('x')!.data)).toEqual([1.5, -2.25]);
  });

  it('reads F64 and BF16 written by hand', () => {
    const f64 = new Uint8Array(new Float64Array([0.25]).buffer);
    const bf = new Uint8Array(new Uint16Array([0x3f80, 0xc0a0]).buffer);
    const data = new Uint8Array([...f64, ...bf]);
    const buf = rawFile(
      {
        d: { dtype: 'F64', shape: [], data_offsets: [0, 8] },
        h: { dtype: 'BF16', shape: [2], data_offsets: [8, 12] },
      },
      data,
    );
    const r = readSafetensors(buf);
    expect(Array.from(r.get('d')!.data)).toEqual([0.25]);
    expect(Array.from(r.get('h')!.data)).toEqual([1, -5]);
  });

  it('rejects corrupt files with a clear message', () => {
    expectModelError(
      () => readSafetensors(new Uint8Array(4)),
      'corrupt_safetensors',
      /shorter than the 8-byte header/,
    );
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 1000n, true);
    expectModelError(() => readSafetensors(huge), 'corrupt_safetensors', /header length 1000 exceeds/);
    const notJson = rawFile({});
    notJson.set(new TextEncoder().encode('{x'), 8);
    expectModelError(() => readSafetensors(notJson), 'corrupt_safetensors', /not valid JSON/);
    expectModelError(
      () =>
        readSafetensors(
          rawFile({ x: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, new Uint8Array(8)),
        ),
      'corrupt_safetensors',
      /"x" ends at byte 16 but the data section has 8 bytes/,
    );
    expectModelError(
      () =>
        readSafetensors(
          rawFile({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)),
        ),
      'corrupt_safetensors',
      /needs 12 bytes, offsets span 8/,
    );
    expectModelError(
      () =>
        readSafetensors(
          rawFile(
            {
              x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
              y: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
            },
            new Uint8Array(12),
          ),
        ),
      'corrupt_safetensors',
      /overlap/,
    );
    expectModelError(
      () => readSafetensors(rawFile({ x: { dtype: 'F32', shape: [-1], data_offsets: [0, 0] } })),
      'corrupt_safetensors',
      /invalid shape/,
    );
  });

  it('names unsupported dtypes', () => {
    const buf = rawFile({ ids: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8));
    expectModelError(
      () => readSafetensors(buf, 'ckpt.safetensors'),
      'unsupported_dtype',
      /ckpt.safetensors: tensor "ids" has dtype I64/,
    );
  });

  it('refuses to write a record whose data does not match its shape', () => {
    expect(() => writeSafetensors({ w: { dtype: 'F32', shape: [2, 2], data: new Float32Array(3) } })).toThrow(
      /"w": shape \[2,2\] has 4 elements, data has 3/,
    );
  });
});
