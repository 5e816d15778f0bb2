import { describe, expect, it } from 'vitest';
import { JsonlError, parseExamplesJsonl } from './examples.js';

describe('parseExamplesJsonl (data.train_file): the same rules as dataset upload and the worker', () => {
  it('accepts numeric answers, numeric ids and a test split; ids default to the 1-based row', () => {
    const text = [
      '{"problem":"1+1=","answer":2}',
      '',
      '{"problem":"2+2=","answer":"4","id":7}',
      '{"problem":"3+3=","answer":6,"split":"test","completion":"6"}',
    ].join('\n');
    expect(parseExamplesJsonl(text)).toEqual({
      train: [
        { id: '1', problem: '1+1=', answer: '2' },
        { id: '7', problem: '2+2=', answer: '4' },
      ],
      test: [{ id: '3', problem: '3+3=', answer: '6', completion: '6' }],
    });
  });

  it('names every bad line and field at once', () => {
    const text = '{"problem":"a"}\n{"problem":"b","answer":"c","split":"dev"}\nnot json';
    const err = (() => {
      try {
        parseExamplesJsonl(text);
      } catch (e) {
        return e;
      }
    })() as JsonlError;
    expect(err).toBeInstanceOf(JsonlError);
    expect(err.issues.map((i) => i.field)).toEqual(['line 1.answer', 'line 2.split', 'line 3']);
  });
});
