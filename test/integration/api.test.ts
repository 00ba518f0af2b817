// The walking skeleton through every layer: HTTP → API → PostgreSQL + Temporal → worker →
// activities → dry-run provider, all real.
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { AuditEvent, DryRunCall, Machine } from '../../db/entities/index.ts';
import type { RunningWorker } from '../../workers/worker.ts';
import { provisionWorkflowId } from '../../workflows/contracts.ts';
import { createToken, http, startApi, startInProcessWorker, testConfig, waitFor, waitForOperation, type TestApi } from '../support/harness.ts';

let api: TestApi;

interface JsonSchema {
  $ref?: string;
  type?: string;
  anyOf?: unknown[];
  oneOf?: unknown[];
  enum?: string[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: unknown;
  example?: unknown;
}
interface OpenApiOperation {
  security?: unknown[];
  parameters?: { in: string; name: string }[];
  requestBody?: { content: Record<string, { schema?: JsonSchema }> };
  responses: Record<string, { content?: Record<string, { schema?: JsonSchema }> }>;
}
interface OpenApi {
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: { schemas: Record<string, JsonSchema>; securitySchemes: Record<string, unknown> };
}
let worker: RunningWorker;
const token: Record<'viewer' | 'operator' | 'admin', string> = { viewer: '', operator: '', admin: '' };
let seq = 0;
const uniqueName = (p = 'vm') => `${p}-${process.pid}-${Date.now().toString(36)}-${seq++}`;

beforeAll(async () => {
  const config = testConfig();
  api = await startApi(config);
  worker = await startInProcessWorker(config);
  for (const role of ['viewer', 'operator', 'admin'] as const) token[role] = await createToken(api.orm, role);
});

afterAll(async () => {
  await worker?.shutdown();
  await api?.close();
});

const createMachine = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  http(api.url, 'POST', '/api/v1/machines', { token: token.operator, body, headers });

const validMachine = () => ({ name: uniqueName(), provider: 'dryrun', cpu: 2, memory_mb: 2048, disk_gb: 20 });

describe('machines through the API', () => {
  it('provisions a dry-run machine to ready and reports progress', async () => {
    const body = validMachine();
    const res = await createMachine(body);
    expect(res.status).toBe(202);
    expect(res.headers.get('location')).toBe(`/api/v1/machines/${res.body.machine.id}`);
    expect(res.body.machine).toMatchObject({ name: body.name, provider: 'dryrun', cpu: 2, memory_mb: 2048, disk_gb: 20, state: 'pending' });
    expect(res.body.metadata_token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(res.body.operation.workflow_id).toBe(provisionWorkflowId(res.body.machine.id));
    expect(res.body.operation.links.history).toContain(encodeURIComponent(provisionWorkflowId(res.body.machine.id)));

    const op = await waitForOperation(api, token.viewer, res.body.operation.id);
    expect(op.status).toBe('completed');
    expect(op.progress.state).toBe('completed');
    expect(op.progress.steps.map((s: { name: string }) => s.name)).toEqual(['mark-provisioning', 'create', 'configure', 'start', 'mark-ready']);
    for (const step of op.progress.steps) {
      expect(step.status).toBe('completed');
      expect(Date.parse(step.startedAt)).toBeLessThanOrEqual(Date.parse(step.finishedAt));
    }
    expect(op.closed_at).not.toBeNull();

    const machine = await http(api.url, 'GET', `/api/v1/machines/${res.body.machine.id}`, { token: token.viewer });
    expect(machine.status).toBe(200);
    expect(machine.body.state).toBe('ready');
    expect(machine.body.provider_id).toMatch(/^dry-/);
    expect(machine.body).not.toHaveProperty('metadata_token');
    expect(machine.body.operations[0].id).toBe(res.body.operation.id);

    const calls = await api.orm.em.fork().find(DryRunCall, { machineId: res.body.machine.id }, { orderBy: { id: 'asc' } });
    expect(calls.map((c) => `${c.method}:${c.effect}`)).toEqual(['create:applied', 'configure:applied', 'start:applied']);
  });

  it('deprovisions a machine: VM deleted, record gone', async () => {
    const created = await createMachine(validMachine());
    await waitForOperation(api, token.viewer, created.body.operation.id);
    const id = created.body.machine.id;
    const del = await http(api.url, 'DELETE', `/api/v1/machines/${id}`, { token: token.operator });
    expect(del.status).toBe(202);
    expect(del.body.operation.kind).toBe('deprovision');
    const op = await waitForOperation(api, token.viewer, del.body.operation.id);
    expect(op.status).toBe('completed');
    expect((await http(api.url, 'GET', `/api/v1/machines/${id}`, { token: token.viewer })).status).toBe(404);
    const calls = await api.orm.em.fork().find(DryRunCall, { machineId: id }, { orderBy: { id: 'asc' } });
    expect(calls.map((c) => `${c.method}:${c.effect}`)).toEqual(['create:applied', 'configure:applied', 'start:applied', 'shutdown:applied', 'delete:applied']);
  });

  it('deleting during provisioning cancels the provision, which compensates, then deprovisions', async () => {
    const slow = testConfig({ HANGAR_DRYRUN_STEP_DELAY_MS: '1500' });
    const slowWorker = await startInProcessWorker(slow);
    const slowApi = await startApi(slow);
    try {
      const created = await http(slowApi.url, 'POST', '/api/v1/machines', { token: token.operator, body: validMachine() });
      const id = created.body.machine.id;
      await waitFor('the create step to apply', async () => (await api.orm.em.fork().count(DryRunCall, { machineId: id, method: 'create' })) > 0);
      const del = await http(slowApi.url, 'DELETE', `/api/v1/machines/${id}`, { token: token.operator });
      const op = await waitForOperation(slowApi, token.viewer, del.body.operation.id, 90_000);
      expect(op.status).toBe('completed');
      const provision = await waitForOperation(slowApi, token.viewer, created.body.operation.id);
      expect(provision.status).toBe('cancelled');
      expect(provision.progress.steps.some((s: { name: string; status: string }) => s.name === 'undo:delete-vm' && s.status === 'compensated')).toBe(true);
      expect(await api.orm.em.fork().count(Machine, { id })).toBe(0);
    } finally {
      await slowWorker.shutdown();
      await slowApi.close();
    }
  });

  it('lists machines with filters and cursor paging', async () => {
    const prefix = uniqueName('page');
    for (let i = 0; i < 3; i++) {
      const r = await createMachine({ ...validMachine(), name: `${prefix}-${i}` });
      expect(r.status).toBe(202);
    }
    const first = await http(api.url, 'GET', `/api/v1/machines?name_prefix=${prefix}&page_size=2`, { token: token.viewer });
    expect(first.status).toBe(200);
    expect(first.body.items.map((m: { name: string }) => m.name)).toEqual([`${prefix}-0`, `${prefix}-1`]);
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const second = await http(api.url, 'GET', `/api/v1/machines?name_prefix=${prefix}&page_size=2&cursor=${first.body.next_cursor}`, { token: token.viewer });
    expect(second.body.items.map((m: { name: string }) => m.name)).toEqual([`${prefix}-2`]);
    expect(second.body.next_cursor).toBeNull();
  });

  it('refuses a second machine with the same name', async () => {
    const body = validMachine();
    expect((await createMachine(body)).status).toBe(202);
    const again = await createMachine(body);
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ error: 'already_exists', fields: { name: 'already exists' } });
  });
});

