// The route helper on its own: typed, validated input; the 400 envelope for bad path params, query
// and body; the generated document; and the test-mode response check catching undeclared answers.
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { pino } from 'pino';
import { z } from 'zod';
import { errorHandler, notFoundHandler } from '../../api/middleware/errors.ts';
import { requestContext } from '../../api/middleware/observability.ts';
import { ApiContract } from '../../api/contract/registry.ts';
import { contractRouter, json, media, noContent } from '../../api/contract/route.ts';
import { responseCheck, type ContractViolation } from '../../api/contract/response-check.ts';
import { openApiDocument } from '../../api/contract/document.ts';
import * as views from '../../api/contract/views.ts';
import * as shared from '../../api/contract/schemas.ts';
import { http } from '../support/harness.ts';

const widget = z.strictObject({ id: z.int(), name: z.string(), size: z.int() });
const received: unknown[] = [];
const violations: ContractViolation[] = [];
let server: Server;
let base: string;
let contract: ApiContract;

beforeAll(async () => {
  const r = contractRouter({ tags: ['widgets'] });
  r.route({
    method: 'post',
    path: '/:id',
    summary: 'Make a widget',
    security: 'none',
    params: z.object({ id: z.coerce.number().int().min(1) }),
    query: z.object({ verbose: z.enum(['true', 'false']).optional() }),
    body: z.strictObject({ name: z.string().min(3), size: z.number().int() }),
    responses: { 201: json(widget) },
    handler: ({ params, query, body }, _req, res) => {
      // Typed input: a number, an enum and the body's fields, with no casts.
      const id: number = params.id;
      const verbose: 'true' | 'false' | undefined = query.verbose;
      received.push({ id, verbose, name: body.name });
      res.status(201).json({ id, name: body.name, size: body.size });
    },
  });
  r.route({
    method: 'get',
    path: '/:id',
    summary: 'Answers what it did not declare',
    security: 'none',
    params: z.object({ id: z.string() }),
    responses: { 200: json(widget), 204: noContent() },
    errors: [404],
    handler: ({ params }, _req, res) => {
      if (params.id === 'extra-field') res.json({ id: 1, name: 'x', size: 1, secret: 'leak' });
      else if (params.id === 'teapot') res.status(418).json({ tea: true });
      else if (params.id === 'empty-with-body') res.status(204).json({ nothing: 'here' });
      else if (params.id === 'csv') res.type('text/csv').send('a,b\r\n');
      else res.json({ id: 1, name: 'fine', size: 2 });
    },
  });
  r.route({
    method: 'get',
    path: '/:id/report',
    summary: 'A CSV report',
    security: 'none',
    params: z.object({ id: z.string() }),
    responses: { 200: media('text/csv', 'the report') },
    handler: (_input, _req, res) => {
      res.type('text/csv').send('a,b\r\n');
    },
  });

  contract = new ApiContract();
  const app = express();
  app.use(responseCheck(contract, violations));
  app.use(requestContext(pino({ level: 'silent' })));
  app.use(express.json());
  contract.mount(app, '', '/widgets', r);
  app.use(notFoundHandler);
  app.use(errorHandler);
  server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

describe('route helper', () => {
  it('hands the handler parsed, typed input', async () => {
    const res = await http(base, 'POST', '/widgets/7?verbose=true', { body: { name: 'gear', size: 3 } });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ id: 7, name: 'gear', size: 3 });
    expect(received.at(-1)).toEqual({ id: 7, verbose: 'true', name: 'gear' });
  });

  it('answers 400 in the envelope naming the bad path param, query field and body field', async () => {
    const path = await http(base, 'POST', '/widgets/0', { body: { name: 'gear', size: 3 } });
    expect(path.status).toBe(400);
    expect(path.body.error).toBe('validation_failed');
    expect(path.body.fields).toHaveProperty('id');

    const query = await http(base, 'POST', '/widgets/7?verbose=maybe', { body: { name: 'gear', size: 3 } });
    expect(query.status).toBe(400);
    expect(query.body.fields).toHaveProperty('verbose');

    const body = await http(base, 'POST', '/widgets/7', { body: { name: 'g', size: 1.5, colour: 'red' } });
    expect(body.status).toBe(400);
    expect(body.body.fields).toMatchObject({ name: expect.any(String), size: expect.any(String), colour: 'unknown field' });

    const notJson = await http(base, 'POST', '/widgets/7', { body: [1, 2] });
    expect(notJson.status).toBe(400);
    expect(notJson.body.detail).toContain('JSON object');
  });

  it('generates the OpenAPI operation with its parameters, body and every response', () => {
    const doc = openApiDocument(contract) as {
      paths: Record<
        string,
        Record<
          string,
          {
            parameters: { name: string; in: string }[];
            requestBody?: unknown;
            responses: Record<string, { content?: Record<string, unknown> }>;
            security?: unknown[];
          }
        >
      >;
    };
    const post = doc.paths['/widgets/{id}']!.post!;
    expect(post.parameters.map((p) => `${p.in}:${p.name}`).sort()).toEqual(['path:id', 'query:verbose']);
    expect(post.requestBody).toBeDefined();
    expect(post.security).toEqual([]);
    expect(Object.keys(post.responses).sort()).toEqual(['201', '400', '413']);
    const get = doc.paths['/widgets/{id}']!.get!;
    expect(get.responses['204']!.content).toBeUndefined();
    expect(get.responses['200']!.content).toHaveProperty('application/json');
    expect(doc.paths['/widgets/{id}/report']!.get!.responses['200']!.content).toHaveProperty('text/csv');
  });

  it('records responses that break the declared contract, and only those', async () => {
    violations.length = 0;
    expect((await http(base, 'GET', '/widgets/fine')).status).toBe(200);
    expect((await http(base, 'GET', '/widgets/fine/report')).status).toBe(200);
    await http(base, 'POST', '/widgets/0', { body: {} }); // a declared 400
    expect(violations).toEqual([]);

    await http(base, 'GET', '/widgets/extra-field');
    await http(base, 'GET', '/widgets/teapot');
    await http(base, 'GET', '/widgets/empty-with-body');
    await http(base, 'GET', '/widgets/csv');
    await new Promise((r) => setImmediate(r));
    expect(violations.map((v) => `${v.path} ${v.status}`)).toEqual([
      '/widgets/extra-field 200',
      '/widgets/teapot 418',
      '/widgets/empty-with-body 204',
      '/widgets/csv 200',
    ]);
    expect(violations[0]!.problem).toContain('does not conform');
    expect(violations[1]!.problem).toContain('not declared');
    expect(violations[3]!.problem).toContain('not a declared media type');
  });
});

describe('response schemas', () => {
  it('have examples that conform to them', () => {
    const exported: unknown[] = [...Object.values(views), ...Object.values(shared)];
    const withExamples = exported
      .filter((s): s is z.ZodType => s instanceof z.ZodType)
      .map((schema) => ({ schema, example: z.globalRegistry.get(schema)?.example }))
      .filter((s) => s.example !== undefined);
    expect(withExamples.length).toBeGreaterThanOrEqual(5);
    for (const { schema, example } of withExamples) expect(schema.safeParse(example).error).toBeUndefined();
  });
});
