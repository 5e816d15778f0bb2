import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { DomainEvents } from '../jobs/domain-events.js';
import { statusPayload } from './payloads.js';
import { REALTIME_PUBLISHER, type RealtimePublisher } from './realtime-publisher.js';

/** `job.changed` → the `job.status` socket event, in whichever process made the change (API or worker). */
@Injectable()
export class JobStatusRelay implements OnModuleInit {
  constructor(
    private readonly events: DomainEvents,
    @Inject(REALTIME_PUBLISHER) private readonly publisher: RealtimePublisher,
  ) {}

  onModuleInit(): void {
    this.events.on('job.changed', (job) => this.publisher.emit('job.status', statusPayload(job)));
  }
}
