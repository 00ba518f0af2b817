import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { pino } from 'pino';
import { z } from 'zod';
import { HangarError, ERROR_CODES, toEnvelope } from '../../domain/errors.ts';
import { errorHandler, notFoundHandler } from '../../api/middleware/errors.ts';
import { contractRouter, json } from '../../api/contract/route.ts';
import { requestContext } from '../../api/middleware/observability.ts';
import { http } from '../support/harness.ts';

let server: Server;
let base: string;

beforeAll(async () => {
  const app = express();
  app.use(requestContext(pino({ level: 'silent' })));
  app.use(express.json({ limit: '1kb' }));
  app.get('/conflict', () => {
    throw new HangarError('conflict', 'it clashes', { name: 'taken' });
  });
  app.get('/boom', () => {
    throw new Error('secret internals: password=letmein at /srv/app.ts:42');
  });
  app.get('/async-boom', async () => {
    await Promise.resolve();
    throw new TypeError('undefined is not a function');
  });
  const things = contractRouter({ tags: ['things'], security: 'none' });
  const thing = z.strictObject({ name: z.string().min(3), size: z.number().int() });
  things.route({
    method: 'post',
    path: '/things',
    summary: 'echo a thing',
    body: thing,
    responses: { 201: json(thing) },
    handler: ({ body }, _req, res) => {
      res.status(201).json(body);
    },
  });
  app.use(things.express);
  app.use(notFoundHandler);
  app.use(errorHandler);
  server = await new Promise((r) => {
    const s = app.listen(0, '127.0.0.1', () => r(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

describe('error envelope', () => {
  it('maps every error code to an HTTP status in the 4xx/5xx range', () => {
    for (const [code, { status }] of Object.entries(ERROR_CODES)) {
      expect(status >= 400 && status < 600).toBe(true);
      expect(toEnvelope(new HangarError(code as keyof typeof ERROR_CODES, 'x')).error).toBe(code);
    }
  });

  it('renders a HangarError with its status, code, detail and fields', async () => {
    const res = await http(base, 'GET', '/conflict');
    expect(res.status).toBe(409);
    expect(res.body).toEqual({ error: 'conflict', detail: 'it clashes', fields: { name: 'taken' } });
  });

  it('hides unexpected errors behind a 500 envelope with the request id', async () => {
    for (const path of ['/boom', '/async-boom']) {
      const res = await http(base, 'GET', path, { headers: { 'x-request-id': 'req-123' } });
      expect(res.status).toBe(500);
      expect(res.body.error).toBe('internal');
      expect(res.body.detail).toContain('req-123');
      expect(res.text).not.toContain('letmein');
      expect(res.text).not.toContain('undefined is not a function');
      expect(res.text).not.toContain('.ts:');
    }
  });

  it('answers unknown routes with a 404 envelope', async () => {
    const res = await http(base, 'DELETE', '/no/such/thing');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: 'route_not_found', detail: 'no route for DELETE /no/such/thing' });
  });

  it('answers malformed JSON with 400 malformed_json', async () => {
    const res = await http(base, 'POST', '/things', { rawBody: '{"name": "abc",', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('malformed_json');
  });

  it('answers an oversized body with 413', async () => {
    const res = await http(base, 'POST', '/things', { body: { name: 'x'.repeat(5000), size: 1 } });
    expect(res.status).toBe(413);
    expect(res.body.error).toBe('payload_too_large');
  });

  it('names every invalid field', async () => {
    const res = await http(base, 'POST', '/things', { body: { name: 'ab', size: 1.5, extra: true } });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('validation_failed');
    expect(Object.keys(res.body.fields).sort()).toEqual(['extra', 'name', 'size']);
    expect(res.body.fields.extra).toBe('unknown field');
  });

  it('rejects a body that is not a JSON object', async () => {
    const asText = await http(base, 'POST', '/things', { rawBody: 'name=abc', headers: { 'content-type': 'text/plain' } });
    expect(asText.status).toBe(400);
    expect(asText.body.detail).toContain('Content-Type: application/json');
    const asArray = await http(base, 'POST', '/things', { body: [1, 2] });
    expect(asArray.status).toBe(400);
    expect(asArray.body.error).toBe('validation_failed');
  });
});

describe('access log paths', () => {
  it('never carry a seed token', async () => {
    const { loggablePath } = await import('../../api/middleware/observability.ts');
    expect(loggablePath('/cloud-init/0b6f/secret-token-value/meta-data')).toBe('/cloud-init/0b6f/[redacted]/meta-data');
    expect(loggablePath('/cloud-init/0b6f/secret-token-valuemeta-data')).toBe('/cloud-init/0b6f/[redacted]');
    expect(loggablePath('/api/v1/machines/0b6f')).toBe('/api/v1/machines/0b6f');
  });
});
