// /openapi.json and /docs, generated from the route declarations (never kept by hand).
import { z } from 'zod';
import { idempotencyKeySchema } from '../../domain/text.ts';
import { createDocument } from 'zod-openapi';
import type { ApiContract } from './registry.ts';
import type { ResponseDecl } from './route.ts';
import { errorEnvelope } from './schemas.ts';

const ERROR_MEANING: Record<number, string> = {
  400: 'bad input (validation_failed, malformed_json): `fields` names each bad field',
  401: 'no, malformed or revoked bearer token',
  403: "the token's role does not allow this",
  404: 'no such resource',
  409: 'conflict with the current state (already exists, invalid state, in use, exhausted, Idempotency-Key still in flight)',
  413: 'request body too large',
  422: 'well-formed but unprocessable (a reference that does not exist, a reused Idempotency-Key, a provider that is not enabled)',
  502: 'the provider or BMC failed',
  503: 'a dependency (PostgreSQL, Temporal) is unavailable; retry',
};

const idempotencyHeader = z.object({
  'Idempotency-Key': idempotencyKeySchema
    .optional()
    .meta({ description: 'retrying with the same key and body replays the first answer instead of doing the work twice' }),
});

function response(decl: ResponseDecl) {
  if (decl.empty) return { description: decl.description };
  const content: Record<string, unknown> = {};
  if (decl.json) content['application/json'] = { schema: decl.json };
  for (const type of decl.media ?? []) {
    content[type] = {
      schema: type.startsWith('text/') ? { type: 'string' } : type.endsWith('json') ? { type: 'object' } : { type: 'string', format: 'binary' },
    };
  }
  return { description: decl.description, content };
}

export function openApiDocument(contract: ApiContract): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of contract.operations) {
    const responses: Record<string, unknown> = {};
    for (const [status, decl] of Object.entries(op.responses)) responses[status] = response(decl);
    for (const status of op.errors) {
      responses[String(status)] = { description: ERROR_MEANING[status] ?? 'error', content: { 'application/json': { schema: errorEnvelope } } };
    }
    (paths[op.openApiPath] ??= {})[op.method] = {
      operationId: op.operationId,
      summary: op.summary,
      tags: op.tags,
      ...(op.description ? { description: op.description } : {}),
      ...(op.security === 'none' ? { security: [] } : {}),
      requestParams: {
        ...(op.params ? { path: op.params } : {}),
        ...(op.query ? { query: op.query } : {}),
        ...(op.idempotent ? { header: idempotencyHeader } : {}),
      },
      ...(op.body
        ? {
            requestBody: {
              required: op.bodyRequired,
              content: Object.fromEntries(['application/json', ...op.bodyMedia].map((type) => [type, { schema: op.body }])),
            },
          }
        : {}),
      responses,
    };
  }
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'Hangar API',
      version: '0.1.0',
      description: 'Provisioning control plane. Every /api/v1 route needs a bearer token; errors are the envelope {error, detail, fields?}.',
    },
    servers: [{ url: '/' }],
    security: [{ bearerAuth: [] }],
    components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } }, schemas: { Error: errorEnvelope } },
    paths: paths as never,
  }) as unknown as Record<string, unknown>;
}

const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

interface DocOperation {
  summary: string;
  security?: unknown[];
  responses: Record<string, unknown>;
}

/** A self-contained reference page (no CDN: the API may run where nothing else is reachable). */
export function apiDocsHtml(doc: Record<string, unknown>): string {
  const paths = doc.paths as Record<string, Record<string, DocOperation>>;
  const schemas = (doc.components as { schemas: Record<string, { example?: unknown }> }).schemas;
  const rows = Object.entries(paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(
      ([method, op]) =>
        `<tr><td><code>${method.toUpperCase()}</code></td><td><code>${escapeHtml(path)}</code></td><td>${escapeHtml(op.summary)}</td>` +
        `<td>${op.security?.length === 0 ? 'open' : 'bearer'}</td><td>${Object.keys(op.responses).join(' ')}</td></tr>`,
    ),
  );
  const sections = Object.entries(schemas).map(
    ([name, schema]) => `<h3 id="${escapeHtml(name)}">${escapeHtml(name)}</h3><pre>${escapeHtml(JSON.stringify(schema, null, 2))}</pre>`,
  );
  return `<!doctype html><html><head><meta charset="utf-8"><title>Hangar API</title>
<style>body{font:14px system-ui,sans-serif;margin:2rem;max-width:70rem}td,th{padding:.25rem .75rem;border-bottom:1px solid #ddd;text-align:left}pre{background:#f6f6f6;padding:1rem;overflow:auto}</style>
</head><body><h1>Hangar API</h1><p>${escapeHtml(String((doc.info as { description: string }).description))} Machine-readable: <a href="/openapi.json">/openapi.json</a>.</p>
<table><tr><th>method</th><th>path</th><th>summary</th><th>auth</th><th>statuses</th></tr>${rows.join('')}</table>
<h2>Schemas</h2>${sections.join('\n')}</body></html>`;
}
