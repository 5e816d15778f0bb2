import type { DataSourceOptions } from 'typeorm';
import { MIGRATIONS } from './migrations.js';
import { RedactingQueryLogger } from './redacting-logger.js';
import { ENTITIES } from './entities/index.js';

export interface DatabaseOptionsInput {
  url: string;
  poolSize?: number;
  /** Waiting for a pooled or new connection longer than this fails the query (the API answers 503). */
  connectTimeoutMs?: number;
  logging?: boolean;
}

/** One place for the connection options, shared by the Nest module, the migration runner and the TypeORM CLI. */
export function dataSourceOptions({
  url,
  poolSize = 10,
  connectTimeoutMs = 10_000,
  logging = false,
}: DatabaseOptionsInput): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    synchronize: false,
    migrationsRun: false,
    // gen_random_uuid() is built into Postgres ≥ 13, so no extension (and no superuser) is needed at start.
    uuidExtension: 'pgcrypto',
    installExtensions: false,
    // bigint columns (sizes, event ids) fit in a double; numbers are what the API returns.
    parseInt8: true,
    logging: logging ? ['query', 'error', 'warn', 'migration'] : ['error', 'warn', 'migration'],
    // Parameters never reach the logs (secrets and key hashes travel as parameters).
    logger: new RedactingQueryLogger((level, message) => {
      const line = `[TypeORM] ${message}`;
      if (level === 'error') console.error(line);
      else if (level === 'warn') console.warn(line);
      else console.log(line);
    }, logging),
    extra: { max: poolSize, connectionTimeoutMillis: connectTimeoutMs },
  };
}
