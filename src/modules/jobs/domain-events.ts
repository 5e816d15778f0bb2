import { Injectable, Logger } from '@nestjs/common';
import type { Job } from '../../database/entities/index.js';
import type { JobDto } from './dto/job.dto.js';

/**
 * The domain events and their payloads. `job.changed` fires after every committed change of a job's state
 * (created/queued, running, paused, cancelled, finished, ...), from the API and from workers alike; its payload
 * is the REST job DTO. Its handlers are the socket relay (`job.status`) and the webhook log (terminal states).
 */
export interface DomainEventMap {
  'job.changed': JobDto;
  /** An API key was revoked: its open sockets are disconnected (on every API instance, through the adapter). */
  'key.revoked': { key_id: string; project_id: string };
}
export type DomainEvent = keyof DomainEventMap;
type Handler<E extends DomainEvent> = (payload: DomainEventMap[E]) => void | Promise<void>;

/** The job as the REST API shows it: the row without its relations and the internal request hash. */
export function toJobDto(job: Job): JobDto {
  const {
    request_hash: _hash,
    project: _project,
    model: _model,
    dataset: _dataset,
    sweep: _sweep,
    parent_job: _parent,
    from_checkpoint: _checkpoint,
    ...dto
  } = job;
  return dto;
}

/**
 * An in-process event bus: handlers subscribe at module init; `emit` runs them all after the change has committed.
 * A failing handler is logged and never fails the emitter: the change itself is already in Postgres.
 */
@Injectable()
export class DomainEvents {
  private readonly logger = new Logger(DomainEvents.name);
  private readonly handlers: { [E in DomainEvent]?: Handler<E>[] } = {};

  on<E extends DomainEvent>(event: E, handler: Handler<E>): void {
    ((this.handlers[event] ??= []) as Handler<E>[]).push(handler);
  }

  async emit<E extends DomainEvent>(event: E, payload: DomainEventMap[E]): Promise<void> {
    await Promise.all(
      ((this.handlers[event] ?? []) as Handler<E>[]).map(async (handler) => {
        try {
          await handler(payload);
        } catch (e) {
          this.logger.warn(`a ${event} handler failed: ${(e as Error).message}`);
        }
      }),
    );
  }

  /** `job.changed` for a row just written. */
  jobChanged(job: Job): Promise<void> {
    return this.emit('job.changed', toJobDto(job));
  }
}
