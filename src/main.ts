import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { generateOpenApi, startApi } from './apps/bootstrap-api.js';
import { loadConfig, PROCESS_MODES, type ProcessMode } from './config/index.js';
import { runMigrations } from './database/migrate.js';

/**
 * Entry point: `node dist/src/main.js <mode>` with mode api | worker | migrate | all | openapi (or POPO_MODE;
 * default api). A thin dispatcher: each mode's bootstrap lives in src/apps/ and is imported only when chosen, so
 * the API process never loads the learner and `migrate` loads neither.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const arg = process.argv[2];
  if (arg !== undefined && !(PROCESS_MODES as readonly string[]).includes(arg))
    throw new Error(`unknown mode "${arg}": use one of ${PROCESS_MODES.join(', ')}`);
  const mode: ProcessMode = (arg as ProcessMode | undefined) ?? config.mode ?? 'api';

  switch (mode) {
    case 'api': {
      const { apiRuntimeImports } = await import('./modules/realtime/api-imports.js');
      await startApi({ config, imports: apiRuntimeImports() });
      return;
    }
    case 'migrate': {
      if (!config.databaseUrl) throw new Error('DATABASE_URL must be set to migrate');
      const applied = await runMigrations({ url: config.databaseUrl });
      console.log(applied.length ? `applied: ${applied.join(', ')}` : 'no pending migrations');
      return;
    }
    case 'openapi': {
      // `npm run openapi`: the committed spec that the SDK is generated from and a test compares against.
      const out = process.argv[3] ?? 'openapi.json';
      writeFileSync(out, JSON.stringify(await generateOpenApi(config), null, 2) + '\n');
      console.log(`wrote ${out}`);
      return;
    }
    case 'worker': {
      // Loaded on demand so the API process never pulls in the learner (tfjs).
      const { startWorker } = await import('./apps/worker.js');
      await startWorker(config);
      return;
    }
    case 'all': {
      const { startAllInOne } = await import('./apps/embedded.js');
      await startAllInOne();
      return;
    }
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
