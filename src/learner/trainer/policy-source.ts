import { FieldError } from '../field-error.js';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CausalLM } from '../model/causal-lm.js';
import { BUILTIN_MODELS, type ModelConfig } from '../model/config.js';
import { LoraAdapters } from '../model/lora.js';
import { loadPretrained } from '../model/pretrained.js';
import { CharTokenizer } from '../tokenizer/char-tokenizer.js';
import { loadTokenizer } from '../tokenizer/load-tokenizer.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { promptFormat, type PromptFormat, type PromptTemplateName } from '../data/prompt-template.js';
import { checkpointModel, type CheckpointContents } from './checkpoint.js';
import type { ModelSpec, TrainConfig } from './types.js';

export interface Policy {
  model: CausalLM;
  tokenizer: Tokenizer;
  /** How to load the tokenizer again: 'char' or a directory with tokenizer.json. */
  tokenizerSpec: string;
  /** How examples become prompts and which tokens end a completion (data.prompt_template; default none). */
  prompt: PromptFormat;
}

/** The policy prompted with a run's template (data.prompt_template). */
export function withPromptTemplate(policy: Policy, template: PromptTemplateName): Policy {
  return { ...policy, prompt: promptFormat(template, policy.tokenizer) };
}

export class PolicySourceError extends FieldError {}

/** The built-in models speak the character tokenizer; its special ids win over the config's defaults. */
function withTokenizerIds(config: ModelConfig, tok: Tokenizer): ModelConfig {
  return {
    ...config,
    pad_token_id: tok.padId,
    eos_token_id: tok.eosId,
    bos_token_id: tok.bosId ?? tok.eosId,
  };
}

/** A directory's tokenizer: tokenizer.json if present, else the char marker written by exportPolicy. */
function tokenizerSpecFor(dir: string): string {
  if (existsSync(join(dir, 'tokenizer.json'))) return dir;
  const cfgPath = join(dir, 'tokenizer_config.json');
  if (existsSync(cfgPath)) {
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as { popo_tokenizer?: string };
    if (cfg.popo_tokenizer) return cfg.popo_tokenizer;
  }
  throw new PolicySourceError('model.path', `${dir} has no tokenizer.json (and no popo tokenizer marker)`);
}

export async function loadPolicy(spec: ModelSpec, seed: number): Promise<Policy> {
  if (spec.builtin) {
    const base = BUILTIN_MODELS[spec.builtin];
    if (!base) {
      throw new PolicySourceError(
        'model.builtin',
        `unknown built-in model "${spec.builtin}" (known: ${Object.keys(BUILTIN_MODELS).join(', ')})`,
      );
    }
    const tokenizer = new CharTokenizer();
    return {
      model: CausalLM.create(withTokenizerIds(base, tokenizer), seed),
      tokenizer,
      tokenizerSpec: 'char',
      prompt: promptFormat('none', tokenizer),
    };
  }
  if (!spec.path) throw new PolicySourceError('model', 'must name a built-in model or a path');
  if (!existsSync(join(spec.path, 'config.json'))) {
    throw new PolicySourceError('model.path', `${spec.path} is not a model directory (no config.json)`);
  }
  const tokenizerSpec = tokenizerSpecFor(spec.path);
  const tokenizer = loadTokenizer(tokenizerSpec);
  const model = await loadPretrained(spec.path);
  return { model, tokenizer, tokenizerSpec, prompt: promptFormat('none', tokenizer) };
}

/**
 * The policy θ of a checkpoint (resume, or a job started from another job's checkpoint): under LoRA the base
 * (stored, or loaded from where the checkpoint names it) with the checkpoint's adapters on it.
 */
export async function policyFromCheckpoint(c: CheckpointContents): Promise<Policy> {
  const tokenizer = loadTokenizer(c.tokenizer);
  return {
    model: await checkpointModel(c),
    tokenizer,
    tokenizerSpec: c.tokenizer,
    prompt: promptFormat('none', tokenizer),
  };
}

/**
 * Fresh adapters for a run with a `lora` section, as PEFT initialises them (B = 0: the run starts exactly at its
 * base). Their seed is derived from the run's so it differs from the built-in model's init (seed) and the
 * predictor's (seed + 1).
 */
export function attachFreshLora(model: CausalLM, config: TrainConfig): void {
  if (!config.lora) return;
  model.attachLora(LoraAdapters.create(model.config, config.lora, config.seed + 2));
}

export { encodePrompt } from '../data/prompt.js';
