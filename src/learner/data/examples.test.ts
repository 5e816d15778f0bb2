import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseExamplesJsonl, parseRowLine } from './examples.js';

const jsonl = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join('\n');

describe('row → example mapping with data.problem_field / data.answer_field', () => {
  it('reads GSM8K rows (question, answer with its #### line) by naming the problem field', () => {
    const text = jsonl([
      { question: 'Tom has 3 apples and buys 4 more. How many?', answer: 'He has 3 + 4 = 7.\n#### 7' },
      { question: 'What is 6 times 7?', answer: '#### 42', split: 'test' },
    ]);
    const { train, test } = parseExamplesJsonl(text, { problem: 'question' });
    expect(train).toEqual([
      {
        id: '1',
        problem: 'Tom has 3 apples and buys 4 more. How many?',
        answer: 'He has 3 + 4 = 7.\n#### 7',
      },
    ]);
    expect(test).toEqual([{ id: '2', problem: 'What is 6 times 7?', answer: '#### 42' }]);
    // Without the mapping the row has no problem, and the error names the field that was looked for.
    expect(() => parseExamplesJsonl(text)).toThrow(/line 1\.problem: is required/);
    expect(() => parseExamplesJsonl(text, { problem: 'prompt' })).toThrow(/line 1\.prompt: is required/);
  });

  it('reads a list answer (OlympiadBench final_answer): one element, or several joined as one answer', () => {
    const row = (final_answer: unknown) =>
      parseRowLine(JSON.stringify({ problem: 'p', answer: 'kept aside', final_answer }), 1, {
        answer: 'final_answer',
      });
    expect(row(['$\\frac{1}{2}$']).row).toMatchObject({ answer: '$\\frac{1}{2}$' });
    expect(row(['2', '3']).row).toMatchObject({ answer: '2, 3' });
    expect(row([7]).row).toMatchObject({ answer: '7' });
    // The unnamed `answer` stays with the row as an extra field.
    expect(row(['2']).row?.extra).toEqual({ answer: 'kept aside' });
    expect(row([]).errors).toEqual([
      { field: 'line 1.final_answer', reason: expect.stringContaining('non-empty list') },
    ]);
    expect(row([['nested']]).errors).toHaveLength(1);
  });

  // The benchmark files of ../shared/datasets load as they are: each has `problem` and `answer`; OlympiadBench's
  // `final_answer` list reads to the same answers. Skipped where the shared folder is not mounted.
  const shared = join(import.meta.dirname, '../../../../shared/datasets');
  it.skipIf(!existsSync(shared))('loads every shared benchmark file as it is', () => {
    const files = readdirSync(shared).filter((f) => f.endsWith('.jsonl'));
    expect(files.length).toBeGreaterThanOrEqual(10);
    for (const f of files) {
      const text = readFileSync(join(shared, f), 'utf8');
      const rows = text.split('\n').filter((l) => l.trim()).length;
      const { train, test } = parseExamplesJsonl(text);
      expect(train.length + test.length, f).toBe(rows);
    }
    const olympiad = readFileSync(join(shared, 'olympiadbench.jsonl'), 'utf8');
    const byAnswer = parseExamplesJsonl(olympiad).train;
    const byFinal = parseExamplesJsonl(olympiad, { answer: 'final_answer' }).train;
    expect(byFinal.map((e) => e.answer)).toEqual(byAnswer.map((e) => e.answer));
  });
});
