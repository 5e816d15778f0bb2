import type { ErrorDetail } from '../../common/api-error.js';
import { findHostileInput } from '../../common/hostile-input.js';
import { rowOf, type DatasetRow, type RowFields } from '../../learner/data/examples.js';

export type ParsedRow = DatasetRow;

/**
 * Validates one uploaded JSONL line: the JSON is screened for what Postgres cannot store, then the one row
 * mapping of the learner (src/learner/data/examples.ts: problem, answer as string or number, completion, id,
 * split) applies, exactly as for `data.train_file` and the worker.
 */
export function parseDatasetLine(
  text: string,
  lineNo: number,
  fields: RowFields = {},
): { row?: ParsedRow; errors: ErrorDetail[] } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { errors: [{ field: `line ${lineNo}`, reason: `is not valid JSON (${(e as Error).message})` }] };
  }
  // Postgres text and jsonb cannot hold U+0000 or lone surrogates, and jsonb has a depth limit: refusing them
  // here names the line and field instead of failing the whole upload with a 500.
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const hostile = findHostileInput(value, undefined, `line ${lineNo}`);
    if (hostile) return { errors: [hostile] };
  }
  return rowOf(value, lineNo, fields);
}
