import { afterAll, describe, expect, it } from 'vitest';
import { stopSymbolicWorker } from './symbolic.js';
import { verifyMath } from './verify-math.js';

afterAll(() => stopSymbolicWorker());

const boxed = (s: string) => `Reasoning … so the result is $\\boxed{${s}}$.`;

describe('verifyMath: equivalences', () => {
  it.each([
    ['\\frac{1}{2}', '0.5'],
    ['0.5', '\\frac12'],
    ['1/2', '\\dfrac{1}{2}'],
    ['\\frac{\\sqrt{2}}{2}', '\\frac{1}{\\sqrt2}'],
    ['2\\sqrt{2}', '\\sqrt{8}'],
    ['(x+1)^2', 'x^2+2x+1'],
    ['\\frac{n(n+1)}{2}', '\\frac{n^2+n}{2}'],
    ['\\binom{2n}{n}', '\\frac{(2n)!}{n!^2}'],
    ['x_1+x_2', 'x_{2}+x_{1}'],
    ['\\pi/2', '90^\\circ'],
    ['0.625', '62.5\\%'],
    ['9/5', '1\\frac{4}{5}'],
    ['6 - 5i', '6-5i'],
    ['-5x+7y-11z-4=0', '5x - 7y + 11z + 4 = 0'],
    ['x = 5', '5'],
    ['f(x) = 2x', '2x'],
    ['025', '25'],
    ['1,000', '1000'],
    ['6.72\\times10^{-5}', '.0000672'],
    ['52', '52_8'],
    ['\\text{C}', '\\text{(C)}'],
    ['evelyn', '\\text{Evelyn}'],
    ['\\frac{N}{2}', 'N/2'],
    // Math-Verify's readings (issue 12): labelled golds, relations, intervals, ±, number forms.
    ['(3, 2)', '(p,q)=(3,2)'],
    ['4, 5', 'AB=4,CD=5'],
    ['11:21', 'V_{1}:V_{2}=11:21'],
    ['(-793, 10)', '-793 < a < 10'],
    ['x \\in [-2,7]', '-2 \\le x \\le 7'],
    ['(2, \\infty)', 'x > 2'],
    ['-x > -1', 'x < 1'],
    ['5 \\geq x', 'x \\leq 5'],
    ['y=-\\frac{1}{2}x+\\frac{3}{4}', '2x+4y-3=0'],
    ['\\{-2021, 2021\\}', '\\pm 2021'],
    ['(4, 0, 6), (0, -2, 6)', '(0;-2;6),(4;0;6)'],
    ['\\{-12, -11, -10\\}', '-12;-11;-10'],
    ['1 000', '1000'],
    ['28 pct', '28\\%'],
    ['x = 5+5+1 = 7 =11', 'x = 11'],
    ['x \\approx 11', '11'],
  ])('%s ≡ %s', (candidate, gold) => {
    const r = verifyMath(boxed(candidate), gold);
    expect(r, r.reason).toMatchObject({ correct: true });
  });

  it('says how the match was made', () => {
    expect(verifyMath(boxed('\\dfrac{3}{4}'), '\\frac34').reason).toBe('equivalent (string)');
    expect(verifyMath(boxed('(x+1)^2'), 'x^2+2x+1').reason).toBe('equivalent (symbolic)');
  });
});

describe('verifyMath: differences', () => {
  it.each([
    ['(x+1)^2', 'x^2+2x+2'],
    ['9.224\\times10^{-19}', '8.224 \\times 10^{-19}'],
    ['\\frac{2}{2^{98}}', '\\frac{1}{2^{98}}'],
    ['\\lfloor\\frac{2n-1}{6}\\rfloor', '\\lfloor\\frac{2 n-1}{5}\\rfloor'],
    ['5+6i', '6-5i'],
    ['2^{5000}', '2^{5001}'],
    ['52_9', '52_8'],
    ['0.333', '\\frac{1}{3}'],
    ['204.0001', '204'],
    ['9007199254740993', '9007199254740992'],
    ['1.56=56', '0.56=56'],
  ])('%s ≢ %s', (candidate, gold) => {
    const r = verifyMath(boxed(candidate), gold);
    expect(r, r.reason).toMatchObject({ correct: false });
  });
});

