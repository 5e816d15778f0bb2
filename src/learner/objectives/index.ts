export { ObjectiveInputError } from './errors.js';
export { groupCounts, type GroupCounts } from './groups.js';
export {
  POPO_LOSS_DEFAULTS,
  POPO_WARNING_DEFAULTS,
  popoLoss,
  popoWarnings,
  positiveMask,
  readPopoStats,
  resolvePopoOptions,
  type FeatureHead,
  type ObjectiveWarning,
  type PopoInputs,
  type PopoLossOptions,
  type PopoResult,
  type PopoStats,
  type PopoStatTensors,
  type PopoWarningThresholds,
} from './popo.js';
export {
  GRPO_LOSS_DEFAULTS,
  aggregate,
  grpoAdvantages,
  grpoLoss,
  readGrpoStats,
  resolveGrpoOptions,
  type AdvantageSummary,
  type GrpoInputs,
  type GrpoLossOptions,
  type GrpoResult,
  type GrpoStats,
  type GrpoStatTensors,
} from './grpo.js';
export { sftLoss } from './sft.js';
export { disposeStats, readStats } from './stats.js';
export { stopGradient, tokenEntropy, tokenLogProbs, type ObjectiveBatch } from './tensor-ops.js';
