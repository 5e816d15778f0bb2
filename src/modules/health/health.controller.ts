import { Controller, Get, Res } from '@nestjs/common';
import { SkipThrottle } from '@nestjs/throttler';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Public } from '../auth/auth.decorators.js';
import { HealthDto } from './health.dto.js';
import { HealthService } from './health.service.js';
import { ApiErrors } from '../../common/error.dto.js';
import { RETRY_AFTER_S } from '../../common/http-exception.filter.js';

@ApiTags('health')
@ApiErrors()
@Controller('v1/health')
export class HealthController {
  constructor(private readonly health: HealthService) {}

  @Get()
  @Public()
  // Load balancers and monitors poll this; it is served from a one-second cache, so it needs no per-client limit.
  @SkipThrottle()
  @ApiOperation({
    summary: 'Database, Redis and live workers (no key needed). 503 when a dependency is down.',
  })
  @ApiOkResponse({ type: HealthDto })
  @ApiServiceUnavailableResponse({ type: HealthDto })
  async check(@Res({ passthrough: true }) res: Response): Promise<HealthDto> {
    const report = await this.health.check();
    if (report.status !== 'ok') res.status(503).setHeader('Retry-After', String(RETRY_AFTER_S));
    return report;
  }
}
