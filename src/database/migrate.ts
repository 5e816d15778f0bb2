import { DataSource } from 'typeorm';
import { dataSourceOptions, type DatabaseOptionsInput } from './options.js';

/**
 * Arbitrary but fixed: every popo process takes this advisory lock before migrating. Advisory locks are
 * scoped to the current database, so separate test databases never wait on each other.
 */
export const MIGRATION_LOCK_KEY = 7_462_001_001;

/**
 * Applies pending migrations under a session-level `pg_advisory_lock`, so processes that start together
 * migrate one after the other: the first applies, the rest find nothing pending. Returns the names applied.
 */
export async function runMigrations(input: DatabaseOptionsInput): Promise<string[]> {
  // Two connections: one holds the lock for the whole run while TypeORM migrates on another.
  const dataSource = new DataSource({ ...dataSourceOptions(input), extra: { max: 2 } });
  await dataSource.initialize();
  const lockRunner = dataSource.createQueryRunner();
  try {
    await lockRunner.connect();
    await lockRunner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      return applied.map((m) => m.name);
    } finally {
      await lockRunner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await lockRunner.release();
    await dataSource.destroy();
  }
}
