import type { NextFunction, Request, Response } from 'express';
import { validationFailed, type ErrorDetail } from './api-error.js';

/** Deeper than any request this API defines; deep enough for free-form dataset `extra` fields. */
export const MAX_INPUT_DEPTH = 32;

/** A lone UTF-16 surrogate: valid in a JS string, not Unicode, and refused by Postgres jsonb. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export const UNSAFE_TEXT_REASON = 'must not contain U+0000 (NUL) or unpaired UTF-16 surrogates';

/** Text that Postgres cannot store (NUL in text/jsonb) or that is not Unicode at all. */
export const isUnsafeText = (s: string) => s.includes('\u0000') || LONE_SURROGATE.test(s);

const join = (parent: string, key: string | number) => (parent === '' ? String(key) : `${parent}.${key}`);

/**
 * Finds the first place in a parsed JSON value (or query object) that no handler should see: nesting past
 * `maxDepth` — class-transformer, class-validator, stable JSON and Postgres all recurse, and overflow the stack
 * or Postgres's depth limit long before JSON.parse does — or a string/key with unsafe text. Iterative, so the
 * check itself cannot overflow. `prefix` names the whole value in the returned field ("line 3").
 */
export function findHostileInput(
  value: unknown,
  maxDepth = MAX_INPUT_DEPTH,
  prefix = '',
): ErrorDetail | undefined {
  // `top` is the path down to the first key: a depth error names the field that holds the deep value.
  const stack: { v: unknown; path: string; top: string; depth: number }[] = [
    { v: value, path: prefix, top: prefix, depth: 0 },
  ];
  while (stack.length > 0) {
    const { v, path, top, depth } = stack.pop()!;
    if (typeof v === 'string') {
      if (isUnsafeText(v)) return { field: path || 'body', reason: UNSAFE_TEXT_REASON };
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= maxDepth)
      return { field: top || 'body', reason: `nests deeper than ${maxDepth} levels of objects and arrays` };
    const entries: [string | number, unknown][] = Array.isArray(v)
      ? v.map((x, i) => [i, x])
      : Object.entries(v);
    for (const [key, child] of entries) {
      if (typeof key === 'string' && isUnsafeText(key))
        return { field: join(path, 'key'), reason: UNSAFE_TEXT_REASON };
      const childPath = depth < 8 ? join(path, key) : path;
      stack.push({ v: child, path: childPath, top: depth === 0 ? childPath : top, depth: depth + 1 });
    }
  }
  return undefined;
}

/**
 * Express middleware run right after the JSON body parser, before any route, pipe or DTO: one place where every
 * body and query string is checked, instead of one fix per route.
 */
export function rejectHostileInput(maxDepth = MAX_INPUT_DEPTH) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const bad = findHostileInput(req.body, maxDepth) ?? findHostileInput(req.query, maxDepth);
    next(bad ? validationFailed([bad]) : undefined);
  };
}
