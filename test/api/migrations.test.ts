import { afterEach, describe, expect, it } from 'vitest';
import { DataSource } from 'typeorm';
import { runMigrations } from '../../src/database/migrate.js';
import { MIGRATIONS } from '../../src/database/migrations.js';
import { dataSourceOptions } from '../../src/database/options.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

const dbs: TestDatabase[] = [];
const fresh = async (migrate: boolean) => {
  const db = await createTestDatabase({ migrate });
  dbs.push(db);
  return db;
};

afterEach(async () => {
  while (dbs.length) await dbs.pop()!.drop();
});

async function pendingSchemaChanges(url: string): Promise<string[]> {
  const ds = new DataSource(dataSourceOptions({ url }));
  await ds.initialize();
  try {
    const sql = await ds.driver.createSchemaBuilder().log();
    return sql.upQueries.map((q) => q.query);
  } finally {
    await ds.destroy();
  }
}

describe('migrations', () => {
  it('leave no difference between the entities and the migrated schema', async () => {
    const db = await fresh(true);
    expect(await pendingSchemaChanges(db.url)).toEqual([]);
  });

  it('the schema check notices drift (a dropped column)', async () => {
    const db = await fresh(true);
    await db.query('ALTER TABLE jobs DROP COLUMN progress_step');
    const changes = await pendingSchemaChanges(db.url);
    expect(changes.join('\n')).toMatch(/progress_step/);
  });

  it('two runners racing on a fresh database both succeed and apply each migration once', async () => {
    const db = await fresh(false);
    const url = db.url;
    const results = await Promise.all([
      runMigrations({ url }),
      runMigrations({ url }),
      runMigrations({ url }),
    ]);
    const names = MIGRATIONS.map((M) => new M().name ?? M.name);
    // Exactly one runner applied everything; the others waited on the lock and found nothing pending.
    expect(results.filter((r) => r.length > 0)).toEqual([names]);
    expect(results.filter((r) => r.length === 0)).toHaveLength(2);
    const rows = await db.query<{ name: string }>('SELECT name FROM migrations ORDER BY id');
    expect(rows.map((r) => r.name)).toEqual(names);
  });

  it('hold the advisory lock while migrating (a second runner waits for it)', async () => {
    const db = await fresh(false);
    const pg = await import('pg');
    const holder = new pg.default.Client({ connectionString: db.url });
    await holder.connect();
    const { MIGRATION_LOCK_KEY } = await import('../../src/database/migrate.js');
    await holder.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    let finished = false;
    const run = runMigrations({ url: db.url }).then((r) => {
      finished = true;
      return r;
    });
    // Wait until the runner is queued on the advisory lock; while another session holds it, nothing is applied.
    for (let tries = 0; ; tries++) {
      if (tries > 500) throw new Error('the runner never waited on the advisory lock');
      const waiting = await db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
      );
      if (waiting[0].n > 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(finished).toBe(false);
    const tables = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public' AND tablename = 'jobs'",
    );
    expect(tables[0].n).toBe(0);
    await holder.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    await holder.end();
    expect((await run).length).toBe(MIGRATIONS.length);
  });

  it('revert cleanly (down) to an empty schema', async () => {
    const db = await fresh(true);
    const ds = new DataSource(dataSourceOptions({ url: db.url }));
    await ds.initialize();
    for (let i = 0; i < MIGRATIONS.length; i++) await ds.undoLastMigration();
    await ds.destroy();
    const tables = await db.query<{ tablename: string }>(
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'migrations'",
    );
    expect(tables).toEqual([]);
  });
});
