import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CharTokenizer } from './char-tokenizer.js';
import { HfTokenizer } from './hf-tokenizer.js';
import { loadTokenizer } from './load-tokenizer.js';
import { TokenizerError } from './tokenizer.js';

/** GPT-2's reversible byte → printable-unicode table, the alphabet of every byte-level BPE vocabulary. */
function bytesToUnicode(): Map<number, string> {
  const bs: number[] = [];
  for (let i = 33; i <= 126; i++) bs.push(i);
  for (let i = 161; i <= 172; i++) bs.push(i);
  for (let i = 174; i <= 255; i++) bs.push(i);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  return new Map(bs.map((b, i) => [b, String.fromCodePoint(cs[i])]));
}

const MERGES = ['Ġ t', 'h e', 'Ġt he', '1 2', 'Ġ 12'];
const ID = { Gthe: 258, twelve: 259, Gtwelve: 260, eos: 261, pad: 262, bos: 263 };

/** A byte-level BPE tokenizer.json in the layout Qwen2/Llama-3 ship: 256 byte tokens, merges, specials. */
function byteLevelBpe(): object {
  const b2u = bytesToUnicode();
  const vocab: Record<string, number> = {};
  for (let b = 0; b < 256; b++) vocab[b2u.get(b)!] = b;
  let next = 256;
  for (const m of MERGES) vocab[m.replace(' ', '')] = next++;
  const special = (id: number, content: string) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(ID.eos, '<|endoftext|>'), special(ID.pad, '<|pad|>'), special(ID.bos, '<|bos|>')],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: MERGES,
    },
  };
}

/** A word-level-split BPE without byte fallback: characters outside the vocabulary become [UNK]. */
function plainBpe(): object {
  const chars = [...'abcdehlortw'];
  const vocab: Record<string, number> = { '[UNK]': 0, '</s>': 1 };
  for (const c of chars) vocab[c] = Object.keys(vocab).length;
  const merges = ['h e', 'l l', 'he ll', 'hell o'];
  for (const m of merges) vocab[m.replace(' ', '')] = Object.keys(vocab).length;
  return {
    version: '1.0',
    added_tokens: [
      {
        id: 1,
        content: '</s>',
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: null,
    decoder: null,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '[UNK]',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  };
}

describe('HfTokenizer (byte-level BPE)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'popo-tok-'));
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(byteLevelBpe()));
    writeFileSync(
      join(dir, 'tokenizer_config.json'),
      JSON.stringify({ eos_token: '<|endoftext|>', pad_token: { content: '<|pad|>' }, bos_token: '<|bos|>' }),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('applies the merges: " the" and " 12" become single tokens', () => {
    const tok = loadTokenizer(dir);
    expect(tok).toBeInstanceOf(HfTokenizer);
    // "x" is byte 120, " the" the third merge, " 12" the fifth.
    expect(tok.encode('x the 12')).toEqual([120, ID.Gthe, ID.Gtwelve]);
    expect(tok.encode('12')).toEqual([ID.twelve]);
    // With no leading space there is no "Ġt" merge to start from: "the" is byte "t" plus the "he" merge (257).
    expect(tok.encode('the')).toEqual([116, 257]);
  });

  it('round-trips text, including multi-byte UTF-8', () => {
    const tok = loadTokenizer(dir);
    for (const text of ['x the 12', 'héllo wörld ∑ 😀', '\\boxed{\\frac{1}{2}}\n', '']) {
      expect(tok.decode(tok.encode(text))).toBe(text);
    }
  });

  it('takes eos, pad and bos from tokenizer_config.json and skips them when decoding', () => {
    const tok = loadTokenizer(dir);
    expect(tok.eosId).toBe(ID.eos);
    expect(tok.padId).toBe(ID.pad);
    expect(tok.bosId).toBe(ID.bos);
    expect(tok.vocabSize).toBe(ID.bos + 1);
    expect(tok.decode([ID.bos, ...tok.encode('the'), ID.eos, ID.pad])).toBe('the');
  });

  it('also loads from the tokenizer.json path, and falls back to known eos names without a config', () => {
    expect(loadTokenizer(join(dir, 'tokenizer.json')).eosId).toBe(ID.eos);
    const bare = new HfTokenizer(byteLevelBpe());
    expect(bare.eosId).toBe(ID.eos);
    expect(bare.padId).toBe(ID.pad);
    expect(bare.bosId).toBeUndefined();
  });

  it('rejects bad ids and bad config with errors naming the field', () => {
    const tok = loadTokenizer(dir);
    expect(() => tok.decode([9999])).toThrow(/ids: token id 9999/);
    expect(() => new HfTokenizer(byteLevelBpe(), { eos_token: '<nope>' })).toThrow(
      /eos_token: token "<nope>"/,
    );
    expect(() => new HfTokenizer({ foo: 1 })).toThrow(TokenizerError);
  });
});

describe('HfTokenizer (BPE with unk)', () => {
  it('merges within words and maps unknown characters to [UNK]', () => {
    const tok = new HfTokenizer(plainBpe());
    const hello = tok.encode('hello');
    expect(hello).toHaveLength(1);
    expect(tok.idToToken(hello[0])).toBe('hello');
    expect(tok.encode('hz')).toEqual([tok.tokenToId('h'), 0]);
    expect(tok.eosId).toBe(1);
    expect(tok.padId).toBe(1);
  });
});

describe('loadTokenizer', () => {
  it('returns the char tokenizer for "char" and "char:lower"', () => {
    expect(loadTokenizer('char')).toBeInstanceOf(CharTokenizer);
    expect(loadTokenizer('char:lower').encode('A')).toEqual(loadTokenizer('char').encode('a'));
  });

  it('names the problem for a missing path or a directory without tokenizer.json', () => {
    expect(() => loadTokenizer('/nonexistent/model')).toThrow(/tokenizer: \/nonexistent\/model is neither/);
    const empty = mkdtempSync(join(tmpdir(), 'popo-tok-empty-'));
    try {
      expect(() => loadTokenizer(empty)).toThrow(/path: .* has no tokenizer.json/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
    expect(() => loadTokenizer('')).toThrow(TokenizerError);
  });
});