describe('idempotency keys', () => {
  it('returns the same operation for a repeated POST and starts one workflow', async () => {
    const body = validMachine();
    const key = `key-${uniqueName()}`;
    const first = await createMachine(body, { 'idempotency-key': key });
    const second = await createMachine(body, { 'idempotency-key': key });
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.body.operation.id).toBe(first.body.operation.id);
    expect(second.body.machine.id).toBe(first.body.machine.id);
    expect(await api.orm.em.fork().count(Machine, { name: body.name })).toBe(1);
    await waitForOperation(api, token.viewer, first.body.operation.id);
    // Visibility is eventually consistent: wait until the run shows, then count.
    const runs = await waitFor('the run to be visible', async () => {
      const found = [];
      for await (const wf of api.temporal.workflow.list({ query: `WorkflowId = '${provisionWorkflowId(first.body.machine.id)}'` })) found.push(wf);
      return found.length ? found : null;
    });
    expect(runs).toHaveLength(1);
    expect(await api.orm.em.fork().count(DryRunCall, { machineId: first.body.machine.id, method: 'create' })).toBe(1);
  });

  it('rejects the same key with a different body', async () => {
    const key = `key-${uniqueName()}`;
    expect((await createMachine(validMachine(), { 'idempotency-key': key })).status).toBe(202);
    const clash = await createMachine(validMachine(), { 'idempotency-key': key });
    expect(clash.status).toBe(422);
    expect(clash.body.error).toBe('idempotency_key_reused');
  });
});

