import { describe, expect, it } from 'vitest';
import { Rng } from './random.js';

describe('Rng', () => {
  it('repeats for a seed and differs across seeds', () => {
    const a = new Rng(123);
    const b = new Rng(123);
    const c = new Rng(124);
    const xs = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(xs);
    // seeds beyond 32 bits still matter
    expect(new Rng(2 ** 40).next()).not.toBe(new Rng(0).next());
  });

  it('restores a saved state exactly (through JSON)', () => {
    const rng = new Rng(9);
    for (let i = 0; i < 17; i++) rng.normal();
    const saved = JSON.parse(JSON.stringify(rng.state()));
    const rest = [rng.next(), rng.normal(), rng.int(10), rng.next()];
    const resumed = Rng.fromState(saved);
    expect([resumed.next(), resumed.normal(), resumed.int(10), resumed.next()]).toEqual(rest);
    expect(() => Rng.fromState({ algorithm: 'mt' } as never)).toThrow(
      /expected \{ algorithm: "xoroshiro128plus"/,
    );
  });

  it('draws uniforms in [0, 1) and standard normals', () => {
    const rng = new Rng(1);
    const u = Array.from({ length: 20000 }, () => rng.next());
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    expect(u.reduce((a, b) => a + b) / u.length).toBeCloseTo(0.5, 1);
    const z = rng.normalArray(20000, 2);
    const mean = z.reduce((a, b) => a + b) / z.length;
    const sd = Math.sqrt(z.reduce((a, b) => a + (b - mean) ** 2, 0) / z.length);
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(sd).toBeGreaterThan(1.95);
    expect(sd).toBeLessThan(2.05);
  });

  it('int, shuffle and fork', () => {
    const rng = new Rng(4);
    const counts = [0, 0, 0];
    for (let i = 0; i < 3000; i++) counts[rng.int(3)]++;
    counts.forEach((c) => expect(c).toBeGreaterThan(900));
    expect(() => rng.int(0)).toThrow(/n must be a positive integer/);
    const items = Array.from({ length: 20 }, (_, i) => i);
    const shuffled = rng.shuffle([...items]);
    expect([...shuffled].sort((a, b) => a - b)).toEqual(items);
    expect(shuffled).not.toEqual(items);
    const parent = new Rng(5);
    const f1 = parent.fork();
    const f2 = parent.fork();
    const first = [f1.next(), f2.next(), parent.next()];
    expect(new Set(first).size).toBe(3);
  });

  it('rejects a non-finite seed', () => {
    expect(() => new Rng(NaN)).toThrow(/seed must be a finite number/);
  });
});
