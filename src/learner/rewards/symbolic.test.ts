import { afterAll, describe, expect, it } from 'vitest';
import { SYMBOLIC_POINTS, evaluateLatex, stopSymbolicWorker } from './symbolic.js';

afterAll(() => stopSymbolicWorker());

describe('evaluateLatex (compute-engine worker)', () => {
  it('evaluates constants and shares sample points between expressions', () => {
    const r = evaluateLatex(['\\frac{1}{2}+\\sqrt{4}', 'x^2', 'x\\cdot x'], 20_000);
    expect(r.status).toBe('ok');
    if (r.status !== 'ok') return;
    const [c, a, b] = r.results;
    expect(c.ok && c.values.slice(0, 2)).toEqual([2.5, 0]);
    expect(a.ok && a.values.length).toBe(2 * SYMBOLIC_POINTS);
    expect(a.ok && b.ok && a.values).toEqual(b.ok && b.values);
    expect(new Set(a.ok ? a.values.filter((_, i) => i % 2 === 0) : []).size).toBe(SYMBOLIC_POINTS);
  });

  it('marks what it cannot parse instead of failing the batch', () => {
    const r = evaluateLatex(['\\frac{', '1+1'], 20_000);
    expect(r.status).toBe('ok');
    if (r.status === 'ok') {
      expect(r.results[0].ok).toBe(false);
      expect(r.results[1]).toMatchObject({ ok: true, values: expect.arrayContaining([2]) });
    }
  });

  it('gives up on a runaway expression at the deadline, then works again with a fresh worker', () => {
    evaluateLatex(['1'], 20_000); // make sure the worker has booted, so the deadline is the request's own
    const started = performance.now();
    // compute-engine needs about 5 s for the exact 100000! (verifyMath never sends it: see symbolicHazard).
    const r = evaluateLatex(['100000!'], 500);
    expect(r.status).toBe('timeout');
    expect(performance.now() - started).toBeLessThan(5_000);
    const again = evaluateLatex(['2+2'], 20_000);
    expect(again).toMatchObject({
      status: 'ok',
      results: [{ ok: true, values: expect.arrayContaining([4]) }],
    });
  });
});
