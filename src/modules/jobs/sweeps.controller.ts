import { Body, Controller, Get, Param, Post, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiCreatedResponse,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { ParseUuidPipe } from '../../common/uuid.pipe.js';
import { ProjectId } from '../auth/auth.decorators.js';
import { SweepDto } from './dto/sweep.dto.js';
import { IdempotencyKey } from './idempotency-key.decorator.js';
import { IDEMPOTENCY_HEADER_DOC } from './jobs.controller.js';
import { SweepsService } from './sweeps.service.js';
import { ApiErrors } from '../../common/error.dto.js';

@ApiTags('sweeps')
@ApiBearerAuth()
@ApiErrors()
@Controller('v1/sweeps')
export class SweepsController {
  constructor(private readonly sweeps: SweepsService) {}

  @Post()
  @ApiOperation({ summary: 'Expand a hyperparameter grid into a group of jobs.' })
  @ApiHeader(IDEMPOTENCY_HEADER_DOC)
  @ApiBody({ schema: { $ref: '#/components/schemas/SweepRequest' } })
  @ApiCreatedResponse({ type: SweepDto })
  async create(
    @ProjectId() projectId: string,
    @Body() body: Record<string, unknown>,
    @IdempotencyKey() key: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ): Promise<SweepDto> {
    const { sweep, jobs, created } = await this.sweeps.create(projectId, body, key);
    if (!created) res.status(200).setHeader('Idempotent-Replayed', 'true');
    return { ...sweep, jobs };
  }

  @Get(':id')
  @ApiOperation({ summary: 'A sweep and its jobs in grid order.' })
  @ApiOkResponse({ type: SweepDto })
  async get(@ProjectId() projectId: string, @Param('id', ParseUuidPipe) id: string): Promise<SweepDto> {
    const { sweep, jobs } = await this.sweeps.get(projectId, id);
    return { ...sweep, jobs };
  }
}
