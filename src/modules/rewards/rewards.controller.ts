import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../../common/error.dto.js';
import { RunRewardsDto, RunRewardsResultDto } from './dto/run-rewards.dto.js';
import { RewardsService } from './rewards.service.js';

@ApiTags('rewards')
@ApiBearerAuth()
@ApiErrors()
@Controller('v1/rewards')
export class RewardsController {
  constructor(private readonly rewards: RewardsService) {}

  @Post('run')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Dry run: score sample completions against a reward (math, exact_match, regex, http grader; weighted) ' +
      'without starting a job.',
  })
  @ApiOkResponse({ type: RunRewardsResultDto })
  run(@Body() body: RunRewardsDto): Promise<RunRewardsResultDto> {
    return this.rewards.run(body);
  }
}
