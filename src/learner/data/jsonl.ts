import { readFileSync } from 'node:fs';
import type { Example } from '../trainer/types.js';

export class JsonlError extends Error {
  constructor(
    readonly line: number,
    readonly reason: string,
  ) {
    super(`line ${line}: ${reason}`);
  }
}

/** Parses JSONL rows with non-empty string `problem` and `answer`; ids default to the line number. */
export function parseExamplesJsonl(text: string): Example[] {
  const out: Example[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      throw new JsonlError(i + 1, 'is not valid JSON');
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row))
      throw new JsonlError(i + 1, 'must be a JSON object');
    const r = row as Record<string, unknown>;
    for (const f of ['problem', 'answer'] as const) {
      if (typeof r[f] !== 'string' || !(r[f] as string).trim())
        throw new JsonlError(i + 1, `field "${f}" must be a non-empty string`);
    }
    const id = typeof r.id === 'string' || typeof r.id === 'number' ? String(r.id) : String(i + 1);
    const completion = typeof r.completion === 'string' ? r.completion : undefined;
    out.push({
      id,
      problem: r.problem as string,
      answer: r.answer as string,
      ...(completion ? { completion } : {}),
    });
  });
  return out;
}

export function readExamplesJsonl(path: string): Example[] {
  try {
    return parseExamplesJsonl(readFileSync(path, 'utf8'));
  } catch (e) {
    if (e instanceof JsonlError) throw new Error(`${path}: ${e.message}`, { cause: e });
    throw e;
  }
}
