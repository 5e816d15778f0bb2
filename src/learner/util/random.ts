import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus, xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import type { JumpableRandomGenerator } from 'pure-rand/types/JumpableRandomGenerator';

/** Everything needed to continue a random stream exactly where it stopped (JSON-safe). */
export interface RngState {
  algorithm: 'xoroshiro128plus';
  state: number[];
}

/**
 * Seeded random source for everything that must be reproducible: weight init, sampling, data order.
 * xoroshiro128+ from pure-rand, mutated in place; `state()` / `Rng.fromState()` round-trip exactly, so a
 * checkpoint taken mid-run resumes the same stream. Draws happen in JS (never on the tensor backend),
 * which keeps a run identical across cpu, wasm and native backends.
 */
export class Rng {
  private gen: JumpableRandomGenerator;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new Error(`Rng: seed must be a finite number, got ${seed}`);
    // pure-rand takes a 32-bit seed; fold larger integers so seeds like Date.now() still differ.
    this.gen = xoroshiro128plus((Math.trunc(seed) ^ Math.trunc(seed / 2 ** 32)) | 0);
  }

  static fromState(s: RngState): Rng {
    if (s?.algorithm !== 'xoroshiro128plus' || !Array.isArray(s.state) || s.state.length !== 4) {
      throw new Error('Rng.fromState: expected { algorithm: "xoroshiro128plus", state: [4 integers] }');
    }
    const rng = new Rng(0);
    rng.gen = xoroshiro128plusFromState(s.state);
    return rng;
  }

  state(): RngState {
    return { algorithm: 'xoroshiro128plus', state: [...this.gen.getState()] };
  }

  /** Uniform in [0, 1) with 53 random bits. */
  next(): number {
    return uniformFloat64(this.gen);
  }

  /** Integer uniform in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new Error(`Rng.int: n must be a positive integer, got ${n}`);
    return Math.floor(this.next() * n);
  }

  /** Standard normal via Box-Muller; no cached spare, so the state stays just the generator's. */
  normal(): number {
    const u1 = 1 - this.next(); // (0, 1]: log stays finite
    const u2 = this.next();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** Fill a new Float32Array with N(0, std²) samples. */
  normalArray(n: number, std = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal() * std;
    return out;
  }

  /** Fisher-Yates shuffle in place; returns the array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }

  /** Independent stream derived from this one (2^64 steps ahead), e.g. one per worker or per purpose. */
  fork(): Rng {
    const child = Rng.fromState(this.state());
    child.gen.jump();
    // Advance the parent too, so two successive forks differ.
    this.gen.jump();
    this.gen.jump();
    return child;
  }
}
