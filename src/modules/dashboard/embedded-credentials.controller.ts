import { readFile } from 'node:fs/promises';
import { Controller, Get, Inject, Optional, Req, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ApiError } from '../../common/api-error.js';
import { ApiErrors } from '../../common/error.dto.js';
import { Public } from '../auth/auth.decorators.js';
import { EMBEDDED_CREDENTIALS, type EmbeddedCredentials, isLoopbackRequest } from './embedded-credentials.js';

export class EmbeddedCredentialsDto {
  @ApiProperty({ description: 'The project API key written at the first embedded boot.' }) api_key: string;
  @ApiProperty({ format: 'uuid' }) project_id: string;
}

const unavailable = () =>
  new ApiError(
    404,
    'not_found',
    'no local credentials: offered only in embedded mode (npm start) to a browser on the same machine',
  );

/**
 * Lets the dashboard sign in by itself when someone opens it on the machine that runs `npm start`. Public (it
 * is how a browser without a key gets one), but answers only loopback requests, and only in embedded mode.
 */
@ApiTags('dashboard')
@ApiErrors()
@Controller('v1/embedded/credentials')
export class EmbeddedCredentialsController {
  constructor(@Optional() @Inject(EMBEDDED_CREDENTIALS) private readonly creds?: EmbeddedCredentials) {}

  @Get()
  @Public()
  @ApiOperation({
    summary: 'The embedded project key, for a dashboard opened on localhost (404 otherwise).',
  })
  @ApiOkResponse({ type: EmbeddedCredentialsDto })
  async get(@Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<EmbeddedCredentialsDto> {
    if (!this.creds || !isLoopbackRequest(req)) throw unavailable();
    let parsed: { api_key?: unknown; project_id?: unknown };
    try {
      parsed = JSON.parse(await readFile(this.creds.file, 'utf8')) as typeof parsed;
    } catch {
      throw unavailable();
    }
    if (typeof parsed.api_key !== 'string' || typeof parsed.project_id !== 'string') throw unavailable();
    res.setHeader('cache-control', 'no-store');
    return { api_key: parsed.api_key, project_id: parsed.project_id };
  }
}
