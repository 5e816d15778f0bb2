import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer as HfLibTokenizer } from '@huggingface/tokenizers';
import { TokenizerError, type Tokenizer } from './tokenizer.js';

/** Tried in order when tokenizer_config.json names no eos_token (base-model repos often ship none). */
const EOS_CANDIDATES = ['<|endoftext|>', '</s>', '<|end_of_text|>', '<eos>', '<|im_end|>', '<|eot_id|>'];
const PAD_CANDIDATES = ['<pad>', '<|pad|>', '[PAD]', '<|finetune_right_pad_id|>'];

export interface HfTokenizerOptions {
  /** Override the config's eos token (a token string present in the vocabulary). */
  eosToken?: string;
  /** Override the config's pad token; defaults to the config's, then a `<pad>`-like token, then eos. */
  padToken?: string;
}

type TokenField = string | { content?: unknown } | null | undefined;

function tokenContent(value: TokenField): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof value.content === 'string') return value.content;
  return undefined;
}

/**
 * A Hugging Face `tokenizer.json` (BPE, byte-level BPE, WordPiece, Unigram …) run by `@huggingface/tokenizers`,
 * the pure-JS port maintained by Hugging Face, so ids match the Python/Rust tokenizers.
 */
export class HfTokenizer implements Tokenizer {
  readonly eosId: number;
  readonly padId: number;
  readonly bosId?: number;
  readonly vocabSize: number;
  readonly chatTemplate?: string;
  readonly specialTokens: Partial<Record<'bos_token' | 'eos_token' | 'pad_token' | 'unk_token', string>> = {};
  private readonly inner: HfLibTokenizer;

  constructor(
    tokenizerJson: object,
    tokenizerConfig: Record<string, unknown> = {},
    options: HfTokenizerOptions = {},
  ) {
    if (!tokenizerJson || typeof tokenizerJson !== 'object' || !('model' in tokenizerJson)) {
      throw new TokenizerError('tokenizer.json', 'not a tokenizers JSON file (no "model" key)');
    }
    try {
      this.inner = new HfLibTokenizer(tokenizerJson, tokenizerConfig);
    } catch (err) {
      throw new TokenizerError('tokenizer.json', `cannot build the tokenizer: ${(err as Error).message}`);
    }
    const vocab = this.inner.get_vocab(true);
    let maxId = -1;
    for (const id of vocab.values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;

    const idOf = (field: string, token: string): number => {
      const id = this.inner.token_to_id(token);
      if (id === undefined)
        throw new TokenizerError(field, `token ${JSON.stringify(token)} is not in the vocabulary`);
      return id;
    };
    const firstPresent = (names: string[]) => names.find((n) => this.inner.token_to_id(n) !== undefined);

    const eosToken =
      options.eosToken ??
      tokenContent(tokenizerConfig.eos_token as TokenField) ??
      firstPresent(EOS_CANDIDATES);
    if (eosToken === undefined) {
      throw new TokenizerError(
        'eos_token',
        `tokenizer_config.json names none and tokenizer.json has none of ${EOS_CANDIDATES.join(' ')}`,
      );
    }
    this.eosId = idOf('eos_token', eosToken);

    const padToken = options.padToken ?? tokenContent(tokenizerConfig.pad_token as TokenField);
    const padFallback = firstPresent(PAD_CANDIDATES);
    // Padding positions are masked out everywhere, so reusing eos (what HF does for Llama/Qwen) is safe.
    this.padId =
      padToken !== undefined
        ? idOf('pad_token', padToken)
        : padFallback
          ? idOf('pad_token', padFallback)
          : this.eosId;

    const bosToken = tokenContent(tokenizerConfig.bos_token as TokenField);
    if (bosToken !== undefined) this.bosId = idOf('bos_token', bosToken);

    this.chatTemplate = chatTemplateOf(tokenizerConfig.chat_template);
    for (const key of ['bos_token', 'eos_token', 'pad_token', 'unk_token'] as const) {
      const t = tokenContent(tokenizerConfig[key] as TokenField);
      if (t !== undefined) this.specialTokens[key] = t;
    }
  }

  encode(text: string): number[] {
    if (typeof text !== 'string') throw new TokenizerError('text', `expected a string, got ${typeof text}`);
    return this.inner.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: number[]): string {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new TokenizerError('ids', `token id ${id} is outside the vocabulary [0, ${this.vocabSize})`);
      }
    }
    // The library rejects an empty array; an empty completion (immediate EOS) is ordinary here.
    if (ids.length === 0) return '';
    return this.inner.decode(ids, { skip_special_tokens: true });
  }

  /** The token string for an id (undefined for ids the vocabulary lacks). */
  idToToken(id: number): string | undefined {
    return this.inner.id_to_token(id);
  }

  tokenToId(token: string): number | undefined {
    return this.inner.token_to_id(token);
  }

  /** Reads `tokenizer.json` and, when present, `tokenizer_config.json` from a model directory. */
  static fromDirectory(dir: string, options: HfTokenizerOptions = {}): HfTokenizer {
    const jsonPath = join(dir, 'tokenizer.json');
    if (!existsSync(jsonPath)) throw new TokenizerError('path', `${dir} has no tokenizer.json`);
    return new HfTokenizer(readJson(jsonPath), configBeside(jsonPath), options);
  }

  /** Reads a `tokenizer.json` file; a `tokenizer_config.json` beside it is used when present. */
  static fromFile(jsonPath: string, options: HfTokenizerOptions = {}): HfTokenizer {
    if (!existsSync(jsonPath) || !statSync(jsonPath).isFile()) {
      throw new TokenizerError('path', `${jsonPath} is not a file`);
    }
    return new HfTokenizer(readJson(jsonPath), configBeside(jsonPath), options);
  }
}

/**
 * `chat_template` as transformers stores it: a string, or a list of named templates (the `default` one is used);
 * newer repositories keep it in `chat_template.jinja` instead.
 */
function chatTemplateOf(value: unknown): string | undefined {
  if (typeof value === 'string' && value.trim()) return value;
  if (Array.isArray(value)) {
    const named = value as { name?: unknown; template?: unknown }[];
    const t = (named.find((v) => v?.name === 'default') ?? named[0])?.template;
    if (typeof t === 'string' && t.trim()) return t;
  }
  return undefined;
}

/** tokenizer_config.json beside a tokenizer.json, with a chat_template.jinja there as its chat_template. */
function configBeside(jsonPath: string): Record<string, unknown> {
  const dir = join(jsonPath, '..');
  const configPath = join(dir, 'tokenizer_config.json');
  const config = (existsSync(configPath) ? readJson(configPath) : {}) as Record<string, unknown>;
  const jinjaPath = join(dir, 'chat_template.jinja');
  if (config.chat_template === undefined && existsSync(jinjaPath))
    return { ...config, chat_template: readFileSync(jinjaPath, 'utf8') };
  return config;
}

function readJson(path: string): object {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new TokenizerError('path', `cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (!parsed || typeof parsed !== 'object') throw new Error('top level is not an object');
    return parsed;
  } catch (err) {
    throw new TokenizerError(path, `invalid JSON: ${(err as Error).message}`);
  }
}
