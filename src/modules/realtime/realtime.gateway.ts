import { Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  type OnGatewayConnection,
  type OnGatewayInit,
  SubscribeMessage,
  WebSocketGateway,
  WebSocketServer,
} from '@nestjs/websockets';
import { createAdapter } from '@socket.io/redis-adapter';
import { SkipThrottle } from '@nestjs/throttler';
import { isUUID } from 'class-validator';
import type { Redis } from 'ioredis';
import type { Server, Socket } from 'socket.io';
import { AppConfig } from '../../config/index.js';
import { createRedisClient } from '../../queue/redis-connection.js';
import { ApiKeysService } from '../auth/api-keys.service.js';
import { Public } from '../auth/auth.decorators.js';
import { JobRepository } from '../../repositories/job.repository.js';
import { DomainEvents, toJobDto } from '../jobs/domain-events.js';
import { MetricsService } from '../metrics/metrics.service.js';
import {
  jobRoom,
  projectRoom,
  type ClientToServerEvents,
  type JobMetricsPayload,
  type JobStatusPayload,
  type ServerToClientEvents,
  type SubscribeAck,
  type SubscribeRequest,
} from './events.js';
import { metricsPayload, statusPayload } from './payloads.js';
import { socketIoKey } from './realtime-publisher.js';

interface SocketData {
  projectId: string;
  keyId: string;
  /** The tail of this socket's subscribe/unsubscribe chain (see `inOrder`). */
  membership?: Promise<unknown>;
}
export type RealtimeServer = Server<
  ClientToServerEvents,
  ServerToClientEvents,
  Record<string, never>,
  SocketData
>;
type RealtimeSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

const keyRoom = (keyId: string) => `key:${keyId}`;

/** Metric rows read per query when a subscription replays the steps a client missed (`since_step`). */
const REPLAY_PAGE = 5_000;

/** A project subscription replays the status of at most this many unfinished jobs. */
const PROJECT_SNAPSHOT_LIMIT = 100;

type Failure = Extract<SubscribeAck, { ok: false }>;
const fail = (code: string, message: string): Failure => ({ ok: false, error: { code, message } });

/**
 * socket.io on the API's HTTP server (path /socket.io). A client connects with `auth: { token: <API key> }`,
 * then `subscribe`s to a job or to its whole project; it first receives the current status and latest
 * metrics, then every update. With Redis configured the socket.io Redis adapter joins all API instances,
 * and workers publish into the same channel (redis-emitter), so any instance can serve any subscriber.
 */
