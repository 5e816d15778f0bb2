import { TokenizerError, type Tokenizer } from './tokenizer.js';

/** Special tokens first, so their ids are stable whatever the alphabet becomes. */
export const CHAR_SPECIAL_TOKENS = ['<pad>', '<eos>', '<bos>', '<unk>'] as const;
export const CHAR_PAD_ID = 0;
export const CHAR_EOS_ID = 1;
export const CHAR_BOS_ID = 2;
export const CHAR_UNK_ID = 3;

/**
 * The 60 characters the built-in tiny models can read and write, in id order (ids 4..63).
 * Chosen for arithmetic and short math answers: digits, lowercase letters, the operators and brackets of
 * `\boxed{…}`, `\frac{a}{b}`, intervals and powers, plus `?` and `:` for "Q: … A:" prompts.
 * Uppercase letters are not in it (64 ids would not fit); pass `{ lowercase: true }` to fold them.
 */
export const CHAR_ALPHABET = [
  ...'0123456789',
  ...'abcdefghijklmnopqrstuvwxyz',
  ' ',
  '\n',
  ...'+-*/=(),.',
  ...'\\{}',
  ...'?:',
  ...'^_[]<>!$',
] as const;

export const CHAR_VOCAB_SIZE = CHAR_SPECIAL_TOKENS.length + CHAR_ALPHABET.length;

const REPLACEMENT_CHAR = '\uFFFD';

export interface CharTokenizerOptions {
  /** Fold A–Z to a–z before encoding instead of mapping them to `<unk>`. */
  lowercase?: boolean;
}

/** One id per character of {@link CHAR_ALPHABET}; anything else becomes `<unk>` (decoded as U+FFFD). */
export class CharTokenizer implements Tokenizer {
  readonly eosId = CHAR_EOS_ID;
  readonly padId = CHAR_PAD_ID;
  readonly bosId = CHAR_BOS_ID;
  readonly unkId = CHAR_UNK_ID;
  readonly vocabSize = CHAR_VOCAB_SIZE;
  private readonly lowercase: boolean;
  private readonly idOf = new Map<string, number>(
    CHAR_ALPHABET.map((ch, i) => [ch, CHAR_SPECIAL_TOKENS.length + i]),
  );

  constructor(options: CharTokenizerOptions = {}) {
    this.lowercase = options.lowercase ?? false;
  }

  encode(text: string): number[] {
    if (typeof text !== 'string') throw new TokenizerError('text', `expected a string, got ${typeof text}`);
    const source = this.lowercase ? text.toLowerCase() : text;
    // Iterating the string (not indexing it) keeps astral characters as one <unk>, not two.
    return Array.from(source, (ch) => this.idOf.get(ch) ?? CHAR_UNK_ID);
  }

  decode(ids: number[]): string {
    let out = '';
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= CHAR_VOCAB_SIZE) {
        throw new TokenizerError('ids', `token id ${id} is outside the vocabulary [0, ${CHAR_VOCAB_SIZE})`);
      }
      if (id === CHAR_UNK_ID) out += REPLACEMENT_CHAR;
      else if (id >= CHAR_SPECIAL_TOKENS.length) out += CHAR_ALPHABET[id - CHAR_SPECIAL_TOKENS.length];
    }
    return out;
  }
}
