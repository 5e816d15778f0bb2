import { existsSync, statSync } from 'node:fs';
import { CharTokenizer } from './char-tokenizer.js';
import { HfTokenizer, type HfTokenizerOptions } from './hf-tokenizer.js';
import { TokenizerError, type Tokenizer } from './tokenizer.js';

/**
 * Picks a tokenizer from a spec:
 * - `'char'` / `'char:lower'`: the built-in character tokenizer (`:lower` folds uppercase);
 * - a directory holding `tokenizer.json` (a local HF-format model directory);
 * - a path to a `tokenizer.json` file.
 */
export function loadTokenizer(dirOrSpec: string, options: HfTokenizerOptions = {}): Tokenizer {
  if (typeof dirOrSpec !== 'string' || dirOrSpec.trim() === '') {
    throw new TokenizerError('tokenizer', 'expected "char", "char:lower", or a path to a model directory');
  }
  if (dirOrSpec === 'char') return new CharTokenizer();
  if (dirOrSpec === 'char:lower') return new CharTokenizer({ lowercase: true });
  if (!existsSync(dirOrSpec)) {
    throw new TokenizerError('tokenizer', `${dirOrSpec} is neither "char"/"char:lower" nor an existing path`);
  }
  return statSync(dirOrSpec).isDirectory()
    ? HfTokenizer.fromDirectory(dirOrSpec, options)
    : HfTokenizer.fromFile(dirOrSpec, options);
}
