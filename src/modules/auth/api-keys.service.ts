import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, type Repository } from 'typeorm';
import { notFound } from '../../common/api-error.js';
import { AppConfig } from '../../config/index.js';
import { ApiKey, Project } from '../../database/entities/index.js';
import { DomainEvents } from '../jobs/domain-events.js';
import type { Principal } from './principal.js';

const TOKEN_PREFIX = 'popo_';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export interface CreatedKey {
  id: string;
  name: string;
  prefix: string;
  /** Shown once; only its sha256 is stored. */
  token: string;
  created_at: Date;
}

@Injectable()
export class ApiKeysService {
  private readonly adminHash?: Buffer;

  constructor(
    config: AppConfig,
    @InjectRepository(Project) private readonly projects: Repository<Project>,
    @InjectRepository(ApiKey) private readonly keys: Repository<ApiKey>,
    private readonly domain: DomainEvents,
  ) {
    this.adminHash = config.adminKey ? Buffer.from(sha256(config.adminKey), 'hex') : undefined;
  }

  async createProject(input: { name: string; max_running_jobs?: number }): Promise<Project> {
    return this.projects.save(
      this.projects.create({
        name: input.name,
        max_running_jobs: input.max_running_jobs ?? null,
        webhook_secret: randomBytes(32).toString('hex'),
      }),
    );
  }

  listProjects(): Promise<Project[]> {
    return this.projects.find({ order: { created_at: 'ASC' } });
  }

  async getProject(id: string): Promise<Project> {
    const project = await this.projects.findOneBy({ id });
    if (!project) throw notFound('project', id);
    return project;
  }

  async createKey(projectId: string, name: string): Promise<CreatedKey> {
    await this.getProject(projectId);
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const key = await this.keys.save(
      this.keys.create({ project_id: projectId, name, prefix: token.slice(0, 12), key_hash: sha256(token) }),
    );
    return { id: key.id, name: key.name, prefix: key.prefix, token, created_at: key.created_at };
  }

  async listKeys(projectId: string): Promise<ApiKey[]> {
    await this.getProject(projectId);
    return this.keys.find({ where: { project_id: projectId }, order: { created_at: 'ASC' } });
  }

  async revokeKey(projectId: string, keyId: string): Promise<ApiKey> {
    const key = await this.keys.findOneBy({ id: keyId, project_id: projectId });
    if (!key) throw notFound('API key', keyId);
    if (!key.revoked_at) {
      key.revoked_at = new Date();
      await this.keys.save(key);
    }
    // Also when it was already revoked: a socket that slipped in around the first revocation goes now.
    await this.domain.emit('key.revoked', { key_id: key.id, project_id: key.project_id });
    return key;
  }

  /** Resolves a bearer token to who is calling, or undefined for an unknown or revoked token. */
  async authenticate(token: string): Promise<Principal | undefined> {
    const hash = sha256(token);
    if (this.adminHash && timingSafeEqual(Buffer.from(hash, 'hex'), this.adminHash)) return { kind: 'admin' };
    if (!token.startsWith(TOKEN_PREFIX)) return undefined;
    const key = await this.keys.findOneBy({ key_hash: hash, revoked_at: IsNull() });
    if (!key) return undefined;
    // Throttled to one write a minute per key: last_used_at is for humans, not an audit log.
    await this.keys
      .createQueryBuilder()
      .update()
      .set({ last_used_at: () => 'now()' })
      .where("id = :id AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')", {
        id: key.id,
      })
      .execute();
    return { kind: 'project', projectId: key.project_id, keyId: key.id };
  }
}
