import { Injectable } from '@nestjs/common';
import type { PayloadOf, RealtimeEvent } from './events.js';
import { RealtimeGateway } from './realtime.gateway.js';
import { roomsFor, type RealtimePublisher } from './realtime-publisher.js';

/** Publishes through this process's socket.io server (API and embedded mode); the adapter reaches other instances. */
@Injectable()
export class GatewayRealtimePublisher implements RealtimePublisher {
  constructor(private readonly gateway: RealtimeGateway) {}

  emit<E extends RealtimeEvent>(event: E, payload: PayloadOf<E>): void {
    // Before the HTTP server is listening there is no socket.io server and nobody to tell.
    const server = this.gateway.server;
    if (!server) return;
    (server.to(roomsFor(payload)).emit as (e: E, p: PayloadOf<E>) => boolean)(event, payload);
  }
}
