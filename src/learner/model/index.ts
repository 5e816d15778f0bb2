export { CausalLM, type ForwardOptions, type ForwardOutput } from './causal-lm.js';
export {
  BUILTIN_MODELS,
  countParameters,
  type ModelConfig,
  type ResolvedConfig,
  resolveConfig,
  SUPPORTED_ARCHITECTURES,
} from './config.js';
export { ModelError, type ModelErrorCode } from './errors.js';
export { roundToBf16 } from './float-formats.js';
export { KVCache, type LayerKV } from './kv-cache.js';
export {
  countLoraParameters,
  DEFAULT_LORA_TARGETS,
  LORA_TARGETS,
  LoraAdapters,
  type LoraConfig,
  type LoraTarget,
} from './lora.js';
export { peftAdapterConfig, peftStateDict, savePeftAdapter } from './peft.js';
export {
  hfStateDict,
  loadPretrained,
  readModelConfig,
  savePretrained,
  type SaveOptions,
} from './pretrained.js';
export {
  readSafetensors,
  readSafetensorsHeader,
  type SafetensorsDtype,
  type TensorRecord,
  writeSafetensors,
} from './safetensors.js';
export { type ParamSpec, paramSpecs } from './weight-layout.js';
