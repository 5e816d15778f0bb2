import { defineTask, intIn, parseOrThrow, withDigits } from './define-task.js';

/** `a+b=` with `difficulty` digits per operand. */
export const addTask = defineTask({
  name: 'add',
  description:
    'Sum of two non-negative integers; difficulty = digits per operand (1..4). Prompt "12+34=", answer "46".',
  maxDifficulty: 4,
  sample(rng, d) {
    const a = withDigits(rng, d);
    const b = withDigits(rng, d);
    return { problem: `${a}+${b}=`, answer: String(a + b) };
  },
  solve(problem) {
    const m = parseOrThrow('add', /^(\d+)\+(\d+)=$/, problem);
    return String(Number(m[1]) + Number(m[2]));
  },
});

/** Operand digit counts per difficulty: small products only, the models are character-level. */
const MUL_DIGITS: Record<number, [number, number]> = { 1: [1, 1], 2: [2, 1], 3: [2, 2], 4: [3, 2] };

export const mulTask = defineTask({
  name: 'mul',
  description:
    'Product of two integers: 1x1, 2x1, 2x2, 3x2 digits at difficulty 1..4. Prompt "12*3=", answer "36".',
  maxDifficulty: 4,
  sample(rng, d) {
    const [da, db] = MUL_DIGITS[d];
    const a = withDigits(rng, da);
    // A one-digit multiplier of 0 or 1 makes a trivial problem above level 1.
    const b = d > 1 && db === 1 ? intIn(rng, 2, 9) : withDigits(rng, db);
    return { problem: `${a}*${b}=`, answer: String(a * b) };
  },
  solve(problem) {
    const m = parseOrThrow('mul', /^(\d+)\*(\d+)=$/, problem);
    return String(Number(m[1]) * Number(m[2]));
  },
});

interface LinearRanges {
  a: [number, number];
  x: [number, number];
  b: [number, number];
}

/** Coefficient, solution and offset ranges; negatives appear from difficulty 3. */
const LINEAR: Record<number, LinearRanges> = {
  1: { a: [2, 5], x: [0, 9], b: [0, 9] },
  2: { a: [2, 9], x: [0, 20], b: [0, 20] },
  3: { a: [2, 9], x: [-20, 20], b: [-20, 20] },
  4: { a: [-12, 12], x: [-50, 50], b: [-50, 50] },
};

const signed = (v: number) => (v < 0 ? `${v}` : `+${v}`);

/** Solve a·x + b = c for the integer x: prompt "3x+5=17,x=", answer "4". */
export const linearTask = defineTask({
  name: 'linear',
  description:
    'Solve a*x+b=c for an integer x; wider ranges and negatives with difficulty 1..4. Prompt "3x+5=17,x=", answer "4".',
  maxDifficulty: 4,
  sample(rng, d) {
    const r = LINEAR[d];
    let a = 0;
    // |a| >= 2 so the x term is never trivially x or −x.
    while (Math.abs(a) < 2) a = intIn(rng, r.a[0], r.a[1]);
    const x = intIn(rng, r.x[0], r.x[1]);
    const b = intIn(rng, r.b[0], r.b[1]);
    return { problem: `${a}x${signed(b)}=${a * x + b},x=`, answer: String(x) };
  },
  solve(problem) {
    const m = parseOrThrow('linear', /^(-?\d+)x([+-]\d+)=(-?\d+),x=$/, problem);
    const [a, b, c] = [Number(m[1]), Number(m[2]), Number(m[3])];
    return String((c - b) / a);
  },
});
