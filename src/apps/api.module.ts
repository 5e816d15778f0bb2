import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { AllExceptionsFilter } from '../common/http-exception.filter.js';
import { UploadSlots } from '../common/upload-limit.js';
import { createValidationPipe } from '../common/validation.js';
import { AppConfig } from '../config/index.js';
import { ApiKeyGuard } from '../modules/auth/auth.guard.js';
import { ProjectsController } from '../modules/auth/projects.controller.js';
import { KeyThrottlerGuard } from '../modules/auth/throttle.guard.js';
import { EmbeddedCredentialsController } from '../modules/dashboard/embedded-credentials.controller.js';
import { CompletionsController } from '../modules/completions/completions.controller.js';
import { CompletionsService } from '../modules/completions/completions.service.js';
import { CheckpointsController } from '../modules/checkpoints/checkpoints.controller.js';
import { DatasetsController } from '../modules/datasets/datasets.controller.js';
import { HealthController } from '../modules/health/health.controller.js';
import { JobsController } from '../modules/jobs/jobs.controller.js';
import { SweepsController } from '../modules/jobs/sweeps.controller.js';
import { MetricsController } from '../modules/metrics/metrics.controller.js';
import { ModelsController } from '../modules/models/models.controller.js';
import { RewardsController } from '../modules/rewards/rewards.controller.js';
import { RewardsService } from '../modules/rewards/rewards.service.js';
import { AppModule, type AppModuleOptions } from './app.module.js';

export const API_CONTROLLERS = [
  HealthController,
  ProjectsController,
  DatasetsController,
  ModelsController,
  JobsController,
  SweepsController,
  MetricsController,
  CheckpointsController,
  RewardsController,
  EmbeddedCredentialsController,
  CompletionsController,
];

/** The HTTP process: shared services plus controllers, auth, rate limiting, validation and the error shape. */
@Module({})
export class ApiModule {
  static forRoot(opts: AppModuleOptions): DynamicModule {
    return {
      module: ApiModule,
      imports: [
        AppModule.forRoot(opts),
        ThrottlerModule.forRootAsync({
          inject: [AppConfig],
          useFactory: (config: AppConfig) => ({
            throttlers: [{ name: 'default', ttl: 60_000, limit: config.rateLimitPerMinute }],
          }),
        }),
      ],
      controllers: API_CONTROLLERS,
      providers: [
        CompletionsService,
        // Order matters: authenticate first so the throttler can key on the API key.
        { provide: APP_GUARD, useClass: ApiKeyGuard },
        { provide: APP_GUARD, useClass: KeyThrottlerGuard },
        { provide: APP_FILTER, useClass: AllExceptionsFilter },
        { provide: APP_PIPE, useFactory: createValidationPipe },
        UploadSlots,
        RewardsService,
      ],
    };
  }
}
