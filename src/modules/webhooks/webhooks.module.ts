import { Module } from '@nestjs/common';
import { WebhooksService } from './webhooks.service.js';

/** Needs the global AppModule (DataSource) and RuntimeConfigModule. */
@Module({ providers: [WebhooksService], exports: [WebhooksService] })
export class WebhooksModule {}
