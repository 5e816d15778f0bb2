import type { ErrorDetail } from '../../common/api-error.js';
import { findHostileInput } from '../../common/hostile-input.js';

export interface ParsedRow {
  problem: string;
  answer: string;
  /** Every other field, as uploaded; null when there are none. */
  extra: Record<string, unknown> | null;
}

/**
 * Validates one JSONL line: a JSON object with a non-empty string `problem` and an `answer` (string, or a
 * number that is stored as its decimal text); `completion`, when present, must be a string (the SFT target).
 */
export function parseDatasetLine(text: string, lineNo: number): { row?: ParsedRow; errors: ErrorDetail[] } {
  const at = (field?: string) => (field ? `line ${lineNo}.${field}` : `line ${lineNo}`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { errors: [{ field: at(), reason: `is not valid JSON (${(e as Error).message})` }] };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { errors: [{ field: at(), reason: 'must be a JSON object' }] };
  // Postgres text and jsonb cannot hold U+0000 or lone surrogates, and jsonb has a depth limit: refusing them
  // here names the line and field instead of failing the whole upload with a 500.
  const hostile = findHostileInput(value, undefined, `line ${lineNo}`);
  if (hostile) return { errors: [hostile] };

  const { problem, answer, ...rest } = value as Record<string, unknown>;
  const errors: ErrorDetail[] = [];
  if (typeof problem !== 'string' || problem.trim() === '')
    errors.push({
      field: at('problem'),
      reason: problem === undefined ? 'is required' : 'must be a non-empty string',
    });

  let answerText: string | undefined;
  if (typeof answer === 'number' && Number.isFinite(answer)) answerText = String(answer);
  else if (typeof answer === 'string' && answer.trim() !== '') answerText = answer;
  if (answerText === undefined)
    errors.push({
      field: at('answer'),
      reason: answer === undefined ? 'is required' : 'must be a non-empty string or a finite number',
    });

  if ('completion' in rest && typeof rest.completion !== 'string')
    errors.push({ field: at('completion'), reason: 'must be a string' });
  const extra = Object.keys(rest).length > 0 ? rest : null;

  if (errors.length > 0) return { errors };
  return { row: { problem: problem as string, answer: answerText as string, extra }, errors };
}
