import { describe, expect, it } from 'vitest';
import { checkGates, gateValue, type Job, parseGate } from '../../client/sdk/index.js';

const job = { result: { eval_after: { avg_at_k: 0.25, pass_at_k: 0.5 }, steps_done: 3 } } as unknown as Job;
const last = { step: 3, values: { pass_rate: 0.125, algorithm: 'popo' } };

describe('quality gates (--fail-below)', () => {
  it('parses <metric>=<number> and refuses anything else by name', () => {
    expect(parseGate('pass_rate=0.5')).toEqual({ metric: 'pass_rate', min: 0.5 });
    expect(parseGate(' eval_after.avg_at_k = 1e-1 ')).toEqual({ metric: 'eval_after.avg_at_k', min: 0.1 });
    for (const bad of ['pass_rate', 'pass_rate=', 'pass_rate=high', '=0.5', 'a b=1', 'x=Infinity'])
      expect(() => parseGate(bad), bad).toThrow(/expected <metric>=<number>/);
  });

  it("reads the job's result first, then the last step; a non-number or an absent metric is unreported", () => {
    expect(gateValue('eval_after.avg_at_k', job, last)).toBe(0.25);
    expect(gateValue('pass_rate', job, last)).toBe(0.125);
    expect(gateValue('algorithm', job, last)).toBeUndefined();
    expect(gateValue('eval_after', job, last)).toBeUndefined();
    expect(gateValue('pass_rate', job)).toBeUndefined();
  });

  it('holds at or above the bar, fails below it and when unreported', () => {
    const gates = ['eval_after.avg_at_k=0.25', 'pass_rate=0.2', 'entropy=0'].map(parseGate);
    expect(checkGates(gates, job, last).map((g) => [g.metric, g.passed])).toEqual([
      ['eval_after.avg_at_k', true],
      ['pass_rate', false],
      ['entropy', false],
    ]);
  });
});
