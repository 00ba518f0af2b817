// The host registry and claims: registration with inspection (reachable, unreachable, bad
// credentials — never a 500), 10 concurrent "any available" provisions against 4 hosts (exactly 4
// claims, 6 clean 409 no_host_available, no host claimed twice), the state machine through the API,
// and the BMC password kept out of logs, responses and operation errors.
//
// The suite runs on its own database so that "any available host" means this suite's hosts only.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { inspect } from 'node:util';
import pg from 'pg';
import type { RunningWorker } from '../../workers/worker.ts';
import { openOrm, migrateUp } from '../../db/orm.ts';
import { Host, Machine } from '../../db/entities/index.ts';
import { withDatabase } from '../support/global-setup.ts';
import { testServices } from '../support/services.ts';
import {
  capturingLogger,
  createToken,
  http,
  startApi,
  startInProcessWorker,
  testConfig,
  waitFor,
  waitForOperation,
  type HttpResult,
  type TestApi,
} from '../support/harness.ts';
import { redfishGet, serveImage, startSushy, type ImageServer, type SushyEmulator } from '../support/sushy.ts';

const dbName = `hangar_hosts_${randomUUID().slice(0, 8)}`;
const captured = capturingLogger('trace');
let admin: pg.Client;
let api: TestApi;
let worker: RunningWorker;
let operator: string;
let adminToken: string;
let viewer: string;
let bmc: SushyEmulator;
let images: ImageServer;
const responses: HttpResult[] = [];
const WRONG_PASSWORD = `wrong-${randomUUID()}`;

beforeAll(async () => {
  admin = new pg.Client({ connectionString: testServices().adminDatabaseUrl });
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  const url = withDatabase(testServices().adminDatabaseUrl, dbName);
  const orm = await openOrm({ url, poolSize: 2 });
  await migrateUp(orm);
  await orm.close();
  [bmc, images] = await Promise.all([startSushy({ systems: 4 }), serveImage()]);
  const config = testConfig({ DATABASE_URL: url, HANGAR_LOG_LEVEL: 'trace', HANGAR_REDFISH_POLL_INTERVAL_MS: '200', HANGAR_DB_POOL_SIZE: '20' });
  api = await startApi(config, captured.logger);
  worker = await startInProcessWorker(config, captured.logger);
  [operator, adminToken, viewer] = await Promise.all([createToken(api.orm, 'operator'), createToken(api.orm, 'admin'), createToken(api.orm, 'viewer')]);
}, 120_000);

afterAll(async () => {
  await worker?.shutdown();
  await api?.close();
  await Promise.all([bmc?.stop(), images?.close()]);
  await admin?.query(`drop database if exists ${dbName} with (force)`);
  await admin?.end();
});

async function call(method: string, path: string, body?: unknown, token = operator): Promise<HttpResult> {
  const res = await http(api.url, method, path, { token, ...(body !== undefined ? { body } : {}) });
  responses.push(res);
  return res;
}

const address = (i: number) => `redfish+http://${new URL(bmc.url).host}${bmc.systems[i]!.path}`;
const condition = (host: { conditions: { type: string }[] }, type: string) =>
  host.conditions.find((c) => c.type === type) as Record<string, string> | undefined;

async function register(name: string, bmcAddress: string, password = bmc.password, extra: Record<string, unknown> = {}) {
  const res = await call('POST', '/api/v1/hosts', { name, bmc_address: bmcAddress, username: bmc.username, password, ...extra });
  expect(res.status).toBe(202);
  const op = await waitForOperation(api, operator, res.body.operation.id);
  expect(op.status).toBe('completed');
  responses.push({ status: 200, headers: new Headers(), body: op, text: JSON.stringify(op) });
  return (await call('GET', `/api/v1/hosts/${res.body.host.id}`)).body;
}

