// Every error leaves as the JSON envelope {error, detail, fields?}; nothing else ever does.
import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import { UniqueConstraintViolationException, ForeignKeyConstraintViolationException, CheckConstraintViolationException } from '@mikro-orm/core';
import { HangarError, toEnvelope } from '../../domain/errors.ts';
import { routeLabel } from './observability.ts';

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new HangarError('route_not_found', `no route for ${req.method} ${req.path}`));
};

interface BodyParserError extends Error {
  type?: string;
  status?: number;
  limit?: number;
  expose?: boolean;
}

/** SQLSTATE class 22 (data exception): PostgreSQL refused a value (NUL, out-of-range date, bad encoding...). */
export function dataExceptionState(err: unknown): string | null {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^22[0-9A-Z]{3}$/.test(code) ? code : null;
}

function classify(err: unknown, req: Request): HangarError | null {
  if (err instanceof HangarError) return err;
  const bp = err as BodyParserError;
  if (bp?.type === 'entity.parse.failed') return new HangarError('malformed_json', 'request body is not valid JSON');
  if (bp?.type === 'entity.too.large')
    return new HangarError('payload_too_large', `request body exceeds the ${bp.limit ?? ''} byte limit`.replace(' the  byte', ''));
  if (bp?.type === 'encoding.unsupported' || bp?.type === 'charset.unsupported')
    return new HangarError('validation_failed', 'unsupported request body encoding');
  if (bp?.type === 'parameters.too.many') return new HangarError('payload_too_large', 'request body has too many parameters');
  // The router's own refusal of a path parameter it cannot percent-decode.
  if (err instanceof URIError)
    return new HangarError('validation_failed', 'the request path contains an invalid percent-encoded sequence', { path: 'invalid percent-encoding' });
  if (err instanceof UniqueConstraintViolationException) return new HangarError('conflict', 'a resource with the same unique value already exists');
  if (err instanceof ForeignKeyConstraintViolationException)
    return new HangarError('conflict', 'the request refers to, or is referred to by, another resource');
  if (err instanceof CheckConstraintViolationException) return new HangarError('validation_failed', 'a value is outside its allowed range');
  const sqlState = dataExceptionState(err);
  if (sqlState) {
    // The edge should have refused this value: a 400 for the caller, a defect for us to fix.
    req.log?.error(
      { sqlState, routine: (err as { routine?: unknown }).routine, route: routeLabel(req), method: req.method },
      'PostgreSQL refused a value the API accepted (SQLSTATE class 22): a validation gap',
    );
    return new HangarError('validation_failed', `a value in the request cannot be stored (SQLSTATE ${sqlState}); quote request id ${req.id} when reporting it`);
  }
  // Any other client error from a body parser (aborted or unreadable request).
  if (bp?.expose && typeof bp.status === 'number' && bp.status >= 400 && bp.status < 500) {
    return new HangarError(bp.status === 413 ? 'payload_too_large' : 'validation_failed', bp.message);
  }
  return null;
}

export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  const known = classify(err, req);
  const failure = known ?? new HangarError('internal', `internal error; quote request id ${req.id} when reporting it`);
  if (!known) req.log?.error({ err }, 'unhandled error');
  else if (failure.status >= 500) req.log?.warn({ code: failure.code, detail: failure.message }, 'request failed');
  if (res.headersSent) return;
  res.status(failure.status).json(toEnvelope(failure));
};
