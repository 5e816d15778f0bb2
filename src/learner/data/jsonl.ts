import { readFileSync } from 'node:fs';
import type { Example } from '../trainer/types.js';
import { JsonlError, parseExamplesJsonl, type RowFields } from './examples.js';

/** A JSONL file → examples by split (src/learner/data/examples.ts holds the row rules); errors name the file. */
export function readExamplesJsonl(
  path: string,
  fields: RowFields = {},
): { train: Example[]; test: Example[] } {
  try {
    return parseExamplesJsonl(readFileSync(path, 'utf8'), fields);
  } catch (e) {
    if (e instanceof JsonlError) throw new Error(`${path}: ${e.message}`, { cause: e });
    throw e;
  }
}
