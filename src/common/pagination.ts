import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString } from 'class-validator';
import { invalidField } from './api-error.js';
import { QueryInt } from './dto-decorators.js';

export class PageQuery {
  @QueryInt({ min: 1, max: 100 }, { default: 20 })
  limit?: number;

  @ApiPropertyOptional({ description: 'Opaque cursor from a previous page`s next_cursor.' })
  @IsOptional()
  @IsString()
  cursor?: string;
}

/**
 * Keyset position: newest first, ties broken by id so pages never skip or repeat rows. The timestamp is kept
 * as Postgres text (microseconds), since a JS Date would round it to milliseconds and skip rows.
 */
export interface CursorPosition {
  ts: string;
  id: string;
}

/** SQL for the text form of a timestamptz column that `decodeCursor` accepts back. */
export const cursorTimestampSql = (column: string) =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

export function encodeCursor(pos: CursorPosition): string {
  return Buffer.from(JSON.stringify(pos)).toString('base64url');
}

// Exactly what cursorTimestampSql writes; anything else never came from this API.
const CURSOR_TS = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A real UTC instant in the years Postgres and JS agree on (no Feb 30, no year 275760). */
function isCursorTimestamp(ts: string): boolean {
  const m = CURSOR_TS.exec(ts);
  if (!m) return false;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  return (
    y >= 1 &&
    date.getUTCFullYear() === y &&
    date.getUTCMonth() === mo - 1 &&
    date.getUTCDate() === d &&
    date.getUTCHours() === h &&
    date.getUTCMinutes() === mi &&
    date.getUTCSeconds() === s
  );
}

/**
 * Checks a cursor completely before any of it reaches SQL: a timestamp Postgres can cast and a UUID it can
 * compare. A forged or damaged cursor is a 400 on `cursor`, never a failed query.
 */
export function decodeCursor(cursor: string): CursorPosition {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Partial<CursorPosition>;
    if (
      typeof parsed.ts === 'string' &&
      typeof parsed.id === 'string' &&
      isCursorTimestamp(parsed.ts) &&
      UUID.test(parsed.id)
    )
      return { ts: parsed.ts, id: parsed.id };
  } catch {
    // fall through to the error below
  }
  throw invalidField('cursor', 'is not a cursor returned by this API');
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}
