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

export interface ArchiveLimits {
  /** Bytes received (compressed). */
  maxBytes: number;
  /** Bytes the entries may declare in total once extracted. */
  maxExtractedBytes: number;
  /** What to say when maxExtractedBytes is hit (it may be the project's remaining quota). */
  extractedLimitName?: string;
  /** Entries (files and folders). */
  maxEntries: number;
}

/**
 * Extracts a tar or tar.gz stream into `dest`, refusing links (they could point outside `dest`), paths that
 * climb out (tar strips `..` and leading `/` by default), anything past the byte limits either compressed or
 * extracted (a small gzip can expand enormously; each entry's size is checked from its header before its data
 * is written), more than `maxEntries` entries, and an archive that ends before tar's end-of-archive marker
 * (a truncated upload would otherwise register whatever files happened to arrive). Returns the directory
 * holding config.json and the bytes extracted: `dest` itself or its single top-level folder.
 */
export async function extractModelArchive(
  body: NodeJS.ReadableStream,
  dest: string,
  limits: ArchiveLimits,
): Promise<{ dir: string; extractedBytes: number }> {
  const { maxBytes, maxExtractedBytes, maxEntries } = limits;
  await mkdir(dest, { recursive: true });
  let received = 0;
  let expanded = 0;
  let entries = 0;
  let complete = false;
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
      if (++entries > maxEntries) {
        unpack.abort(new ArchiveError(`archive holds more than ${maxEntries} entries`, true));
        return false;
      }
      if (!ALLOWED_TYPES.has(e.type)) return false;
      expanded += e.size ?? 0;
      if (expanded > maxExtractedBytes) {
        unpack.abort(
          new ArchiveError(
            `archive expands past ${limits.extractedLimitName ?? 'the limit of'} ${maxExtractedBytes} bytes`,
            true,
          ),
        );
        return false;
      }
      return true;
    },
  });
  // tar's parser emits 'eof' on the two zero blocks that end an archive; without them the upload was cut short.
  unpack.on('eof', () => {
    complete = true;
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
  if (!complete)
    throw new ArchiveError(
      'is truncated: the archive ends before its end-of-archive marker (upload it again)',
    );
  const top = await readdir(dest, { withFileTypes: true });
  const dirs = top.filter((e) => e.isDirectory());
  const dir =
    !top.some((e) => e.name === 'config.json') && dirs.length === 1 && top.length === 1
      ? join(dest, dirs[0].name)
      : dest;
  return { dir, extractedBytes: expanded };
}