describe('auth and audit', () => {
  it('requires a token on every /api/v1 route', async () => {
    for (const [method, path] of [
      ['GET', '/api/v1/machines'],
      ['POST', '/api/v1/machines'],
      ['GET', '/api/v1/operations/x'],
      ['GET', '/api/v1/tokens'],
      ['GET', '/api/v1/nope'],
    ]) {
      const res = await http(api.url, method!, path!, { body: method === 'POST' ? validMachine() : undefined });
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('unauthorized');
    }
  });

  it('forbids mutations to viewers and tokens to operators', async () => {
    const asViewer = await http(api.url, 'POST', '/api/v1/machines', { token: token.viewer, body: validMachine() });
    expect(asViewer.status).toBe(403);
    expect((await http(api.url, 'GET', '/api/v1/tokens', { token: token.operator })).status).toBe(403);
    const created = await http(api.url, 'POST', '/api/v1/tokens', { token: token.admin, body: { name: uniqueName('tok'), role: 'viewer' } });
    expect(created.status).toBe(201);
    expect(created.body.token).toMatch(/^hgr_/);
    expect((await http(api.url, 'GET', '/api/v1/machines', { token: created.body.token })).status).toBe(200);
  });

  it('writes an audit event for each mutation with actor, action, resource and request id', async () => {
    const res = await createMachine(validMachine(), { 'x-request-id': `audit-${uniqueName()}` });
    const requestId = res.headers.get('x-request-id')!;
    const event = await waitFor('the audit event', () => api.orm.em.fork().findOne(AuditEvent, { requestId }));
    expect(event.action).toBe('machines.create');
    expect(event.resourceType).toBe('machine');
    expect(event.resourceId).toBe(res.body.machine.id);
    expect(event.statusCode).toBe(202);
    expect(event.actor).toMatch(/^operator-/);
    const listed = await http(api.url, 'GET', `/api/v1/audit?resource_id=${res.body.machine.id}`, { token: token.viewer });
    expect(listed.body.items[0]).toMatchObject({ action: 'machines.create', request_id: requestId });
  });

  it('audits refused mutations too', async () => {
    const res = await http(api.url, 'POST', '/api/v1/machines', {
      token: token.viewer,
      body: validMachine(),
      headers: { 'x-request-id': `denied-${uniqueName()}` },
    });
    const event = await waitFor('the audit event', () => api.orm.em.fork().findOne(AuditEvent, { requestId: res.headers.get('x-request-id')! }));
    expect(event.statusCode).toBe(403);
  });
});

