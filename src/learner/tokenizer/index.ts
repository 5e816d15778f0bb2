export type { Tokenizer } from './tokenizer.js';
export { TokenizerError } from './tokenizer.js';
export {
  CharTokenizer,
  CHAR_ALPHABET,
  CHAR_VOCAB_SIZE,
  CHAR_SPECIAL_TOKENS,
  CHAR_PAD_ID,
  CHAR_EOS_ID,
  CHAR_BOS_ID,
  CHAR_UNK_ID,
  type CharTokenizerOptions,
} from './char-tokenizer.js';
export { HfTokenizer, type HfTokenizerOptions } from './hf-tokenizer.js';
export { loadTokenizer } from './load-tokenizer.js';
