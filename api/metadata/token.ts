// The per-machine token in the seed URL is the only credential a machine has. Every way a
// lookup can fail answers the same 404, and a check costs the same whether or not the machine
// exists, so neither the answer nor its timing says which part was wrong.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import { HangarError } from '../../domain/errors.ts';
import { SEED_DOCUMENTS } from './documents.ts';

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Tokens are 32 base64url characters today; anything far longer is not worth hashing. */
export const MAX_TOKEN_LENGTH = 256;

/** One error for every way a lookup can fail, so a 404 reveals nothing. */
export const notFound = () => new HangarError('not_found', 'not found');

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
/** Compared against when the machine does not exist, so that case costs the same as a wrong token. */
const DUMMY_DIGEST = digest('hangar: no such machine');

/** Constant time in the token: both sides are hashed to 32 bytes first, so lengths never differ. */
export function tokenMatches(expected: string | null, presented: string): boolean {
  const ok = timingSafeEqual(expected === null ? DUMMY_DIGEST : digest(expected), digest(presented));
  return ok && expected !== null;
}

/** True when the id and token can name a machine at all; otherwise spends a dummy comparison. */
export function plausibleSeedKey(id: string, token: string): boolean {
  if (UUID.test(id) && token.length <= MAX_TOKEN_LENGTH) return true;
  tokenMatches(null, token.slice(0, MAX_TOKEN_LENGTH));
  return false;
}

/**
 * The access log (api/middleware/observability.ts) prints req.path when the response finishes.
 * Express never restores req.url for a handler that answers, so rewriting it here keeps the
 * token out of every log line while the route pattern (the metrics label) stays intact.
 */
export function hideToken(req: Request): void {
  const [path = '', ...query] = req.url.split('?');
  const segments = path.split('/');
  // ['', id, token(+doc), ...]: keep a document name glued to the token (slash-less base).
  const secret = segments[2];
  if (secret !== undefined && secret !== '') {
    const doc = SEED_DOCUMENTS.find((d) => secret.endsWith(d) && secret.length > d.length);
    segments[2] = `[redacted]${doc ?? ''}`;
  }
  req.url = segments.join('/') + (query.length ? `?${query.join('?')}` : '');
}
