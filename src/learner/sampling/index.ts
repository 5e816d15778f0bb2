export {
  type FinishReason,
  generate,
  type GenerateOptions,
  type GenerationResult,
  generationTensors,
} from './generate.js';
export {
  buildProcessors,
  type LogitsProcessor,
  type ProcessorContext,
  logSoftmaxAt,
  type SamplingSettings,
  softmax,
  TemperatureProcessor,
  TopKProcessor,
  TopPProcessor,
} from './processors.js';
