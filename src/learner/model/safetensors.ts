import { ModelError } from './errors.js';
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from './float-formats.js';

/**
 * The safetensors format: 8-byte little-endian header length N, N bytes of JSON
 * `{ "__metadata__": {string: string}, name: { dtype, shape, data_offsets: [begin, end] } }`, then the raw
 * little-endian tensor bytes (offsets relative to the end of the header). Everything is read into float32.
 */

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'F64';
const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

/** One tensor. On read, `dtype` is how it was stored; on write, how it will be stored. Data is always fp32. */
export interface TensorRecord {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsHeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

export interface SafetensorsHeader {
  metadata: Record<string, string>;
  entries: Map<string, SafetensorsHeaderEntry>;
  /** Byte offset in the buffer where tensor data starts. */
  dataStart: number;
}

const MAX_HEADER_BYTES = 100 * 1024 * 1024;

function corrupt(what: string, source?: string): ModelError {
  return new ModelError('corrupt_safetensors', `${source ? `${source}: ` : ''}corrupt safetensors: ${what}`);
}

function numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Parse and validate the header only (cheap: lets callers inspect names/shapes without decoding data). */
export function readSafetensorsHeader(buf: Uint8Array, source?: string): SafetensorsHeader {
  if (buf.byteLength < 8)
    throw corrupt(`${buf.byteLength} bytes is shorter than the 8-byte header length`, source);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(Math.min(buf.byteLength - 8, MAX_HEADER_BYTES))) {
    throw corrupt(`header length ${n} exceeds the file size (${buf.byteLength} bytes)`, source);
  }
  const headerLen = Number(n);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + headerLen)));
  } catch (err) {
    throw corrupt(`header is not valid JSON (${(err as Error).message})`, source);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    throw corrupt('header is not a JSON object', source);
  const dataStart = 8 + headerLen;
  const dataLen = buf.byteLength - dataStart;
  const metadata: Record<string, string> = {};
  const entries = new Map<string, SafetensorsHeaderEntry>();
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object')
        throw corrupt('__metadata__ must be an object of strings', source);
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== 'string') throw corrupt(`__metadata__.${k} must be a string`, source);
        metadata[k] = v;
      }
      continue;
    }
    const e = raw as Partial<SafetensorsHeaderEntry>;
    if (typeof e?.dtype !== 'string') throw corrupt(`tensor "${name}" has no dtype`, source);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw corrupt(`tensor "${name}" has an invalid shape ${JSON.stringify(e.shape)}`, source);
    }
    const off = e.data_offsets;
    if (
      !Array.isArray(off) ||
      off.length !== 2 ||
      !off.every((o) => Number.isInteger(o) && o >= 0) ||
      off[0] > off[1]
    ) {
      throw corrupt(`tensor "${name}" has invalid data_offsets ${JSON.stringify(off)}`, source);
    }
    if (off[1] > dataLen) {
      throw corrupt(
        `tensor "${name}" ends at byte ${off[1]} but the data section has ${dataLen} bytes`,
        source,
      );
    }
    const size = DTYPE_BYTES[e.dtype as SafetensorsDtype];
    if (size !== undefined && off[1] - off[0] !== numel(e.shape) * size) {
      throw corrupt(
        `tensor "${name}" (${e.dtype} ${JSON.stringify(e.shape)}) needs ${numel(e.shape) * size} bytes, offsets span ${off[1] - off[0]}`,
        source,
      );
    }
    entries.set(name, { dtype: e.dtype, shape: e.shape, data_offsets: [off[0], off[1]] });
  }
  const spans = [...entries.entries()].map(([name, e]) => ({
    name,
    b: e.data_offsets[0],
    e: e.data_offsets[1],
  }));
  spans.sort((x, y) => x.b - y.b || x.e - y.e);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i].b < spans[i - 1].e)
      throw corrupt(`tensors "${spans[i - 1].name}" and "${spans[i].name}" overlap`, source);
  }
  return { metadata, entries, dataStart };
}