describe('verifyMath: structures', () => {
  it('compares tuples in order and with their brackets', () => {
    expect(verifyMath(boxed('(1, 2)'), '(1,2)').correct).toBe(true);
    expect(verifyMath(boxed('(2,1)'), '(1,2)').correct).toBe(false);
    expect(verifyMath(boxed('\\left(\\frac{3}{5},\\frac{8}{3}\\right]'), '(0.6, 8/3]').correct).toBe(true);
    expect(verifyMath(boxed('(1,2)'), '[1,2)').correct).toBe(false);
    expect(verifyMath(boxed('1, 2'), '(1,2)').correct).toBe(true);
  });

  it('compares answer lists, sets and unions without order', () => {
    expect(verifyMath(boxed('2, 1'), '1,2').correct).toBe(true);
    expect(verifyMath(boxed('\\{-2, 1\\pm\\sqrt{5}\\}'), '1+\\sqrt5, -2, 1-\\sqrt5').correct).toBe(true);
    expect(verifyMath(boxed('1+\\sqrt{19}, 1-\\sqrt{19}'), '1 \\pm \\sqrt{19}').correct).toBe(true);
    expect(
      verifyMath(boxed('(3,\\infty) \\cup (-\\infty, 2)'), '(-\\infty, 2) \\cup (3, \\infty)').correct,
    ).toBe(true);
    expect(verifyMath(boxed('x=2 \\text{ or } x=3'), '3, 2').correct).toBe(true);
    expect(verifyMath(boxed('1, 2'), '1,2,3').correct).toBe(false);
    expect(verifyMath(boxed('1, 1, 2'), '1, 2, 2').correct).toBe(false);
  });

  it('compares matrices cell by cell and accepts a tuple for a vector', () => {
    const gold = '\\begin{pmatrix} -1/3 \\\\ 2/3 \\end{pmatrix}';
    expect(
      verifyMath(boxed('\\begin{pmatrix} -\\frac{1}{3} \\\\ \\frac{2}{3} \\end{pmatrix}'), gold).correct,
    ).toBe(true);
    expect(verifyMath(boxed('(-1/3, 2/3)'), gold).correct).toBe(true);
    expect(verifyMath(boxed('\\begin{pmatrix} 2/3 \\\\ -1/3 \\end{pmatrix}'), gold).correct).toBe(false);
  });

  it('names the structure mismatch', () => {
    expect(verifyMath(boxed('5'), '1, 2').reason).toMatch(/expected a list of 2, got a single value/);
  });
});

describe('verifyMath: Math-Verify readings that stay wrong', () => {
  it.each([
    ['2021', '\\pm 2021'],
    ['x > -1', 'x < 1'],
    ['x \\leq 5', 'x \\geq 5'],
    ['11a+c', '7 = 11a+c'],
    ['0', 'a + 3z = 0'],
    ['(3, 1)', '\\{1,3\\}'],
    ['(0, 1)', '[0,1)'],
    // Integers and rationals compare exactly, not within the 1e-6 tolerance.
    ['2^{20}', '1048577'],
    ['\\frac{1}{3}', '\\frac{333333}{1000000}'],
  ])('%s ≢ %s', (candidate, gold) => {
    const r = verifyMath(boxed(candidate), gold);
    expect(r, r.reason).toMatchObject({ correct: false });
  });

  it('keeps exact equality where it holds', () => {
    expect(verifyMath(boxed('2^{20}'), '1048576').correct).toBe(true);
    expect(verifyMath(boxed('\\frac{6}{8}'), '\\frac{3}{4}').correct).toBe(true);
    // A written decimal may be a rounding: it keeps the tolerance.
    expect(verifyMath(boxed('0.3333333'), '\\frac{1}{3}').correct).toBe(true);
  });

  it('reads unmarked answers and decimal commas only in math_verify mode', () => {
    expect(verifyMath('Thus $x <= 2$ is our answer.', '$x \\leq 2$').correct).toBe(false);
    expect(verifyMath('Thus $x <= 2$ is our answer.', '$x \\leq 2$', { mode: 'math_verify' }).correct).toBe(
      true,
    );
    expect(verifyMath('1000,99', '1000.99', { mode: 'math_verify' }).correct).toBe(true);
    expect(verifyMath(boxed('1'), '1', { mode: 'lenient' as 'strict' }).reason).toMatch(/^options.mode/);
  });
});

