import type { Example } from '../trainer/types.js';

/**
 * THE mapping from a dataset row (one JSONL line, uploaded or read from `data.train_file`) to a training example,
 * used by dataset upload, the CLI and the worker:
 * - `problem`: a non-empty string; `answer`: a non-empty string or a finite number (kept as its decimal text);
 * - `completion` (optional string): the SFT target;
 * - `id` (optional string or number): the example id, else the row's 1-based position among the rows;
 * - `split` (optional "train" | "test"): "test" rows are the held-out set;
 * - any other field is kept with the row (`extra`) and ignored by the trainer.
 */
export interface DatasetRow {
  problem: string;
  answer: string;
  /** Every field besides problem and answer, as given; null when there are none. */
  extra: Record<string, unknown> | null;
}

export interface RowIssue {
  /** "line 3" or "line 3.answer". */
  field: string;
  reason: string;
}

/**
 * Which fields of a row hold the problem and the answer (data.problem_field / data.answer_field): GSM8K's
 * `question`, OlympiadBench's `final_answer`. The named fields are read as `problem` and `answer`; every other field
 * (the usual `problem` / `answer` too, when they are not the ones named) is kept with the row.
 */
export interface RowFields {
  problem?: string;
  answer?: string;
}

/** Validates one JSONL line into a row; every problem of the line is reported, named `line N[.field]`. */
export function parseRowLine(
  text: string,
  lineNo: number,
  fields: RowFields = {},
): { row?: DatasetRow; errors: RowIssue[] } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { errors: [{ field: `line ${lineNo}`, reason: `is not valid JSON (${(e as Error).message})` }] };
  }
  return rowOf(value, lineNo, fields);
}

/** The row rules on a parsed line (the service parses and screens the JSON itself before calling this). */
export function rowOf(
  value: unknown,
  lineNo: number,
  fields: RowFields = {},
): { row?: DatasetRow; errors: RowIssue[] } {
  const at = (field?: string) => (field ? `line ${lineNo}.${field}` : `line ${lineNo}`);
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { errors: [{ field: at(), reason: 'must be a JSON object' }] };

  const { problem, answer, rest } = pickFields(value as Record<string, unknown>, fields);
  const problemField = fields.problem ?? 'problem';
  const answerField = fields.answer ?? 'answer';
  const errors: RowIssue[] = [];
  if (typeof problem !== 'string' || problem.trim() === '')
    errors.push({
      field: at(problemField),
      reason: problem === undefined ? 'is required' : 'must be a non-empty string',
    });

  const answerText = answerTextOf(answer);
  if (answerText === undefined)
    errors.push({
      field: at(answerField),
      reason:
        answer === undefined
          ? 'is required'
          : Array.isArray(answer)
            ? 'must be a non-empty list of non-empty strings or finite numbers'
            : 'must be a non-empty string or a finite number',
    });

  if ('completion' in rest && typeof rest.completion !== 'string')
    errors.push({ field: at('completion'), reason: 'must be a string' });
  if ('id' in rest && typeof rest.id !== 'string' && typeof rest.id !== 'number')
    errors.push({ field: at('id'), reason: 'must be a string or a number' });
  if ('split' in rest && rest.split !== 'train' && rest.split !== 'test')
    errors.push({ field: at('split'), reason: 'must be "train" or "test"' });
  const extra = Object.keys(rest).length > 0 ? rest : null;

  if (errors.length > 0) return { errors };
  return { row: { problem: problem as string, answer: answerText as string, extra }, errors };
}

/** Reads the named problem / answer fields; the rest of the row (the unnamed defaults included) stays with it. */
function pickFields(
  value: Record<string, unknown>,
  fields: RowFields,
): { problem: unknown; answer: unknown; rest: Record<string, unknown> } {
  const rest = { ...value };
  const take = (name: string) => {
    const v = rest[name];
    delete rest[name];
    return v;
  };
  const problem = take(fields.problem ?? 'problem');
  const answer = take(fields.answer ?? 'answer');
  return { problem, answer, rest };
}

/**
 * A string, a finite number (its decimal text) or a non-empty list of them: one element is the answer, several are
 * one answer of comma-separated parts (the authors' loader does the same with OlympiadBench's final_answer).
 */
function answerTextOf(answer: unknown): string | undefined {
  if (typeof answer === 'number' && Number.isFinite(answer)) return String(answer);
  if (typeof answer === 'string' && answer.trim() !== '') return answer;
  if (Array.isArray(answer) && answer.length > 0) {
    const parts = answer.map((a) => (Array.isArray(a) ? undefined : answerTextOf(a)));
    if (parts.every((p): p is string => p !== undefined)) return parts.join(', ');
  }
  return undefined;
}

/** A valid row → its example and split; `position` is the row's 1-based position among the rows. */
export function exampleOf(row: DatasetRow, position: number): { example: Example; split: 'train' | 'test' } {
  const extra = row.extra ?? {};
  const id =
    typeof extra.id === 'string' || typeof extra.id === 'number' ? String(extra.id) : String(position);
  const completion = typeof extra.completion === 'string' ? extra.completion : undefined;
  return {
    example: { id, problem: row.problem, answer: row.answer, ...(completion ? { completion } : {}) },
    split: extra.split === 'test' ? 'test' : 'train',
  };
}

/** Rows in order → the train and held-out examples. */
export function examplesOfRows(rows: Iterable<DatasetRow>): { train: Example[]; test: Example[] } {
  const out = { train: [] as Example[], test: [] as Example[] };
  let position = 0;
  for (const row of rows) {
    const { example, split } = exampleOf(row, ++position);
    out[split].push(example);
  }
  return out;
}

export class JsonlError extends Error {
  constructor(readonly issues: RowIssue[]) {
    super(issues.map((i) => `${i.field}: ${i.reason}`).join('; '));
    this.name = 'JsonlError';
  }
}

/** A whole JSONL text (blank lines skipped) → examples by split; throws JsonlError naming every bad line. */
export function parseExamplesJsonl(
  text: string,
  fields: RowFields = {},
): { train: Example[]; test: Example[] } {
  const rows: DatasetRow[] = [];
  const errors: RowIssue[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    const { row, errors: lineErrors } = parseRowLine(line, i + 1, fields);
    if (row) rows.push(row);
    errors.push(...lineErrors);
  });
  if (errors.length) throw new JsonlError(errors);
  return examplesOfRows(rows);
}
