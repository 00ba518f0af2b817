// zod at the edge: a request that does not match its schema gets a 400 naming each bad field.
import type { Request } from 'express';
import type { z } from 'zod';
import { HangarError } from '../../domain/errors.ts';

export function validationError(error: z.ZodError, what: string): HangarError {
  const fields: Record<string, string> = {};
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      const prefix = issue.path.length ? `${issue.path.join('.')}.` : '';
      for (const key of issue.keys) fields[`${prefix}${key}`] ??= 'unknown field';
      continue;
    }
    const path = issue.path.length ? issue.path.join('.') : what;
    fields[path] ??= issue.message;
  }
  const summary = Object.entries(fields)
    .map(([k, v]) => `${k}: ${v}`)
    .join('; ');
  return new HangarError('validation_failed', `invalid ${what}: ${summary}`, fields);
}

export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw validationError(result.error, what);
  return result.data;
}

/** 400 unless the request carried a JSON object (the parsed body is then checked by its schema). */
export function requireJsonObject(req: Request): Record<string, unknown> {
  if (req.body === undefined || req.body === null || typeof req.body !== 'object' || Array.isArray(req.body)) {
    if (!req.is('application/json')) {
      throw new HangarError('validation_failed', 'request body must be a JSON object sent with Content-Type: application/json');
    }
    throw new HangarError('validation_failed', 'request body must be a JSON object');
  }
  return req.body as Record<string, unknown>;
}
