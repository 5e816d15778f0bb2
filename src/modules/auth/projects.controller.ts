import { Body, Controller, Delete, Get, HttpCode, Param, Post, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiCreatedResponse, ApiTags, ApiOperation } from '@nestjs/swagger';
import { ParseUuidPipe } from '../../common/uuid.pipe.js';
import type { ApiKey } from '../../database/entities/index.js';
import { AdminOnly, ProjectId } from './auth.decorators.js';
import { ApiKeysService } from './api-keys.service.js';
import {
  ApiKeyDto,
  CreateKeyDto,
  CreatedKeyDto,
  CreateProjectDto,
  MeDto,
  ProjectDto,
} from './dto/project.dto.js';
import type { AuthedRequest } from './principal.js';
import { ApiErrors } from '../../common/error.dto.js';

const keyView = (k: ApiKey): ApiKeyDto => ({
  id: k.id,
  project_id: k.project_id,
  name: k.name,
  prefix: k.prefix,
  created_at: k.created_at,
  last_used_at: k.last_used_at,
  revoked_at: k.revoked_at,
});

@ApiTags('projects')
@ApiBearerAuth()
@ApiErrors()
@Controller('v1')
export class ProjectsController {
  constructor(private readonly keys: ApiKeysService) {}

  @Post('projects')
  @AdminOnly()
  @ApiOperation({ summary: 'Create a project (admin key).' })
  @ApiCreatedResponse({ type: ProjectDto })
  createProject(@Body() body: CreateProjectDto): Promise<ProjectDto> {
    return this.keys.createProject(body);
  }

  @Get('projects')
  @AdminOnly()
  @ApiOperation({ summary: 'List projects (admin key).' })
  @ApiOkResponse({ type: [ProjectDto] })
  listProjects(): Promise<ProjectDto[]> {
    return this.keys.listProjects();
  }

  @Get('projects/:projectId')
  @AdminOnly()
  @ApiOkResponse({ type: ProjectDto })
  getProject(@Param('projectId', ParseUuidPipe) projectId: string): Promise<ProjectDto> {
    return this.keys.getProject(projectId);
  }

  @Post('projects/:projectId/keys')
  @AdminOnly()
  @ApiOperation({ summary: 'Create an API key for a project (admin key). The token is returned once.' })
  @ApiCreatedResponse({ type: CreatedKeyDto })
  createKey(
    @Param('projectId', ParseUuidPipe) projectId: string,
    @Body() body: CreateKeyDto,
  ): Promise<CreatedKeyDto> {
    return this.keys.createKey(projectId, body.name);
  }

  @Get('projects/:projectId/keys')
  @AdminOnly()
  @ApiOkResponse({ type: [ApiKeyDto] })
  async listKeys(@Param('projectId', ParseUuidPipe) projectId: string): Promise<ApiKeyDto[]> {
    return (await this.keys.listKeys(projectId)).map(keyView);
  }

  @Delete('projects/:projectId/keys/:keyId')
  @AdminOnly()
  @HttpCode(200)
  @ApiOperation({ summary: 'Revoke an API key (admin key).' })
  @ApiOkResponse({ type: ApiKeyDto })
  async revokeKey(
    @Param('projectId', ParseUuidPipe) projectId: string,
    @Param('keyId', ParseUuidPipe) keyId: string,
  ): Promise<ApiKeyDto> {
    return keyView(await this.keys.revokeKey(projectId, keyId));
  }

  @Get('me')
  @ApiOperation({ summary: 'The calling key and its project.' })
  @ApiOkResponse({ type: MeDto })
  async me(@ProjectId() projectId: string, @Req() req: AuthedRequest): Promise<MeDto> {
    const principal = req.principal as { keyId: string };
    return { project: await this.keys.getProject(projectId), key_id: principal.keyId };
  }
}