describe('verifyMath: bounded on any input', () => {
  const MB = 1 << 20;
  const fill = (unit: string, size: number) => unit.repeat(Math.ceil(size / unit.length)).slice(0, size);

  // Degenerate outputs a policy can produce. Each must finish (no timing assertion: the test timeout is the
  // bound, with a wide margin — the scans are linear, about a second per MB on a loaded 2-core box).
  it('judges a 1 MB output of unbalanced \\boxed{ without scanning to the end for each', () => {
    for (const mode of ['strict', 'math_verify'] as const) {
      expect(verifyMath(fill('\\boxed{', MB), '5', { mode }).correct).toBe(false);
      expect(verifyMath(`\\boxed{${fill('a', MB)}`, '5', { mode }).correct).toBe(false);
      expect(verifyMath(`${fill('\\boxed{', MB / 2)}\\boxed{5}`, '5', { mode }).correct).toBe(true);
    }
  });

  it.each([
    '$',
    '$a',
    '$$ x',
    '\\(',
    '\\[',
    '{',
    '(',
    'answer ',
    'Answer: ',
    'final answer is ',
    'answer x = 1 = ',
    '1 ',
    '1+',
    '1% ',
    '\\frac{1}{2} ',
    'Final Answer: The final answer is $1$. I hope ',
  ])('judges 256 kB of %j in both modes', (unit) => {
    for (const mode of ['strict', 'math_verify'] as const) {
      const r = verifyMath(fill(unit, MB / 4), '5', { mode });
      expect(r.correct).toBe(false);
      expect(typeof r.reason).toBe('string');
    }
  });
});

describe('verifyMath: robustness', () => {
  it('never throws, whatever it is given', () => {
    const inputs: unknown[] = [
      undefined,
      null,
      42,
      {},
      '',
      '\\boxed{',
      '\\boxed{}',
      '}}}{{{',
      '\\boxed{\\frac{}{}}',
    ];
    for (const input of inputs) {
      const r = verifyMath(input as string, '1');
      expect(r.correct).toBe(false);
      expect(typeof r.reason).toBe('string');
    }
    expect(verifyMath(boxed('1'), undefined as unknown as string).reason).toMatch(/^gold:/);
  });

  it('does not evaluate huge factorials (compute-engine needs seconds for 100000!)', () => {
    const started = performance.now();
    expect(verifyMath(boxed('100000!'), '3').correct).toBe(false);
    expect(verifyMath(boxed('100000!'), '100000!+0').reason).toMatch(/^not equivalent/);
    // Generous bound for a loaded machine; evaluating 100000! alone takes about 5 s here.
    expect(performance.now() - started).toBeLessThan(3_000);
  });

  it('handles overflowing values: towers compare where they are finite, huge constants by structure', () => {
    expect(verifyMath(boxed('2^{2^n}'), '2^{2^{n}}').correct).toBe(true);
    expect(verifyMath(boxed('10^{10^{10}}'), '10^{10^{10}}+1').correct).toBe(false);
  });

  it('reports missing answers and accepts any of several golds', () => {
    expect(verifyMath('I do not know', '3').reason).toMatch(/no final answer/);
    expect(verifyMath('I think 3', '3', { lastNumberFallback: true }).correct).toBe(true);
    expect(verifyMath(boxed('9.6'), ['9.5', '9.6']).correct).toBe(true);
  });

  it('validates its options and can run without the symbolic engine', () => {
    expect(verifyMath(boxed('1'), '1', { relTol: -1 }).reason).toMatch(/^options.relTol/);
    expect(verifyMath(boxed('1'), '1', { timeoutMs: 0 }).reason).toMatch(/^options.timeoutMs/);
    expect(verifyMath(boxed('1/2'), '0.5', { symbolic: false }).correct).toBe(false);
    expect(verifyMath(boxed('0.333'), '\\frac13', { relTol: 1e-2 }).correct).toBe(true);
  });
});