describe('bad input gets a 4xx envelope', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['missing fields', { name: 'x1' }, 'cpu'],
    ['uppercase name', { ...{ provider: 'dryrun', cpu: 1, memory_mb: 512, disk_gb: 1 }, name: 'Bad_Name' }, 'name'],
    ['zero cpu', { name: 'ok-name', provider: 'dryrun', cpu: 0, memory_mb: 512, disk_gb: 1 }, 'cpu'],
    ['fractional memory', { name: 'ok-name', provider: 'dryrun', cpu: 1, memory_mb: 512.5, disk_gb: 1 }, 'memory_mb'],
    ['unknown provider', { name: 'ok-name', provider: 'vmware', cpu: 1, memory_mb: 512, disk_gb: 1 }, 'provider'],
    ['unknown field', { name: 'ok-name', provider: 'dryrun', cpu: 1, memory_mb: 512, disk_gb: 1, color: 'red' }, 'color'],
  ];
  for (const [what, body, field] of cases) {
    it(`rejects ${what}`, async () => {
      const res = await createMachine(body);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('validation_failed');
      expect(res.body.fields).toHaveProperty(field);
    });
  }

  it('rejects malformed JSON, bad paging and unknown ids', async () => {
    const bad = await http(api.url, 'POST', '/api/v1/machines', {
      token: token.operator,
      rawBody: '{"name":',
      headers: { 'content-type': 'application/json' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('malformed_json');
    const big = await http(api.url, 'GET', '/api/v1/machines?page_size=100000', { token: token.viewer });
    expect(big.status).toBe(400);
    expect(big.body.fields).toHaveProperty('page_size');
    const cursor = await http(api.url, 'GET', '/api/v1/machines?cursor=garbage!', { token: token.viewer });
    expect(cursor.status).toBe(400);
    expect(cursor.body.fields).toHaveProperty('cursor');
    expect((await http(api.url, 'GET', '/api/v1/machines/not-a-uuid', { token: token.viewer })).status).toBe(404);
    expect((await http(api.url, 'GET', `/api/v1/operations/${crypto.randomUUID()}`, { token: token.viewer })).status).toBe(404);
    expect((await http(api.url, 'DELETE', `/api/v1/machines/${crypto.randomUUID()}`, { token: token.operator })).status).toBe(404);
    const state = await http(api.url, 'GET', '/api/v1/machines?state=bogus', { token: token.viewer });
    expect(state.status).toBe(400);
    expect(state.body.fields).toHaveProperty('state');
  });
});

describe('API description', () => {
  it('serves an OpenAPI document whose request schemas come from the validators', async () => {
    const res = await http(api.url, 'GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    const create = res.body.components.schemas.CreateMachine;
    expect([...create.required].sort()).toEqual(['cpu', 'disk_gb', 'memory_mb', 'name', 'provider']);
    expect(create.additionalProperties).toBe(false);
    expect(create.properties.cpu).toMatchObject({ type: 'integer', minimum: 1 });
    expect(Object.keys(res.body.paths)).toEqual(
      expect.arrayContaining(['/api/v1/machines', '/api/v1/machines/{id}', '/api/v1/operations/{id}', '/api/v1/tokens', '/api/v1/audit', '/readyz']),
    );
    const docs = await fetch(`${api.url}/docs`);
    expect(docs.headers.get('content-type')).toContain('text/html');
    expect(await docs.text()).toContain('/api/v1/machines');
    expect(res.body.components.schemas.ProvisionHost.properties).toHaveProperty('template');
    expect(res.body.components.schemas.CreateTemplate.properties.provider.enum).toContain('redfish');
  });

  it('has a response schema for every operation and status, and 204s without a body', async () => {
    const doc = (await http(api.url, 'GET', '/openapi.json')).body as OpenApi;
    const ops = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })));
    expect(ops.length).toBeGreaterThan(60);
    const missing: string[] = [];
    for (const { path, method, op } of ops) {
      const statuses = Object.keys(op.responses);
      if (!statuses.some((s) => s.startsWith('2'))) missing.push(`${method} ${path}: no success response`);
      for (const [status, response] of Object.entries(op.responses)) {
        if (status === '204') {
          if (response.content) missing.push(`${method} ${path} 204 has content`);
          continue;
        }
        const schemas = Object.values(response.content ?? {}).map((c) => c.schema);
        if (!schemas.length || schemas.some((schema) => !schema || (!schema.$ref && !schema.type && !schema.anyOf && !schema.oneOf)))
          missing.push(`${method} ${path} ${status}`);
        if (status >= '400' && schemas[0]?.$ref !== '#/components/schemas/Error') missing.push(`${method} ${path} ${status} is not the error envelope`);
      }
      // Every templated path segment is a declared path parameter.
      for (const name of [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1])) {
        if (!op.parameters?.some((p) => p.in === 'path' && p.name === name)) missing.push(`${method} ${path}: path parameter ${name}`);
      }
    }
    expect(missing).toEqual([]);

    // The error envelope lists the one catalogue of codes.
    expect(doc.components.schemas.Error!.properties!.error!.enum).toEqual(expect.arrayContaining(['validation_failed', 'not_found', 'internal']));
    // Open routes say so; everything under /api/v1 needs the bearer token.
    expect(doc.components.securitySchemes).toHaveProperty('bearerAuth');
    for (const open of ['/healthz', '/readyz', '/openapi.json', '/cloud-init/{machineId}/{token}/{doc}']) expect(doc.paths[open]!.get!.security).toEqual([]);
    expect(doc.paths['/cloud-init/{machineId}/{token}/phone-home']!.post!.security).toEqual([]);
    expect(doc.paths['/api/v1/machines']!.get!.security).toBeUndefined();
    expect(Object.keys(doc.paths['/api/v1/machines/{id}']!.get!.responses).sort()).toEqual(['200', '400', '401', '403', '404']);
  });

  it('documents what the routes really do: DELETEs answer 204, PATCH bodies are the update schemas', async () => {
    const doc = (await http(api.url, 'GET', '/openapi.json')).body as OpenApi;
    for (const path of [
      '/api/v1/ssh-keys/{id}',
      '/api/v1/networks/{id}',
      '/api/v1/accounts/{id}',
      '/api/v1/pools/{id}',
      '/api/v1/hosts/{ref}',
      '/api/v1/clusters/{ref}',
      '/api/v1/pools/{id}/allocations/{allocationId}',
    ]) {
      const responses = doc.paths[path]!.delete!.responses;
      expect([path, Object.keys(responses).filter((s) => s.startsWith('2'))]).toEqual([path, ['204']]);
    }
    expect(Object.keys(doc.paths['/api/v1/machines/{id}']!.delete!.responses)).toEqual(expect.arrayContaining(['202', '204']));
    const body = (path: string, method: string) => doc.paths[path]![method]!.requestBody!.content['application/json']!.schema!.$ref!.split('/').at(-1)!;
    const sshKeyUpdate = doc.components.schemas[body('/api/v1/ssh-keys/{id}', 'patch')]!;
    expect(Object.keys(sshKeyUpdate.properties!)).toEqual(['name']);
    const networkUpdate = doc.components.schemas[body('/api/v1/networks/{id}', 'patch')]!;
    expect(networkUpdate.properties).not.toHaveProperty('name');
    expect(networkUpdate.properties).not.toHaveProperty('cidr');
    expect(networkUpdate.additionalProperties).toBe(false);
    // Examples for the main resources.
    for (const name of ['Machine', 'Network', 'SshKey', 'OperationSummary', 'Error']) expect(doc.components.schemas[name]).toHaveProperty('example');
  });

  it('declares every route Express serves (no route bypasses the contract)', async () => {
    const { createApp } = await import('../../api/app.ts');
    const { DECLARED } = await import('../../api/contract/route.ts');
    const { pino } = await import('pino');
    const app = createApp({
      orm: api.orm,
      temporal: api.temporal,
      config: { ...api.config, metrics: { ...api.config.metrics, enabled: true } },
      logger: pino({ level: 'silent' }),
    });
    interface Layer {
      route?: { path: string; methods: Record<string, boolean>; stack: { handle: Record<symbol, unknown> }[] };
      handle?: { stack?: Layer[] };
    }
    const walk = (stack: Layer[]): { route: string; declared: boolean }[] =>
      stack.flatMap((layer) => {
        if (layer.route) {
          const { path, methods, stack: handlers } = layer.route;
          return [{ route: `${Object.keys(methods).join(',')} ${path}`, declared: handlers.some((h) => DECLARED in h.handle) }];
        }
        return layer.handle?.stack ? walk(layer.handle.stack) : [];
      });
    const served = walk((app as unknown as { router: { stack: Layer[] } }).router.stack);
    expect(served.length).toBeGreaterThan(60);
    expect(served.filter((r) => !r.declared).map((r) => r.route)).toEqual([]);
    const declared = (app.locals.contract as { operations: unknown[] }).operations.length;
    expect(declared).toBe(served.length);
  });
});