async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('claims under concurrency', () => {
  it('10 concurrent provisions for any available host against 4 hosts: exactly 4 claim, 6 get 409 no_host_available', async () => {
    const hosts = await Promise.all([0, 1, 2, 3].map((i) => register(`rack-${i}`, address(i), bmc.password, { tags: ['rack1'] })));
    for (const h of hosts) expect(h).toMatchObject({ state: 'available', vendor: 'Sushy Emulator', virtual_media_supported: true });

    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => call('POST', '/api/v1/hosts/provision', { name: `node-${i}`, image_url: images.url('any.iso') })),
    );
    const won = results.filter((r) => r.status === 202);
    const lost = results.filter((r) => r.status !== 202);
    expect(won).toHaveLength(4);
    expect(lost).toHaveLength(6);
    for (const r of lost) {
      expect(r.status).toBe(409);
      expect(r.body.error).toBe('no_host_available');
      expect(r.body.detail).toMatch(/no host available for any available host/);
    }
    // Four different hosts, each claimed by exactly one machine, in the database as in the answers.
    const claimedHosts = won.map((r) => r.body.host.id as string);
    expect(new Set(claimedHosts).size).toBe(4);
    const rows = await api.orm.em.fork().find(Host, {}, { orderBy: { name: 'asc' } });
    for (const h of rows) expect(['claimed', 'provisioning']).toContain(h.state);
    expect(new Set(rows.map((h) => h.claimedBy)).size).toBe(4);
    for (const r of won) expect(rows.find((h) => h.id === r.body.host.id)!.claimedBy).toBe(r.body.machine.id);
    // The losers left nothing behind: no machine rows, and the machine count matches the claims.
    expect(await api.orm.em.fork().count(Machine, {})).toBe(4);

    // Cancelling the four provisions (nobody will phone home) compensates and releases every host.
    await Promise.all(won.map((r) => api.temporal.workflow.getHandle(r.body.operation.workflow_id).cancel()));
    const ops = await Promise.all(won.map((r) => waitForOperation(api, operator, r.body.operation.id, 90_000)));
    for (const op of ops) expect(op.status).toBe('cancelled');
    const after = await api.orm.em.fork().find(Host, {});
    expect(after.map((h) => [h.state, h.claimedBy ?? null])).toEqual(after.map(() => ['available', null]));
    for (let i = 0; i < 4; i++) {
      const sys = await redfishGet(bmc, bmc.systems[i]!.path);
      const cd = await redfishGet(bmc, `${bmc.systems[i]!.path}/VirtualMedia/Cd`);
      expect([sys.PowerState, cd.Inserted, (sys.Boot as Record<string, unknown>).BootSourceOverrideTarget]).toEqual(['Off', false, 'None']);
    }
    // Tags select too; a tag nobody has is a clean 409.
    const none = await call('POST', '/api/v1/hosts/provision', { name: 'node-x', image_url: images.url(), tags: ['rack9'] });
    expect(none.status).toBe(409);
    expect(none.body).toMatchObject({ error: 'no_host_available', detail: expect.stringContaining('rack9') });
  }, 150_000);
});

