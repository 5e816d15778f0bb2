import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import { invalidField } from './api-error.js';

export class PageQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 20 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
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

export function decodeCursor(cursor: string): CursorPosition {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Partial<CursorPosition>;
    if (
      typeof parsed.ts === 'string' &&
      typeof parsed.id === 'string' &&
      !isNaN(Date.parse(parsed.ts)) &&
      /^[0-9a-f-]{36}$/i.test(parsed.id)
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
