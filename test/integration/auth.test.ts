import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { pino } from 'pino';
import { authenticate, authorize, roleAllows } from '../../api/middleware/auth.ts';
import { errorHandler } from '../../api/middleware/errors.ts';
import { requestContext } from '../../api/middleware/observability.ts';
import { openOrm, type MikroORM } from '../../db/orm.ts';
import { ApiToken } from '../../db/entities/index.ts';
import { hashToken } from '../../db/repositories/tokens.ts';
import { createToken, http } from '../support/harness.ts';
import { testServices } from '../support/services.ts';

let orm: MikroORM;
let server: Server;
let base: string;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  orm = await openOrm({ url: testServices().databaseUrl, poolSize: 4 });
  for (const role of ['viewer', 'operator', 'admin'] as const) tokens[role] = await createToken(orm, role);
  const app = express();
  app.use(requestContext(pino({ level: 'silent' })));
  app.use(authenticate(orm));
  app.get('/admin-only', authorize('admin'), (req, res) => {
    res.json({ who: req.actor!.name });
  });
  app.use(authorize());
  app.get('/things', (req, res) => {
    res.json({ who: req.actor!.name, role: req.actor!.role });
  });
  app.post('/things', (_req, res) => {
    res.status(201).json({ ok: true });
  });
  app.use(errorHandler);
  server = await new Promise((r) => {
    const s = app.listen(0, '127.0.0.1', () => r(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  await orm.close();
});

describe('auth middleware', () => {
  it('orders roles viewer < operator < admin', () => {
    expect(roleAllows('admin', 'operator')).toBe(true);
    expect(roleAllows('operator', 'viewer')).toBe(true);
    expect(roleAllows('viewer', 'operator')).toBe(false);
    expect(roleAllows('operator', 'admin')).toBe(false);
  });

  it('answers 401 with a challenge when no token is sent', async () => {
    const res = await http(base, 'GET', '/things');
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('unauthorized');
    expect(res.headers.get('www-authenticate')).toContain('Bearer');
  });

  it('answers 401 for a malformed header, an unknown token and a revoked token', async () => {
    expect((await http(base, 'GET', '/things', { headers: { authorization: 'Basic abc' } })).status).toBe(401);
    expect((await http(base, 'GET', '/things', { token: 'hgr_not-a-real-token' })).status).toBe(401);
    const revoked = await createToken(orm, 'admin');
    expect((await http(base, 'GET', '/things', { token: revoked })).status).toBe(200);
    await orm.em.fork().nativeUpdate(ApiToken, { tokenHash: hashToken(revoked) }, { revokedAt: new Date() });
    const res = await http(base, 'GET', '/things', { token: revoked });
    expect(res.status).toBe(401);
    expect(res.body.detail).toBe('invalid or revoked token');
  });

  it('lets a viewer read but not mutate', async () => {
    const read = await http(base, 'GET', '/things', { token: tokens.viewer });
    expect(read.status).toBe(200);
    expect(read.body.role).toBe('viewer');
    const write = await http(base, 'POST', '/things', { token: tokens.viewer, body: {} });
    expect(write.status).toBe(403);
    expect(write.body.error).toBe('forbidden');
    expect(write.body.detail).toContain('needs operator');
  });

  it('lets an operator mutate but not reach admin routes', async () => {
    expect((await http(base, 'POST', '/things', { token: tokens.operator, body: {} })).status).toBe(201);
    expect((await http(base, 'GET', '/admin-only', { token: tokens.operator })).status).toBe(403);
    expect((await http(base, 'GET', '/admin-only', { token: tokens.admin })).status).toBe(200);
  });

  it('stores only a hash of the token', async () => {
    const rows = await orm.em.getConnection().execute<{ token_hash: string }[]>('select token_hash from api_token');
    const all = JSON.stringify(rows);
    for (const t of Object.values(tokens)) {
      expect(all).not.toContain(t);
      expect(all).toContain(hashToken(t));
    }
  });
});
