import { describe, expect, it } from 'vitest';
import { UNSAFE_TEXT_REASON } from '../../common/hostile-input.js';
import { parseDatasetLine } from './jsonl-line.js';
import { BodyTooLargeError, LineTooLongError, readLines } from './line-reader.js';

async function* chunks(...parts: (string | Buffer)[]) {
  for (const p of parts) yield typeof p === 'string' ? Buffer.from(p) : p;
}

async function collect(it: AsyncIterable<{ lineNo: number; text: string }>) {
  const out: [number, string][] = [];
  for await (const l of it) out.push([l.lineNo, l.text]);
  return out;
}

describe('readLines', () => {
  it('splits across chunk boundaries, handles CRLF and a missing final newline', async () => {
    const lines = await collect(readLines(chunks('ab', 'c\r\nde', 'f\n\ng'), 1000));
    expect(lines).toEqual([
      [1, 'abc'],
      [2, 'def'],
      [3, ''],
      [4, 'g'],
    ]);
  });

  it('keeps a multi-byte character that is split between chunks intact', async () => {
    const bytes = Buffer.from('{"problem":"π²"}\n');
    const cut = bytes.indexOf(0xcf) + 1; // inside the two-byte "π"
    const lines = await collect(readLines(chunks(bytes.subarray(0, cut), bytes.subarray(cut)), 1000));
    expect(lines).toEqual([[1, '{"problem":"π²"}']]);
  });

  it('throws once the byte count passes the limit', async () => {
    await expect(collect(readLines(chunks('12345', '67890', 'x'), 10))).rejects.toBeInstanceOf(
      BodyTooLargeError,
    );
    await expect(collect(readLines(chunks('12345', '67890'), 10))).resolves.toHaveLength(1);
  });

  it('refuses a line past the per-line limit, naming it, whether or not a newline ever comes', async () => {
    const limit = 1000;
    const ok = 'x'.repeat(limit);
    await expect(collect(readLines(chunks(`${ok}\r\n${ok}\n`), 1e9, undefined, limit))).resolves.toHaveLength(
      2,
    );
    const long = readLines(chunks(`${ok}\n`, 'y'.repeat(600), 'y'.repeat(600)), 1e9, undefined, limit);
    await expect(collect(long)).rejects.toMatchObject({ constructor: LineTooLongError, lineNo: 2, limit });
  });

  it('reads one 30 MB line arriving in 64 KiB chunks without rescanning it per chunk', async () => {
    const chunk = Buffer.alloc(64 * 1024, 'a');
    async function* body() {
      for (let i = 0; i < 480; i++) yield chunk;
      yield Buffer.from('\n');
    }
    const lines = await collect(readLines(body(), 1e9));
    expect(lines).toHaveLength(1);
    expect(lines[0][1].length).toBe(480 * 64 * 1024);
  });
});

describe('parseDatasetLine', () => {
  it('accepts problem/answer with extra fields, and numeric answers as text', () => {
    expect(parseDatasetLine('{"problem":"1+1","answer":2,"id":"x"}', 1)).toEqual({
      row: { problem: '1+1', answer: '2', extra: { id: 'x' } },
      errors: [],
    });
  });

  it.each([
    ['{"answer":"1"}', 'line 4.problem', 'is required'],
    ['{"problem":"  ","answer":"1"}', 'line 4.problem', 'must be a non-empty string'],
    ['{"problem":"p","answer":null}', 'line 4.answer', 'must be a non-empty string or a finite number'],
    ['{"problem":"p","answer":"a","completion":5}', 'line 4.completion', 'must be a string'],
    ['{"problem":"p\\u0000","answer":"a"}', 'line 4.problem', UNSAFE_TEXT_REASON],
    ['{"problem":"p","answer":"a","t":["\\ud800"]}', 'line 4.t.0', UNSAFE_TEXT_REASON],
    ['"just a string"', 'line 4', 'must be a JSON object'],
    ['null', 'line 4', 'must be a JSON object'],
  ])('%s → %s %s', (text, field, reason) => {
    const { row, errors } = parseDatasetLine(text, 4);
    expect(row).toBeUndefined();
    expect(errors).toContainEqual({ field, reason });
  });

  it('reports invalid JSON with the parser`s reason', () => {
    const { errors } = parseDatasetLine('{"problem": }', 9);
    expect(errors).toHaveLength(1);
    expect(errors[0].field).toBe('line 9');
    expect(errors[0].reason).toMatch(/^is not valid JSON \(/);
  });
});
