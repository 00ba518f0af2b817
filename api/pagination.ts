// page_size (capped) and an opaque cursor: base64url JSON of the last row's sort key.
import { z } from 'zod';
import { HangarError } from '../domain/errors.ts';
import { safeText } from '../domain/text.ts';

/** A cursor's contents are input like any other: one storable key (a name, an id, a compound key). */
const cursorContents = z.object({ k: safeText(512) });

export interface PageRequest {
  pageSize: number;
  after: string | null;
}

export function parsePage(query: Record<string, unknown>, maxPageSize: number): PageRequest {
  const rawSize = query.page_size;
  let pageSize = 100;
  if (rawSize !== undefined) {
    const parsed = z.coerce.number().int().min(1).max(maxPageSize).safeParse(rawSize);
    if (!parsed.success) {
      throw new HangarError('validation_failed', `page_size must be an integer from 1 to ${maxPageSize}`, { page_size: `1..${maxPageSize}` });
    }
    pageSize = parsed.data;
  }
  pageSize = Math.min(pageSize, maxPageSize);
  const cursor = query.cursor;
  if (cursor === undefined || cursor === '') return { pageSize, after: null };
  return { pageSize, after: decodeCursor(cursor) };
}

export function encodeCursor(key: string): string {
  return Buffer.from(JSON.stringify({ k: key }), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: unknown): string {
  const bad = () => new HangarError('validation_failed', 'cursor is not one this server issued; start again without it', { cursor: 'invalid' });
  if (typeof cursor !== 'string' || cursor.length > 1024 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw bad();
  try {
    const value = cursorContents.safeParse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    if (!value.success) throw bad();
    return value.data.k;
  } catch {
    throw bad();
  }
}

/** Given pageSize + 1 rows, returns the page and the cursor for the next one. */
export function pageOf<T>(rows: T[], pageSize: number, key: (row: T) => string): { items: T[]; next_cursor: string | null } {
  const items = rows.slice(0, pageSize);
  const next = rows.length > pageSize && items.length ? encodeCursor(key(items.at(-1)!)) : null;
  return { items, next_cursor: next };
}

/** Splits a compound cursor key "a|b" and checks each part; anything else is a forged cursor. */
export function cursorParts(key: string, checks: ((part: string) => boolean)[]): string[] {
  const parts = key.split('|');
  if (parts.length !== checks.length || !parts.every((p, i) => checks[i]!(p))) {
    throw new HangarError('validation_failed', 'cursor is not one this server issued; start again without it', { cursor: 'invalid' });
  }
  return parts;
}

/** A timestamp exactly as this server writes it (toISOString), within what PostgreSQL's timestamptz stores. */
export const isCursorTimestamp = (s: string): boolean => {
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(s)) return false;
  const at = new Date(s);
  return !Number.isNaN(at.getTime()) && at.toISOString() === s && at.getUTCFullYear() >= 1;
};

export const isUuid = (s: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);
