import type { ModuleMetadata } from '@nestjs/common';
import { RuntimeConfigModule } from '../worker/runtime-config.module.js';
import { loadRuntimeConfig, type RuntimeConfig } from '../worker/runtime-config.js';
import { RealtimeModule } from './realtime.module.js';

/**
 * What an API process adds to the core app: the socket.io gateway, the job.changed handlers, webhooks and the
 * runtime config. Pass as `imports` to startApi/createApiApp: `startApi({ config, imports: apiRuntimeImports() })`.
 */
export function apiRuntimeImports(
  runtime: RuntimeConfig = loadRuntimeConfig(),
): NonNullable<ModuleMetadata['imports']> {
  return [RuntimeConfigModule.forRoot(runtime), RealtimeModule.forApi()];
}
