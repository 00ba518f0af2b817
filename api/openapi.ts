// The OpenAPI document, with request schemas generated from the same zod schemas that validate.
import { z } from 'zod';
import { ERROR_CODES } from '../domain/errors.ts';
import { createMachineSchema } from '../domain/machine.ts';
import { createTokenSchema } from './routes/tokens.ts';

const json = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });

const errorEnvelope = {
  type: 'object',
  required: ['error', 'detail'],
  properties: {
    error: { type: 'string', enum: Object.keys(ERROR_CODES) },
    detail: { type: 'string' },
    fields: { type: 'object', additionalProperties: { type: 'string' } },
  },
};

const errors = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [String(s), { description: 'error envelope', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }]));
const ok = (status: number, description: string) => ({ [String(status)]: { description, content: { 'application/json': { schema: { type: 'object' } } } } });
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
const paging = [
  { name: 'page_size', in: 'query', schema: { type: 'integer', minimum: 1 } },
  { name: 'cursor', in: 'query', schema: { type: 'string' } },
];
const idempotencyKey = { name: 'Idempotency-Key', in: 'header', schema: { type: 'string', maxLength: 255 } };

export function openApiDocument() {
  return {
    openapi: '3.1.0',
    info: { title: 'Hangar API', version: '0.1.0', description: 'Provisioning control plane. Every /api/v1 route needs a bearer token.' },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: { Error: errorEnvelope, CreateMachine: json(createMachineSchema), CreateToken: json(createTokenSchema) },
    },
    paths: {
      '/healthz': { get: { summary: 'Liveness', security: [], responses: ok(200, 'alive') } },
      '/readyz': { get: { summary: 'Readiness: PostgreSQL and Temporal', security: [], responses: { ...ok(200, 'ready'), ...errors(503) } } },
      '/metrics': { get: { summary: 'Prometheus metrics', security: [], responses: { 200: { description: 'text exposition format' } } } },
      '/api/v1/machines': {
        get: { summary: 'List machines', parameters: [...paging, { name: 'state', in: 'query', schema: { type: 'string' } }, { name: 'provider', in: 'query', schema: { type: 'string' } }, { name: 'name_prefix', in: 'query', schema: { type: 'string' } }], responses: { ...ok(200, 'page of machines'), ...errors(400, 401, 403) } },
        post: { summary: 'Create and provision a machine', parameters: [idempotencyKey], requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/CreateMachine' } } } }, responses: { ...ok(202, 'machine and operation'), ...errors(400, 401, 403, 409, 422, 503) } },
      },
      '/api/v1/machines/{id}': {
        get: { summary: 'Get a machine', parameters: [idParam], responses: { ...ok(200, 'machine'), ...errors(401, 403, 404) } },
        delete: { summary: 'Deprovision a machine', parameters: [idParam, idempotencyKey], responses: { ...ok(202, 'operation'), ...errors(401, 403, 404, 503) } },
      },
      '/api/v1/machines/{id}/operations/latest': { get: { summary: "The machine's latest operation", parameters: [idParam], responses: { ...ok(200, 'operation'), ...errors(401, 403, 404) } } },
      '/api/v1/operations': { get: { summary: 'List operations', parameters: [...paging, { name: 'resource_id', in: 'query', schema: { type: 'string' } }, { name: 'kind', in: 'query', schema: { type: 'string' } }], responses: { ...ok(200, 'page of operations'), ...errors(400, 401, 403) } } },
      '/api/v1/operations/{id}': { get: { summary: 'Operation status and progress', parameters: [idParam], responses: { ...ok(200, 'operation'), ...errors(401, 403, 404, 503) } } },
      '/api/v1/tokens': {
        get: { summary: 'List tokens (admin)', responses: { ...ok(200, 'tokens'), ...errors(401, 403) } },
        post: { summary: 'Issue a token (admin); shown once', requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/CreateToken' } } } }, responses: { ...ok(201, 'token'), ...errors(400, 401, 403, 409) } },
      },
      '/api/v1/tokens/{id}': { delete: { summary: 'Revoke a token (admin)', parameters: [idParam], responses: { ...ok(200, 'revoked token'), ...errors(401, 403, 404) } } },
      '/api/v1/audit': { get: { summary: 'Audit events', parameters: [...paging, { name: 'actor', in: 'query', schema: { type: 'string' } }, { name: 'resource_id', in: 'query', schema: { type: 'string' } }], responses: { ...ok(200, 'page of audit events'), ...errors(400, 401, 403) } } },
    },
  };
}

const escape = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** A self-contained reference page (no CDN: the API may run where nothing else is reachable). */
export function apiDocsHtml(): string {
  const doc = openApiDocument();
  const rows = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops as Record<string, { summary: string }>).map(([method, op]) =>
      `<tr><td><code>${method.toUpperCase()}</code></td><td><code>${escape(path)}</code></td><td>${escape(op.summary)}</td></tr>`));
  return `<!doctype html><html><head><meta charset="utf-8"><title>Hangar API</title>
<style>body{font:14px system-ui,sans-serif;margin:2rem;max-width:60rem}td{padding:.25rem .75rem;border-bottom:1px solid #ddd}pre{background:#f6f6f6;padding:1rem;overflow:auto}</style>
</head><body><h1>Hangar API</h1><p>${escape(doc.info.description)} Machine-readable: <a href="/openapi.json">/openapi.json</a>.</p>
<table>${rows.join('')}</table><h2>Create a machine</h2><pre>${escape(JSON.stringify(doc.components.schemas.CreateMachine, null, 2))}</pre>
<h2>Errors</h2><pre>${escape(JSON.stringify(errorEnvelope, null, 2))}</pre></body></html>`;
}
