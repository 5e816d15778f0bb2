export type { RewardExample, RewardFn, RewardResult, VerifyOptions, VerifyResult } from './types.js';
export { verifyMath } from './verify-math.js';
export {
  extractAnswer,
  extractAnswerWithSource,
  extractBoxed,
  extractGold,
  VERIFY_MODES,
  type ExtractOptions,
  type AnswerSource,
  type VerifyMode,
} from './extract.js';
export { normalizeAnswer, answerKey, type NormalizedAnswer } from './normalize.js';
export { mathReward, exactMatchReward, makeMathReward } from './reward-fns.js';
export { warmUpSymbolic, stopSymbolicWorker } from './symbolic.js';
export {
  rewardSetSpec,
  rewardComponentSpec,
  type RewardSetSpec,
  type RewardSetInput,
  type RewardComponentSpec,
} from './reward-spec.js';
export {
  RewardScorer,
  parseRewardSet,
  rewardUrlIssues,
  type RewardSample,
  type SampleScore,
  type ComponentScore,
} from './reward-scorer.js';
export { HttpGrader, type HttpGraderOptions, type GradeResult } from './http-grader.js';
