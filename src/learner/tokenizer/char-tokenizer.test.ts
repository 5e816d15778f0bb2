import { describe, expect, it } from 'vitest';
import {
  CHAR_ALPHABET,
  CHAR_BOS_ID,
  CHAR_EOS_ID,
  CHAR_PAD_ID,
  CHAR_UNK_ID,
  CHAR_VOCAB_SIZE,
  CharTokenizer,
} from './char-tokenizer.js';
import { TokenizerError } from './tokenizer.js';

describe('CharTokenizer', () => {
  const tok = new CharTokenizer();

  it('fits the tiny models (vocab <= 64) with distinct special ids', () => {
    expect(CHAR_VOCAB_SIZE).toBeLessThanOrEqual(64);
    expect(tok.vocabSize).toBe(CHAR_VOCAB_SIZE);
    expect(new Set([CHAR_PAD_ID, CHAR_EOS_ID, CHAR_BOS_ID, CHAR_UNK_ID]).size).toBe(4);
    expect(new Set(CHAR_ALPHABET).size).toBe(CHAR_ALPHABET.length);
  });

  it('round-trips arithmetic and boxed answers', () => {
    const text = 'q: what is (12+7)*3 - 4/2?\na: \\boxed{\\frac{1}{2}} [0,1) x^2_1 <> 5! $x$';
    const ids = tok.encode(text);
    expect(ids).toHaveLength(text.length);
    expect(ids.every((id) => id > CHAR_UNK_ID && id < CHAR_VOCAB_SIZE)).toBe(true);
    expect(tok.decode(ids)).toBe(text);
  });

  it('gives deterministic ids in alphabet order after the special tokens', () => {
    expect(tok.encode('0')).toEqual([4]);
    expect(tok.encode('9a')).toEqual([13, 14]);
    expect(new CharTokenizer().encode('abc 123')).toEqual(tok.encode('abc 123'));
  });

  it('maps unknown characters (uppercase, #, emoji) to unk and decodes unk as U+FFFD', () => {
    const ids = tok.encode('A#😀b');
    expect(ids).toEqual([CHAR_UNK_ID, CHAR_UNK_ID, CHAR_UNK_ID, tok.encode('b')[0]]);
    expect(tok.decode(ids)).toBe('\uFFFD\uFFFD\uFFFDb');
  });

  it('folds uppercase when asked', () => {
    const lower = new CharTokenizer({ lowercase: true });
    expect(lower.encode('What')).toEqual(tok.encode('what'));
  });

  it('drops pad/bos/eos when decoding and rejects out-of-range ids', () => {
    const ids = [CHAR_BOS_ID, ...tok.encode('7'), CHAR_EOS_ID, CHAR_PAD_ID];
    expect(tok.decode(ids)).toBe('7');
    expect(() => tok.decode([CHAR_VOCAB_SIZE])).toThrow(TokenizerError);
    expect(() => tok.decode([1.5])).toThrow(/ids: token id 1.5/);
  });
});
