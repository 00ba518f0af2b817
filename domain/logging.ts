// Paths pino must never print. Shared by the API, the worker and the CLI.
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["idempotency-key"]',
  'headers.authorization',
  'authorization',
  '*.password',
  '*.token',
  '*.secret',
  '*.tokenSecret',
  '*.bootstrapToken',
  '*.databaseUrl',
  'password',
  'token',
  'secret',
  'config.database.url',
  'config.api.token',
  'config.auth.bootstrapToken',
];

/** A URL without its user:password@ part, for messages, records and API views. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/i, '$1');
}