describe('registration and inspection', () => {
  it('validates input and never echoes the password', async () => {
    let res = await call('POST', '/api/v1/hosts', {
      name: 'bad-1',
      bmc_address: 'https://10.0.0.1/redfish/v1/Systems/1',
      username: 'root',
      password: 'pw-zzz-1',
    });
    expect(res.status).toBe(400);
    expect(res.body.fields.bmc_address).toMatch(/redfish\+https/);
    res = await call('POST', '/api/v1/hosts', { name: 'bad-2', bmc_address: address(0), username: 'root' });
    expect(res).toMatchObject({ status: 400, body: { error: 'validation_failed', fields: { password: expect.any(String) } } });
    res = await call('POST', '/api/v1/hosts', { name: 'rack-0', bmc_address: address(0), username: 'root', password: 'pw-zzz-2' });
    expect(res).toMatchObject({ status: 409, body: { error: 'already_exists' } });
    res = await call('POST', '/api/v1/hosts', { name: 'bad-3', bmc_address: address(0), username: 'root', password: 'pw-zzz-3' }, viewer);
    expect(res.status).toBe(403);
    for (const r of responses) expect(r.text).not.toMatch(/pw-zzz/);
  });

  it('an unreachable BMC is recorded with a failing bmc_reachable condition, not a 500', async () => {
    const host = await register('ghost', `redfish+http://127.0.0.1:${await closedPort()}/redfish/v1/Systems/1`);
    expect(host.state).toBe('available');
    expect(condition(host, 'bmc_reachable')).toMatchObject({ status: 'False', reason: 'Unreachable' });
    expect(condition(host, 'bmc_reachable')!.message).toMatch(/bmc_unreachable/);
    expect(host.last_error).toMatch(/bmc_unreachable/);
  });

  it('bad credentials are recorded as AuthenticationFailed; fixing the password and inspecting again clears it', async () => {
    const host = await register('wrong-pw', address(0), WRONG_PASSWORD);
    expect(condition(host, 'bmc_reachable')).toMatchObject({ status: 'False', reason: 'AuthenticationFailed' });
    expect(condition(host, 'bmc_reachable')!.message).toMatch(/provider_auth_failed.*HTTP 401/);

    // Provisioning on it fails at the first BMC call; the clean-up cannot reach the BMC either, so the host goes to error.
    const res = await call('POST', '/api/v1/hosts/provision', { name: 'node-wrong', host: 'wrong-pw', image_url: images.url() });
    expect(res.status).toBe(202);
    const op = await waitForOperation(api, operator, res.body.operation.id, 60_000);
    responses.push({ status: 200, headers: new Headers(), body: op, text: JSON.stringify(op) });
    expect(op.status).toBe('failed');
    expect(op.error.code).toBe('provider_auth_failed');
    expect(op.error.message).toMatch(/compensation failed for/);
    let h = (await call('GET', `/api/v1/hosts/${host.id}`)).body;
    expect(h).toMatchObject({ state: 'error', claimed_by: res.body.machine.id });
    expect(condition(h, 'healthy')).toMatchObject({ status: 'False', reason: 'Error' });

    // Illegal moves name the state; an admin force-releases the host out of error.
    expect((await call('POST', `/api/v1/hosts/${host.id}/actions/maintenance-off`, {})).body).toMatchObject({
      error: 'invalid_state',
      detail: expect.stringContaining('is error'),
    });
    const fr = await call('POST', `/api/v1/hosts/${host.id}/actions/force-release`, { reason: 'fixing the password' }, adminToken);
    expect(fr.status).toBe(202);
    const frOp = await waitForOperation(api, operator, fr.body.operation.id, 90_000);
    responses.push({ status: 200, headers: new Headers(), body: frOp, text: JSON.stringify(frOp) });
    expect(frOp.status).toBe('completed');
    h = (await call('GET', `/api/v1/hosts/${host.id}`)).body;
    expect(h).toMatchObject({ state: 'available', claimed_by: null });
    expect(condition(h, 'claimed')).toMatchObject({ status: 'False', reason: 'ForceReleased' });
    expect((await call('GET', `/api/v1/machines/${res.body.machine.id}`)).body.state).toBe('failed');

    const patched = await call('PATCH', `/api/v1/hosts/${host.id}`, { password: bmc.password });
    expect(patched.status).toBe(200);
    const insp = await call('POST', `/api/v1/hosts/${host.id}/actions/inspect`, {});
    expect(insp.status).toBe(202);
    expect((await waitForOperation(api, operator, insp.body.operation.id)).status).toBe('completed');
    h = (await call('GET', `/api/v1/hosts/${host.id}`)).body;
    expect(condition(h, 'bmc_reachable')).toMatchObject({ status: 'True', reason: 'Reachable' });
  }, 150_000);
});

