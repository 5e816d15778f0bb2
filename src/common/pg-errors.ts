/** SQLSTATE codes we branch on (https://www.postgresql.org/docs/current/errcodes-appendix.html). */
export const PG_UNIQUE_VIOLATION = '23505';
export const PG_FOREIGN_KEY_VIOLATION = '23503';

export function pgErrorCode(err: unknown): string | undefined {
  // TypeORM wraps driver errors in QueryFailedError but keeps the driver's fields (code, constraint) on it.
  const e = err as { code?: unknown; driverError?: { code?: unknown } };
  const code = e?.driverError?.code ?? e?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * SQLSTATEs that say the server or the connection went away, not that the statement was wrong: class 08
 * (connection exception), 57P01-57P03 (admin/crash shutdown, cannot connect now: a `pg_ctl restart`), 53300 (too
 * many connections). Retrying the same statement later is correct for all of them.
 */
const TRANSIENT_SQLSTATE = /^(08...|57P0[123]|53300)$/;
/** Socket-level failures of a connection to Postgres (or Redis) that is down, restarting or unreachable. */
const TRANSIENT_NET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);
/** node-postgres and pg-pool report these as plain Errors without a code. */
const TRANSIENT_MESSAGE =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|is not queryable|Connection is closed/i;

/**
 * Whether an error means "the database (or the network to it) is unavailable right now" — retry later — as
 * opposed to a statement or data error that would fail again. Looks through TypeORM's and Node's wrappers.
 */
export function isTransientDbError(err: unknown): boolean {
  for (let e = err as Record<string, unknown> | undefined, depth = 0; e && depth < 5; depth++) {
    if (typeof e !== 'object') return false;
    const code = e.code;
    if (typeof code === 'string' && (TRANSIENT_SQLSTATE.test(code) || TRANSIENT_NET_CODES.has(code)))
      return true;
    if (typeof e.message === 'string' && TRANSIENT_MESSAGE.test(e.message)) return true;
    if (Array.isArray(e.errors) && e.errors.some((x) => isTransientDbError(x))) return true; // AggregateError
    e = (e.driverError ?? e.cause) as Record<string, unknown> | undefined;
  }
  return false;
}