@WebSocketGateway({ cors: { origin: true, credentials: true } })
// The HTTP guards (bearer header, per-request throttling) do not apply to socket messages: the handshake
// middleware below authenticates each socket once, and every subscribe is checked against its project.
@Public()
@SkipThrottle()
export class RealtimeGateway
  implements OnGatewayInit, OnGatewayConnection, OnModuleInit, OnApplicationShutdown
{
  private readonly logger = new Logger(RealtimeGateway.name);
  private readonly redisClients: Redis[] = [];

  @WebSocketServer() server: RealtimeServer;

  constructor(
    private readonly config: AppConfig,
    private readonly keys: ApiKeysService,
    private readonly metrics: MetricsService,
    private readonly jobs: JobRepository,
    private readonly domain: DomainEvents,
  ) {}

  onModuleInit(): void {
    // Every instance's sockets of that key, through the adapter: the client sees `disconnect` with reason
    // "io server disconnect", and a reconnect with the same key is refused at the handshake.
    this.domain.on('key.revoked', ({ key_id }) => {
      this.server?.in(keyRoom(key_id)).disconnectSockets(true);
    });
  }

  afterInit(server: RealtimeServer): void {
    if (this.config.redisUrl) {
      const settings = { url: this.config.redisUrl, prefix: this.config.redisPrefix };
      const pub = createRedisClient(settings, 'socket.io-pub');
      const sub = createRedisClient(settings, 'socket.io-sub');
      this.redisClients.push(pub, sub);
      server.adapter(createAdapter(pub, sub, { key: socketIoKey(this.config.redisPrefix) }));
    }
    server.use((socket, next) => {
      const token = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
      if (typeof token !== 'string' || !token) {
        next(new Error('unauthorized: pass the API key as auth.token'));
        return;
      }
      this.keys.authenticate(token).then(
        (principal) => {
          if (!principal) return next(new Error('unauthorized: invalid or revoked API key'));
          if (principal.kind !== 'project')
            return next(new Error('forbidden: subscribe with a project API key'));
          const s = socket as RealtimeSocket;
          s.data.projectId = principal.projectId;
          s.data.keyId = principal.keyId;
          next();
        },
        (err: Error) => next(new Error(`authentication failed: ${err.message}`)),
      );
    });
  }

  /** A room per key, so that revoking the key disconnects its sockets wherever they are connected. */
  async handleConnection(socket: RealtimeSocket): Promise<void> {
    await socket.join(keyRoom(socket.data.keyId));
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.redisClients.map((c) => c.quit().catch(() => undefined)));
  }

  @SubscribeMessage('subscribe')
  async subscribe(
    @ConnectedSocket() socket: RealtimeSocket,
    @MessageBody() body: unknown,
  ): Promise<SubscribeAck> {
    return this.inOrder(socket, () => this.join(socket, body));
  }

  @SubscribeMessage('unsubscribe')
  async unsubscribe(
    @ConnectedSocket() socket: RealtimeSocket,
    @MessageBody() body: unknown,
  ): Promise<SubscribeAck> {
    return this.inOrder(socket, async () => {
      const target = await this.resolve(socket, body);
      if ('ok' in target) return target;
      await socket.leave(target.room);
      return { ok: true, room: target.room };
    });
  }

  /**
   * socket.io runs a socket's handlers concurrently, and each awaits a database lookup: a page that leaves a job's
   * room and another that joins it again (the dashboard moving from one view of a job to another) could have the
   * leave land after the join and silence the job. Membership changes apply in the order the client sent them.
   */
  private inOrder<T>(socket: RealtimeSocket, op: () => Promise<T>): Promise<T> {
    const result = (socket.data.membership ?? Promise.resolve()).then(op);
    socket.data.membership = result.catch(() => undefined);
    return result;
  }

  private async join(socket: RealtimeSocket, body: unknown): Promise<SubscribeAck> {
    const target = await this.resolve(socket, body);
    if ('ok' in target) return target;
    await socket.join(target.room);
    // Joined first, then the snapshot: an update racing the snapshot may arrive twice, never be missed.
    // Clients keep the highest step per job.
    const replayed = target.sinceStep !== undefined ? await this.replay(socket, target) : 0;
    const snapshot = await this.snapshot(target);
    for (const s of snapshot) {
      socket.emit('job.status', s.status);
      // After a replay the latest step has been sent already.
      if (s.metrics && target.sinceStep === undefined) socket.emit('job.metrics', s.metrics);
    }
    const single = target.jobId ? snapshot[0] : undefined;
    return {
      ok: true,
      room: target.room,
      status: single?.status,
      latest_metrics: single?.metrics,
      ...(target.sinceStep !== undefined ? { replayed } : {}),
    };
  }

  private async resolve(
    socket: RealtimeSocket,
    body: unknown,
  ): Promise<{ room: string; jobId?: string; projectId: string; sinceStep?: number } | Failure> {
    const projectId = socket.data.projectId;
    if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body)))
      return fail(
        'validation_failed',
        'the subscribe payload must be an object: { job_id } or { project_id }',
      );
    const req = (body ?? {}) as SubscribeRequest & Record<string, unknown>;
    const unknownKeys = Object.keys(req).filter(
      (k) => k !== 'job_id' && k !== 'project_id' && k !== 'since_step',
    );
    if (unknownKeys.length)
      return fail(
        'validation_failed',
        `${unknownKeys[0]}: is not a known field (use job_id, since_step or project_id)`,
      );
    const since = req.since_step;
    if (since !== undefined) {
      if (req.job_id === undefined) return fail('validation_failed', 'since_step: needs job_id');
      if (typeof since !== 'number' || !Number.isSafeInteger(since) || since < 0)
        return fail('validation_failed', 'since_step: must be an integer >= 0');
    }
    if (req.job_id !== undefined && req.project_id !== undefined)
      return fail('validation_failed', 'give either job_id or project_id, not both');
    if (req.job_id !== undefined) {
      if (typeof req.job_id !== 'string' || !isUUID(req.job_id))
        return fail('validation_failed', 'job_id: must be a UUID');
      const exists = await this.jobs.existsInProject(projectId, req.job_id);
      // Another project's job looks exactly like a missing one.
      if (!exists) return fail('not_found', `job ${req.job_id} not found`);
      return {
        room: jobRoom(req.job_id),
        jobId: req.job_id,
        projectId,
        ...(since !== undefined ? { sinceStep: since } : {}),
      };
    }
    if (req.project_id !== undefined && req.project_id !== projectId) {
      if (typeof req.project_id !== 'string' || !isUUID(req.project_id))
        return fail('validation_failed', 'project_id: must be a UUID');
      return fail('not_found', `project ${req.project_id} not found`);
    }
    return { room: projectRoom(projectId), projectId };
  }

  /**
   * Every recorded step after `since_step`, from Postgres, in order: a client that reconnects (or resubscribes
   * after a gap) passes the last step it has and misses nothing. The socket is already in the room, so a step
   * recorded meanwhile may come twice (live and replayed); clients keep one per step.
   */
  private async replay(
    socket: RealtimeSocket,
    target: { jobId?: string; projectId: string; sinceStep?: number },
  ): Promise<number> {
    let from = (target.sinceStep ?? 0) + 1;
    let sent = 0;
    for (;;) {
      const page = await this.metrics.query(target.jobId!, { fromStep: from, limit: REPLAY_PAGE });
      for (const point of page.items)
        socket.emit('job.metrics', metricsPayload(target.jobId!, point, target.projectId));
      sent += page.items.length;
      if (page.items.length < REPLAY_PAGE) return sent;
      from = page.items[page.items.length - 1].step + 1;
    }
  }

  private async snapshot(target: {
    jobId?: string;
    projectId: string;
  }): Promise<{ status: JobStatusPayload; metrics?: JobMetricsPayload }[]> {
    const jobs = target.jobId
      ? [await this.jobs.findInProject(target.projectId, target.jobId)].filter((j) => j !== null)
      : await this.jobs.listActive(target.projectId, PROJECT_SNAPSHOT_LIMIT);
    return Promise.all(
      jobs.map(async (job) => {
        const latest = await this.metrics.latest(job.id);
        return {
          status: statusPayload(toJobDto(job)),
          metrics: latest ? metricsPayload(job.id, latest, job.project_id) : undefined,
        };
      }),
    );
  }
}
