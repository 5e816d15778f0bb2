import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { runMigrations } from '../../src/database/migrate.js';

/** The server every test database is created on (trust auth, as in CI). */
export const TEST_PG_ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  name: string;
  url: string;
  /** A pg client on the test database for row counts and direct checks. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

function urlFor(name: string): string {
  const u = new URL(TEST_PG_ADMIN_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_PG_ADMIN_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * A fresh database per test file (`popo_test_<random>`), migrated unless `migrate: false`. Call drop() in
 * afterAll; it force-closes leftover connections.
 */
export async function createTestDatabase(opts: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const name = `popo_test_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = urlFor(name);
  if (opts.migrate !== false) await runMigrations({ url });
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  // pg re-emits an idle client's error on the pool, and an EventEmitter without a listener throws it: a test that
  // restarts or stops Postgres, or drop()'s forced close racing the pool's own end, then failed the whole run with
  // an uncaught 57P01 "terminating connection due to administrator command" after every test had passed.
  pool.on('error', () => undefined);
  return {
    name,
    url,
    async query<T>(sql: string, params?: unknown[]) {
      return (await pool.query(sql, params)).rows as T[];
    },
    async drop() {
      await pool.end();
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

/** Row counts of every application table, to assert that a refused request wrote nothing. */
export async function countRows(db: TestDatabase): Promise<Record<string, number>> {
  const tables = await db.query<{ tablename: string }>(
    `SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'migrations' ORDER BY tablename`,
  );
  const counts: Record<string, number> = {};
  for (const { tablename } of tables)
    counts[tablename] = Number(
      (await db.query<{ n: string }>(`SELECT count(*) AS n FROM "${tablename}"`))[0].n,
    );
  return counts;
}
