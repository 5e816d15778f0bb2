import { Injectable } from '@nestjs/common';
import { validationFailed } from '../../common/api-error.js';
import { AppConfig } from '../../config/index.js';
import { parseRewardSet, RewardScorer, rewardUrlIssues } from '../../learner/rewards/index.js';
import { ConfigError } from '../../learner/trainer/config.js';
import type { RunRewardsDto, RunRewardsResultDto } from './dto/run-rewards.dto.js';

/** Scores sample completions against a reward set without a job: the dry run users try a reward with. */
@Injectable()
export class RewardsService {
  constructor(private readonly config: AppConfig) {}

  async run(dto: RunRewardsDto): Promise<RunRewardsResultDto> {
    let spec;
    try {
      spec = parseRewardSet({ rewards: dto.rewards, positive_threshold: dto.positive_threshold });
    } catch (e) {
      if (e instanceof ConfigError) throw validationFailed(e.issues);
      throw e;
    }
    // A grader URL that may not be reached is the request's fault (400), not a score of 0.
    const refused = await rewardUrlIssues(spec, this.config.outbound);
    if (refused.length) throw validationFailed(refused);
    const results = await new RewardScorer(spec, this.config.outbound).scoreAll(dto.samples);
    const n = results.length;
    return {
      positive_threshold: spec.positive_threshold,
      results,
      mean_score: results.reduce((a, r) => a + r.score, 0) / n,
      positive_rate: results.filter((r) => r.positive).length / n,
    };
  }
}
