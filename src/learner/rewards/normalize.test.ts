import { describe, expect, it } from 'vitest';
import { answerKey, normalizeAnswer } from './normalize.js';

const key = (s: string) => answerKey(normalizeAnswer(s).text);

describe('normalizeAnswer', () => {
  it('removes delimiters, sizing and spacing commands and unifies fractions', () => {
    expect(key('$\\left( 3, \\dfrac{\\pi}{2} \\right)$')).toBe('(3,\\frac{\\pi}{2})');
    expect(key('\\tfrac12')).toBe('\\frac{1}{2}');
    expect(key('\\frac9{19}')).toBe('\\frac{9}{19}');
    expect(key('11\\sqrt2')).toBe('11\\sqrt{2}');
    expect(key('\\displaystyle 2\\,\\pi')).toBe('2\\pi');
  });

  it('unwraps \\text{} and drops units with their powers', () => {
    expect(key('\\text{Evelyn}')).toBe('evelyn');
    expect(key('5.4 \\text{ cents}')).toBe('5.4');
    expect(key('864 \\mbox{ inches}^2')).toBe('864');
    expect(key('15 cm^2')).toBe('15');
    expect(key('6.43 \\times 10^{16} \\text{ cm}^{-3}')).toBe('6.43\\times10^{16}');
    expect(key('\\text{C}')).toBe('C');
  });

  it('strips degrees and percent but reports them', () => {
    expect(normalizeAnswer('90^\\circ')).toEqual({ text: '90', percent: false, degrees: true });
    expect(normalizeAnswer('\\frac{270}7\\text{ degrees}')).toMatchObject({
      text: '\\frac{270}{7}',
      degrees: true,
    });
    expect(normalizeAnswer('62.5\\%')).toEqual({ text: '62.5', percent: true, degrees: false });
  });

  it('normalises number formatting: thousands, leading and trailing zeros, currency', () => {
    expect(key('10,\\!080')).toBe('10080');
    expect(key('11,\\! 111,\\! 111,\\! 100')).toBe('11111111100');
    expect(key('\\$32,\\!348')).toBe('32348');
    expect(key('025')).toBe('25');
    expect(key('27.0')).toBe('27');
    expect(key('2.50')).toBe('2.5');
    expect(key('.35625')).toBe('0.35625');
    // A comma followed by a space separates answers: this is a list, not 8221.
    expect(key('8, 221')).toBe('8,221');
  });

  it('reads mixed numbers, choice letters and based numbers', () => {
    expect(key('1\\frac{4}{5}')).toBe('1+\\frac{4}{5}');
    expect(key('\\text{(C)}')).toBe('C');
    expect(key('4210_{5}')).toBe('4210_5');
  });

  it('turns "or"/"and" into list commas and drops "x \\in"', () => {
    expect(key('x=1 \\text{ or } x=2')).toBe('x=1,x=2');
    expect(key('x \\in [-2,7]')).toBe('[-2,7]');
  });

  it('keeps matrix row separators and the space between a command and a letter', () => {
    expect(key('\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}')).toBe('\\begin{pmatrix}1\\\\2\\end{pmatrix}');
    expect(key('\\pi r^2')).toBe('\\pi r^2');
  });
});