/** Decode one tensor's bytes into float32. */
export function decodeTensor(
  buf: Uint8Array,
  header: SafetensorsHeader,
  name: string,
  source?: string,
): TensorRecord {
  const e = header.entries.get(name);
  if (!e) throw new ModelError('missing_tensor', `${source ? `${source}: ` : ''}tensor "${name}" not found`);
  const dtype = e.dtype as SafetensorsDtype;
  if (DTYPE_BYTES[dtype] === undefined) {
    throw new ModelError(
      'unsupported_dtype',
      `${source ? `${source}: ` : ''}tensor "${name}" has dtype ${e.dtype}; supported: ${Object.keys(DTYPE_BYTES).join(', ')}`,
    );
  }
  const begin = header.dataStart + e.data_offsets[0];
  const n = numel(e.shape);
  // Copy the bytes first: the slice may not be aligned for a typed-array view. (Uint8Array's slice, because
  // Buffer#slice returns a view into Node's shared pool.)
  const bytes = Uint8Array.prototype.slice.call(buf, begin, begin + n * DTYPE_BYTES[dtype]);
  let data: Float32Array;
  if (dtype === 'F32') {
    data = new Float32Array(bytes.buffer, 0, n);
  } else if (dtype === 'F64') {
    data = Float32Array.from(new Float64Array(bytes.buffer, 0, n));
  } else {
    const bits = new Uint16Array(bytes.buffer, 0, n);
    const conv = dtype === 'BF16' ? bf16BitsToF32 : f16BitsToF32;
    data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = conv(bits[i]);
  }
  return { dtype, shape: [...e.shape], data };
}

/** Read every tensor of a safetensors buffer into float32. */
export function readSafetensors(buf: Uint8Array, source?: string): Map<string, TensorRecord> {
  const header = readSafetensorsHeader(buf, source);
  const out = new Map<string, TensorRecord>();
  for (const name of header.entries.keys()) out.set(name, decodeTensor(buf, header, name, source));
  return out;
}

function encode(rec: TensorRecord): Uint8Array {
  const n = rec.data.length;
  switch (rec.dtype) {
    case 'F32':
      return new Uint8Array(rec.data.buffer.slice(rec.data.byteOffset, rec.data.byteOffset + n * 4));
    case 'F64':
      return new Uint8Array(Float64Array.from(rec.data).buffer);
    case 'BF16':
    case 'F16': {
      const conv = rec.dtype === 'BF16' ? f32ToBf16Bits : f32ToF16Bits;
      const bits = new Uint16Array(n);
      for (let i = 0; i < n; i++) bits[i] = conv(rec.data[i]);
      return new Uint8Array(bits.buffer);
    }
    default:
      throw new ModelError(
        'unsupported_dtype',
        `cannot write dtype ${String(rec.dtype)}; supported: ${Object.keys(DTYPE_BYTES).join(', ')}`,
      );
  }
}

/** Serialise tensors (in the given order) with optional string metadata. */
export function writeSafetensors(
  tensors: Map<string, TensorRecord> | Record<string, TensorRecord>,
  opts: { metadata?: Record<string, string> } = {},
): Uint8Array {
  const list = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (opts.metadata && Object.keys(opts.metadata).length) header.__metadata__ = opts.metadata;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, rec] of list) {
    if (name === '__metadata__')
      throw new ModelError('invalid_config', 'tensor name "__metadata__" is reserved');
    if (numel(rec.shape) !== rec.data.length) {
      throw new ModelError(
        'shape_mismatch',
        `tensor "${name}": shape ${JSON.stringify(rec.shape)} has ${numel(rec.shape)} elements, data has ${rec.data.length}`,
      );
    }
    const bytes = encode(rec);
    header[name] = { dtype: rec.dtype, shape: rec.shape, data_offsets: [offset, offset + bytes.byteLength] };
    chunks.push(bytes);
    offset += bytes.byteLength;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
  const padded = Math.ceil(json.byteLength / 8) * 8;
  if (padded !== json.byteLength) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  let pos = 8 + json.byteLength;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.byteLength;
  }
  return out;
}

/** Bytes a tensor takes when written with its dtype (for shard planning). */
export function encodedSize(rec: Pick<TensorRecord, 'dtype' | 'shape'>): number {
  return numel(rec.shape) * DTYPE_BYTES[rec.dtype];
}
