export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`body exceeds ${limit} bytes`);
  }
}

export class LineTooLongError extends Error {
  constructor(
    readonly lineNo: number,
    readonly limit: number,
  ) {
    super(`line ${lineNo} exceeds ${limit} bytes`);
  }
}

const LF = 0x0a;

function decodeLine(bytes: Buffer): string {
  // LF never occurs inside a multi-byte UTF-8 sequence, so each line decodes on its own.
  const end = bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length;
  return bytes.toString('utf8', 0, end);
}

/**
 * Yields the lines of a byte stream (LF or CRLF) with 1-based numbers. Linear in the input: each byte is
 * scanned once, and a line's pieces are joined once when its LF arrives (a line that never ends cannot make
 * the reader rescan it per chunk). Refuses a body over `maxBytes` and a line over `maxLineBytes` as soon as
 * the bytes arrive, so neither is ever held in memory. `onBytes` sees every raw chunk (for hashing).
 */
export async function* readLines(
  stream: AsyncIterable<Buffer | string>,
  maxBytes: number,
  onBytes?: (chunk: Buffer) => void,
  maxLineBytes = Number.POSITIVE_INFINITY,
): AsyncGenerator<{ lineNo: number; text: string }> {
  let parts: Buffer[] = [];
  let lineBytes = 0;
  let bytes = 0;
  let lineNo = 0;
  const take = (piece: Buffer) => {
    lineBytes += piece.length;
    // + 1: the CR of a CRLF is not part of the line.
    if (lineBytes > maxLineBytes + 1) throw new LineTooLongError(lineNo + 1, maxLineBytes);
    if (piece.length > 0) parts.push(piece);
  };
  const finish = () => {
    const line = parts.length === 1 ? parts[0] : Buffer.concat(parts, lineBytes);
    parts = [];
    lineBytes = 0;
    return { lineNo: ++lineNo, text: decodeLine(line) };
  };
  for await (const raw of stream) {
    const chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
    bytes += chunk.length;
    if (bytes > maxBytes) throw new BodyTooLargeError(maxBytes);
    onBytes?.(chunk);
    let pos = 0;
    let nl: number;
    while ((nl = chunk.indexOf(LF, pos)) >= 0) {
      take(chunk.subarray(pos, nl));
      pos = nl + 1;
      yield finish();
    }
    if (pos < chunk.length) take(chunk.subarray(pos));
  }
  if (lineBytes > 0) yield finish();
}
