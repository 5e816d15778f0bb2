import { type DynamicModule, Global, Module } from '@nestjs/common';
import { RuntimeConfig } from './runtime-config.js';

/** Makes the runtime's config injectable everywhere (webhooks run in the API too). */
@Global()
@Module({})
export class RuntimeConfigModule {
  static forRoot(config: RuntimeConfig): DynamicModule {
    return {
      module: RuntimeConfigModule,
      providers: [{ provide: RuntimeConfig, useValue: config }],
      exports: [RuntimeConfig],
    };
  }
}
