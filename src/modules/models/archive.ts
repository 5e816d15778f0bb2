import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { x as extract, type ReadEntry } from 'tar';

export class ArchiveError extends Error {
  constructor(
    message: string,
    readonly tooLarge = false,
  ) {
    super(message);
  }
}

const ALLOWED_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory']);

/**
 * Extracts a tar or tar.gz stream into `dest`, refusing links (they could point outside `dest`), paths that
 * climb out (tar strips `..` and leading `/` by default) and anything past `maxBytes` either compressed or
 * extracted (a small gzip can expand enormously). Returns the directory holding config.json: `dest` itself
 * or its single top-level folder.
 */
export async function extractModelArchive(
  body: NodeJS.ReadableStream,
  dest: string,
  maxBytes: number,
): Promise<string> {
  await mkdir(dest, { recursive: true });
  let received = 0;
  let expanded = 0;
  const limit = new Transform({
    transform(chunk: Buffer, _enc, done) {
      received += chunk.length;
      if (received > maxBytes) done(new ArchiveError(`archive exceeds the limit of ${maxBytes} bytes`, true));
      else done(null, chunk);
    },
  });
  const unpack = extract({
    cwd: dest,
    strict: true,
    filter: (_path: string, entry: unknown) => {
      const e = entry as ReadEntry;
      if (!ALLOWED_TYPES.has(e.type)) return false;
      expanded += e.size ?? 0;
      if (expanded > maxBytes) {
        unpack.abort(new ArchiveError(`archive expands past the limit of ${maxBytes} bytes`, true));
        return false;
      }
      return true;
    },
  });
  // Files already being written finish after an abort; the caller deletes `dest` only once they have.
  const closed = new Promise<void>((resolve) => unpack.once('close', () => resolve()));
  try {
    await pipeline(body, limit, unpack);
  } catch (e) {
    await Promise.race([closed, new Promise((r) => setTimeout(r, 1000).unref())]);
    if (e instanceof ArchiveError) throw e;
    throw new ArchiveError(`is not a readable tar or tar.gz archive (${(e as Error).message})`);
  }
  const top = await readdir(dest, { withFileTypes: true });
  if (top.some((e) => e.name === 'config.json')) return dest;
  const dirs = top.filter((e) => e.isDirectory());
  if (dirs.length === 1 && top.length === 1) return join(dest, dirs[0].name);
  return dest;
}
