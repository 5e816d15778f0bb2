import { type DynamicModule, Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { AppConfig } from '../../config/index.js';
import { createRedisClient } from '../../queue/redis-connection.js';
import { WebhooksModule } from '../webhooks/webhooks.module.js';
import { EmitterRealtimePublisher } from './emitter-publisher.js';
import { GatewayRealtimePublisher } from './gateway-publisher.js';
import { JobStatusRelay } from './job-status-relay.js';
import { REALTIME_PUBLISHER } from './realtime-publisher.js';
import { RealtimeGateway } from './realtime.gateway.js';

const EMITTER_REDIS = Symbol('EMITTER_REDIS');

@Injectable()
class EmitterRedisCloser implements OnApplicationShutdown {
  constructor(@Inject(EMITTER_REDIS) private readonly redis: Redis) {}
  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => undefined);
  }
}

/**
 * `forApi()`: the socket.io gateway, a publisher that emits through it, and the `job.changed` handlers (the socket
 * relay and webhooks); pass it to AppModule/ApiModule `imports`. Embedded mode uses this too: its worker publishes
 * in-process.
 * `forWorker()`: no server; the publisher writes into the socket.io Redis adapter channel.
 */
@Module({})
export class RealtimeModule {
  static forApi(): DynamicModule {
    return {
      module: RealtimeModule,
      // Global: the core's JobEventsService and the worker's processor inject what this module provides.
      global: true,
      imports: [WebhooksModule],
      providers: [
        RealtimeGateway,
        GatewayRealtimePublisher,
        { provide: REALTIME_PUBLISHER, useExisting: GatewayRealtimePublisher },
        JobStatusRelay,
      ],
      exports: [REALTIME_PUBLISHER, WebhooksModule],
    };
  }

  static forWorker(): DynamicModule {
    return {
      module: RealtimeModule,
      // Global: the core's JobEventsService and the worker's processor inject what this module provides.
      global: true,
      imports: [WebhooksModule],
      providers: [
        {
          provide: EMITTER_REDIS,
          inject: [AppConfig],
          useFactory: (config: AppConfig) => {
            if (!config.redisUrl)
              throw new Error('a worker process needs REDIS_URL (only embedded mode runs without Redis)');
            return createRedisClient(
              { url: config.redisUrl, prefix: config.redisPrefix },
              'realtime-emitter',
            );
          },
        },
        EmitterRedisCloser,
        {
          provide: REALTIME_PUBLISHER,
          inject: [EMITTER_REDIS, AppConfig],
          useFactory: (redis: Redis, config: AppConfig) =>
            new EmitterRealtimePublisher(redis, config.redisPrefix),
        },
        JobStatusRelay,
      ],
      exports: [REALTIME_PUBLISHER, WebhooksModule],
    };
  }
}
