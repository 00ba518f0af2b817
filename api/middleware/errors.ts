// Every error leaves as the JSON envelope {error, detail, fields?}; nothing else ever does.
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { UniqueConstraintViolationException, ForeignKeyConstraintViolationException, CheckConstraintViolationException } from '@mikro-orm/core';
import { HangarError, toEnvelope } from '../../domain/errors.ts';

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new HangarError('route_not_found', `no route for ${req.method} ${req.path}`));
};

interface BodyParserError extends Error { type?: string; status?: number; limit?: number }

function classify(err: unknown): HangarError | null {
  if (err instanceof HangarError) return err;
  const bp = err as BodyParserError;
  if (bp?.type === 'entity.parse.failed') return new HangarError('malformed_json', 'request body is not valid JSON');
  if (bp?.type === 'entity.too.large') return new HangarError('payload_too_large', `request body exceeds the ${bp.limit ?? ''} byte limit`.replace(' the  byte', ''));
  if (bp?.type === 'encoding.unsupported' || bp?.type === 'charset.unsupported') return new HangarError('validation_failed', 'unsupported request body encoding');
  if (err instanceof UniqueConstraintViolationException) return new HangarError('conflict', 'a resource with the same unique value already exists');
  if (err instanceof ForeignKeyConstraintViolationException) return new HangarError('conflict', 'the request refers to, or is referred to by, another resource');
  if (err instanceof CheckConstraintViolationException) return new HangarError('validation_failed', 'a value is outside its allowed range');
  return null;
}

export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  const known = classify(err);
  const failure = known ?? new HangarError('internal', `internal error; quote request id ${req.id} when reporting it`);
  if (!known) req.log?.error({ err }, 'unhandled error');
  else if (failure.status >= 500) req.log?.warn({ code: failure.code, detail: failure.message }, 'request failed');
  if (res.headersSent) return;
  res.status(failure.status).json(toEnvelope(failure));
};
