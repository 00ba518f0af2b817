// The building blocks for every piece of text that enters Hangar (bodies, query strings, path
// segments, cursors, headers). PostgreSQL refuses NUL (U+0000) in text and jsonb, and jsonb
// refuses the escape of a lone UTF-16 surrogate; the pg driver silently turns a lone surrogate in
// text into U+FFFD. So neither may pass the edge: the request is refused with a 400 naming the
// field, and the length limits below match the columns the values land in.
import { z } from 'zod';

/** Column sizes the limits refer to (db/migrations). */
export const VARCHAR = 255;
export const TEXT_MAX = 64 * 1024;

export const NUL_MESSAGE = 'must not contain the NUL character (U+0000)';
export const SURROGATE_MESSAGE = 'must be valid Unicode (no lone surrogate code units)';

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const isWellFormed = (value: string): boolean => !LONE_SURROGATE.test(value);

/** Why PostgreSQL would refuse (or silently alter) this string, or null when it can store it. */
export function unstorableReason(value: string): string | null {
  if (value.includes('\u0000')) return NUL_MESSAGE;
  if (!isWellFormed(value)) return SURROGATE_MESSAGE;
  return null;
}

export const isStorable = (value: string): boolean => unstorableReason(value) === null;

/**
 * The first string in a JSON-like value that PostgreSQL cannot store (keys included), as
 * `{ path, reason }`, or null. Arrays and plain objects are walked to `maxDepth`; deeper nesting
 * is itself a reason (jsonb parsing is recursive and PostgreSQL caps its stack).
 */
export function findUnstorable(value: unknown, maxDepth = 32, path: (string | number)[] = []): { path: (string | number)[]; reason: string } | null {
  if (typeof value === 'string') {
    const reason = unstorableReason(value);
    return reason ? { path, reason } : null;
  }
  if (value === null || typeof value !== 'object') return null;
  if (path.length >= maxDepth) return { path, reason: `must not nest deeper than ${maxDepth} levels` };
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnstorable(value[i], maxDepth, [...path, i]);
      if (found) return found;
    }
    return null;
  }
  for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
    const keyReason = unstorableReason(key);
    if (keyReason) return { path: [...path, key], reason: `key ${keyReason}` };
    const found = findUnstorable(inner, maxDepth, [...path, key]);
    if (found) return found;
  }
  return null;
}

/** Free text PostgreSQL can store, at most `max` UTF-16 code units (never more characters than the column). */
export function safeText(max: number = VARCHAR, min = 0) {
  let schema = z
    .string()
    .refine((v) => !v.includes('\u0000'), NUL_MESSAGE)
    .refine(isWellFormed, SURROGATE_MESSAGE)
    .max(max, `must be at most ${max} characters`);
  if (min > 0) schema = schema.min(min, min === 1 ? 'must not be empty' : `must be at least ${min} characters`);
  return schema;
}

/** Names of inventory objects: what a person types and a URL or hostname can carry. */
export const safeName = safeText(63, 1).regex(
  /^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$/,
  'lowercase letters, digits, ".", "_" and "-", starting and ending with a letter or digit',
);

/** A reference typed by a person: an id or a name (looked up, so only storable text). */
export const safeRef = safeText(VARCHAR, 1);

/** Free-form descriptions (text columns). */
export const safeDescription = (max = 1024) => safeText(max);

/** Key/value tags stored as jsonb. */
export const safeTags = z.record(safeText(63, 1), safeText(VARCHAR)).refine((t) => Object.keys(t).length <= 50, 'at most 50 tags');

/**
 * A JSON object stored as jsonb (user-data extras and the like): every key and string inside
 * storable, at most `maxBytes` once serialised and `maxDepth` levels deep.
 */
export function safeJson(maxBytes = 64 * 1024, maxDepth = 32) {
  return z.record(z.string(), z.unknown()).superRefine((value, ctx) => {
    const found = findUnstorable(value, maxDepth);
    if (found) {
      ctx.addIssue({ code: 'custom', path: found.path, message: found.reason });
      return;
    }
    if (JSON.stringify(value).length > maxBytes) ctx.addIssue({ code: 'custom', message: `must be at most ${maxBytes / 1024} KiB` });
  });
}

/** A query-string filter: one value (a repeated parameter is refused), storable, at most `max`. */
export const safeFilter = (max: number = VARCHAR) => safeText(max);

/** Idempotency-Key header: an opaque token a client chose; stored in a varchar(255) column. */
export const idempotencyKeySchema = z.string().regex(/^[A-Za-z0-9._:-]{1,255}$/, 'must be 1-255 characters of A-Z a-z 0-9 . _ : -');

/** X-Request-Id header: kept when well-formed (it lands in logs and audit_event.request_id), else replaced. */
export const requestIdSchema = z.string().regex(/^[A-Za-z0-9._-]{1,128}$/);
