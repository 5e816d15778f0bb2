import { Emitter } from '@socket.io/redis-emitter';
import type { Redis } from 'ioredis';
import type { PayloadOf, RealtimeEvent, ServerToClientEvents } from './events.js';
import { roomsFor, socketIoKey, type RealtimePublisher } from './realtime-publisher.js';

/** A worker's publisher: writes into the socket.io Redis adapter channel, so every API instance relays it. */
export class EmitterRealtimePublisher implements RealtimePublisher {
  private readonly emitter: Emitter<ServerToClientEvents>;

  constructor(redis: Redis, redisPrefix: string) {
    this.emitter = new Emitter<ServerToClientEvents>(redis, { key: socketIoKey(redisPrefix) });
  }

  emit<E extends RealtimeEvent>(event: E, payload: PayloadOf<E>): void {
    // The emitter's variadic parameter type does not narrow through our generic E; the signature above is the check.
    (this.emitter.to(roomsFor(payload)).emit as (e: E, p: PayloadOf<E>) => boolean)(event, payload);
  }
}
