import type { Logger as TypeOrmLogger, ObjectLiteral } from 'typeorm';

type Sink = (level: 'error' | 'warn' | 'log', message: string) => void;

const describeParameters = (parameters?: unknown[] | ObjectLiteral) =>
  parameters === undefined
    ? ''
    : ` -- ${Array.isArray(parameters) ? parameters.length : Object.keys(parameters).length} parameter(s) redacted`;

/**
 * TypeORM's logger with query parameters left out: they carry webhook secrets, key hashes and user data, and a
 * failed query must not copy them into the logs. The SQL text (placeholders only) is enough to debug.
 */
export class RedactingQueryLogger implements TypeOrmLogger {
  constructor(
    private readonly sink: Sink,
    private readonly logQueries = false,
  ) {}

  logQuery(query: string, parameters?: unknown[] | ObjectLiteral): void {
    if (this.logQueries) this.sink('log', `query: ${query}${describeParameters(parameters)}`);
  }

  logQueryError(error: string | Error, query: string, parameters?: unknown[] | ObjectLiteral): void {
    const message = typeof error === 'string' ? error : error.message;
    this.sink('error', `query failed: ${query}${describeParameters(parameters)} -- error: ${message}`);
  }

  logQuerySlow(time: number, query: string, parameters?: unknown[] | ObjectLiteral): void {
    this.sink('warn', `query is slow (${time} ms): ${query}${describeParameters(parameters)}`);
  }

  logSchemaBuild(message: string): void {
    if (this.logQueries) this.sink('log', message);
  }

  logMigration(message: string): void {
    this.sink('log', message);
  }

  log(level: 'log' | 'info' | 'warn', message: unknown): void {
    if (level === 'warn') this.sink('warn', String(message));
    else if (this.logQueries) this.sink('log', String(message));
  }
}
