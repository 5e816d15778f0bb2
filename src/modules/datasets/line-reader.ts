import { StringDecoder } from 'node:string_decoder';

export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`body exceeds ${limit} bytes`);
  }
}

/**
 * Yields the lines of a byte stream (LF or CRLF) with 1-based numbers, counting bytes as they arrive so an
 * oversized body is refused without ever being held in memory. `onBytes` sees every raw chunk (for hashing).
 */
export async function* readLines(
  stream: AsyncIterable<Buffer | string>,
  maxBytes: number,
  onBytes?: (chunk: Buffer) => void,
): AsyncGenerator<{ lineNo: number; text: string }> {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let bytes = 0;
  let lineNo = 0;
  for await (const raw of stream) {
    const chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
    bytes += chunk.length;
    if (bytes > maxBytes) throw new BodyTooLargeError(maxBytes);
    onBytes?.(chunk);
    pending += decoder.write(chunk);
    let start = 0;
    let nl: number;
    while ((nl = pending.indexOf('\n', start)) >= 0) {
      const line = pending.slice(start, nl);
      start = nl + 1;
      yield { lineNo: ++lineNo, text: line.endsWith('\r') ? line.slice(0, -1) : line };
    }
    pending = pending.slice(start);
  }
  pending += decoder.end();
  if (pending.length > 0)
    yield { lineNo: lineNo + 1, text: pending.endsWith('\r') ? pending.slice(0, -1) : pending };
}
