import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend.js';
import { CausalLM } from '../model/causal-lm.js';
import { BUILTIN_MODELS } from '../model/config.js';
import { savePretrained } from '../model/pretrained.js';
import { CharTokenizer } from '../tokenizer/char-tokenizer.js';
import { CHAR_TOKENIZER_CONFIG } from './checkpoint.js';

/**
 * Writes a small, freshly initialised char-level model directory (HF format + tokenizer marker): the demo's SFT
 * starts from one, and tests that train use it because
 * the built-in models are sized for real CPU runs and tests need seconds.
 */
export async function writeTinyModelDir(
  dir: string,
  seed = 0,
  dims = { hidden: 32, layers: 2, heads: 2 },
): Promise<string> {
  if (!tf.engine().backendName) await initBackend('cpu');
  const tok = new CharTokenizer();
  const model = CausalLM.create(
    {
      ...BUILTIN_MODELS['tiny-1m'],
      hidden_size: dims.hidden,
      intermediate_size: dims.hidden * 2,
      num_hidden_layers: dims.layers,
      num_attention_heads: dims.heads,
      num_key_value_heads: dims.heads,
      pad_token_id: tok.padId,
      eos_token_id: tok.eosId,
      bos_token_id: tok.bosId,
    },
    seed,
  );
  try {
    mkdirSync(dir, { recursive: true });
    await savePretrained(model, dir);
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(CHAR_TOKENIZER_CONFIG));
  } finally {
    model.dispose();
  }
  return dir;
}
