// The edge's safety net for text PostgreSQL cannot store: whatever a route's schema says, a NUL
// (U+0000), a lone surrogate or an undecodable percent-escape in the path, the query string or a
// parsed JSON body is refused here with a 400 naming where it was. The schemas refuse the same
// values field by field (domain/text.ts); this catches any field a schema leaves loose.
import type { RequestHandler } from 'express';
import { HangarError } from '../../domain/errors.ts';
import { findUnstorable } from '../../domain/text.ts';

function refuse(field: string, reason: string): never {
  throw new HangarError('validation_failed', `invalid request: ${field}: ${reason}`, { [field]: reason });
}

function checkPath(rawPath: string): void {
  for (const segment of rawPath.split('/')) {
    if (!segment.includes('%')) continue;
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      refuse('path', 'contains an invalid percent-encoded sequence');
    }
    const found = findUnstorable(decoded);
    if (found) refuse('path', found.reason);
  }
}

const fieldName = (path: (string | number)[], fallback: string) => (path.length ? path.join('.') : fallback);

export const refuseUnstorableInput: RequestHandler = (req, _res, next) => {
  checkPath(req.path);
  const query = findUnstorable(req.query, 4);
  if (query) refuse(fieldName(query.path, 'query'), query.reason);
  if (req.body !== undefined && req.body !== null && typeof req.body === 'object') {
    const body = findUnstorable(req.body);
    if (body) refuse(fieldName(body.path, 'request body'), body.reason);
  }
  next();
};
