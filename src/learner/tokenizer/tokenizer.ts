import { FieldError } from '../field-error.js';
/**
 * The one tokenizer contract the model, the sampler and the trainer depend on.
 *
 * `encode` never adds special tokens: callers decide where BOS/EOS go (a prompt gets BOS, a completion ends
 * at EOS), so the same tokenizer serves prompts, completions and SFT targets without flags.
 * `decode` drops special tokens, so a sampled completion decodes to just its text.
 */
export interface Tokenizer {
  encode(text: string): number[];
  decode(ids: number[]): string;
  readonly eosId: number;
  readonly padId: number;
  readonly bosId?: number;
  readonly vocabSize: number;
  /** The model's own Jinja chat template (tokenizer_config.json `chat_template`), when it ships one. */
  readonly chatTemplate?: string;
  /** Special-token strings a chat template may reference (`bos_token`, `eos_token`, ...). */
  readonly specialTokens?: Partial<Record<'bos_token' | 'eos_token' | 'pad_token' | 'unk_token', string>>;
  /** The id of a token string, when the vocabulary has it. */
  tokenToId?(token: string): number | undefined;
}

/** Bad tokenizer input or files: `field` names what was wrong (a path, a config key, an argument). */
export class TokenizerError extends FieldError {}