describe('state machine through the API', () => {
  it('maintenance, power actions and delete follow the transition table', async () => {
    const host = (await call('GET', '/api/v1/hosts/rack-3')).body;
    expect((await call('POST', `/api/v1/hosts/${host.id}/actions/maintenance-on`, {})).body.host.state).toBe('maintenance');
    const claim = await call('POST', '/api/v1/hosts/provision', { name: 'node-m', host: 'rack-3', image_url: images.url() });
    expect(claim).toMatchObject({ status: 409, body: { error: 'no_host_available', detail: expect.stringContaining('maintenance') } });
    expect((await call('POST', `/api/v1/hosts/${host.id}/actions/force-release`, {}, adminToken)).body).toMatchObject({ error: 'invalid_state' });
    expect((await call('POST', `/api/v1/hosts/${host.id}/actions/maintenance-off`, {})).body.host.state).toBe('available');
    expect((await call('POST', `/api/v1/hosts/${host.id}/actions/fly`, {})).status).toBe(404);

    const on = await call('POST', `/api/v1/hosts/${host.id}/actions/power-on`, {});
    expect(on.status).toBe(202);
    expect((await waitForOperation(api, operator, on.body.operation.id, 60_000)).status).toBe('completed');
    expect((await redfishGet(bmc, bmc.systems[3]!.path)).PowerState).toBe('On');
    await waitFor('the power state to be recorded', async () => (await call('GET', `/api/v1/hosts/${host.id}`)).body.power_state === 'On', 10_000);
    const off = await call('POST', `/api/v1/hosts/${host.id}/actions/power-off`, {});
    expect((await waitForOperation(api, operator, off.body.operation.id, 90_000)).status).toBe('completed');
    expect((await redfishGet(bmc, bmc.systems[3]!.path)).PowerState).toBe('Off');

    const list = await call('GET', '/api/v1/hosts?tag=rack1&page_size=2');
    expect(list.body.items.map((h: { name: string }) => h.name)).toEqual(['rack-0', 'rack-1']);
    expect(list.body.next_cursor).toBeTruthy();
    expect((await call('GET', '/api/v1/hosts?state=available')).body.items.length).toBeGreaterThanOrEqual(5);

    // claim_timeout: a request waits for a host to come free instead of failing at once.
    const r2 = (await call('GET', '/api/v1/hosts/rack-2')).body;
    await call('POST', `/api/v1/hosts/${r2.id}/actions/maintenance-on`, {});
    const waiting = call('POST', '/api/v1/hosts/provision', { name: 'node-w', host: 'rack-2', image_url: images.url(), claim_timeout: '30s' });
    await new Promise((r) => setTimeout(r, 1500));
    await call('POST', `/api/v1/hosts/${r2.id}/actions/maintenance-off`, {});
    const waited = await waiting;
    expect(waited.status).toBe(202);
    expect(waited.body.host).toMatchObject({ name: 'rack-2', state: 'claimed' });
    await api.temporal.workflow.getHandle(waited.body.operation.workflow_id).cancel();
    expect((await waitForOperation(api, operator, waited.body.operation.id, 60_000)).status).toBe('cancelled');
    expect((await call('GET', `/api/v1/hosts/${r2.id}`)).body.state).toBe('available');

    expect((await call('DELETE', '/api/v1/hosts/ghost')).status).toBe(204);
    expect((await call('GET', '/api/v1/hosts/ghost')).status).toBe(404);
  }, 120_000);
});

describe('secrets', () => {
  it('the BMC passwords appear in no log line, API response or operation error', async () => {
    responses.push(
      await call('GET', '/api/v1/hosts'),
      await call('GET', '/api/v1/operations?page_size=200'),
      await call('GET', '/api/v1/audit?page_size=500', undefined, adminToken),
    );
    const logs = captured.lines.join('\n');
    expect(captured.lines.length).toBeGreaterThan(50);
    const rendered = responses.map((r) => `${r.text}\n${inspect(r.body, { depth: 10 })}`).join('\n');
    for (const secret of [bmc.password, WRONG_PASSWORD, 'pw-zzz']) {
      expect(logs).not.toContain(secret);
      expect(rendered).not.toContain(secret);
    }
    // And the database holds them sealed only.
    const [row] = await api.orm.em.getConnection().execute<{ password_sealed: string }[]>(`select password_sealed from host where name = 'rack-0'`);
    expect(row!.password_sealed).toMatch(/^v1\./);
    expect(row!.password_sealed).not.toContain(bmc.password);
  });
});