describe('health, readiness and metrics', () => {
  it('is live and ready when PostgreSQL and Temporal answer', async () => {
    expect((await http(api.url, 'GET', '/healthz')).body).toEqual({ status: 'ok' });
    const ready = await http(api.url, 'GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.checks).toEqual({ postgres: 'ok', temporal: 'ok' });
  });

  it('answers 503 naming Temporal when it is unreachable', async () => {
    const { apiTemporalClient } = await import('../../api/temporal.ts');
    const { createApp } = await import('../../api/app.ts');
    const { pino } = await import('pino');
    const { client, connection } = apiTemporalClient({ temporal: { ...api.config.temporal, address: '127.0.0.1:1' } });
    const app = createApp({ orm: api.orm, temporal: client, config: api.config, logger: pino({ level: 'silent' }) });
    const server = await new Promise<import('node:http').Server>((r) => {
      const s = app.listen(0, '127.0.0.1', () => r(s));
    });
    try {
      const port = (server.address() as import('node:net').AddressInfo).port;
      const res = await http(`http://127.0.0.1:${port}`, 'GET', '/readyz');
      expect(res.status).toBe(503);
      expect(res.body.error).toBe('unavailable');
      expect(res.body.detail).toContain('temporal');
      expect(res.body.fields.postgres).toBe('ok');
      expect(res.body.fields.temporal).toMatch(/^unreachable/);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await connection.close();
    }
  });

  it('exports request counts and durations by route and status', async () => {
    await http(api.url, 'GET', '/api/v1/machines', { token: token.viewer });
    const res = await fetch(`${api.url}/metrics`);
    const text = await res.text();
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect(text).toMatch(/hangar_http_requests_total\{method="GET",route="\/api\/v1\/machines\/",status="200"\} \d+/);
    expect(text).toContain('hangar_http_request_duration_seconds_bucket');
    expect(text).toContain('hangar_process_resident_memory_bytes');
  });
});
