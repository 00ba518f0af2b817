// Templates, power actions, disks and dry-run plans through the real API, worker and Temporal,
// on the dry-run provider (the Proxmox and QEMU suites cover the real providers).
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { DryRunCall, Disk, Machine, Operation, Template } from '../../db/entities/index.ts';
import type { RunningWorker } from '../../workers/worker.ts';
import { createToken, http, startApi, startInProcessWorker, testConfig, waitForOperation, type TestApi } from '../support/harness.ts';
import { unique } from '../support/api-fixture.ts';

let api: TestApi;
let worker: RunningWorker;
let operator = '';
let viewer = '';

beforeAll(async () => {
  const config = testConfig({ HANGAR_PROVIDERS: 'dryrun,qemu', HANGAR_DRYRUN_STEP_DELAY_MS: '300' });
  api = await startApi(config);
  worker = await startInProcessWorker(config);
  operator = await createToken(api.orm, 'operator');
  viewer = await createToken(api.orm, 'viewer');
});

afterAll(async () => {
  await worker?.shutdown();
  await api?.close();
});

const post = (path: string, body?: unknown) => http(api.url, 'POST', path, { token: operator, body: body ?? {} });
const get = (path: string) => http(api.url, 'GET', path, { token: viewer });
const del = (path: string) => http(api.url, 'DELETE', path, { token: operator });

async function readyMachine(extra: Record<string, unknown> = {}) {
  const res = await post('/api/v1/machines', { name: unique('vm'), provider: 'dryrun', cpu: 1, memory_mb: 512, disk_gb: 5, ...extra });
  expect(res.status).toBe(202);
  expect((await waitForOperation(api, viewer, res.body.operation.id)).status).toBe('completed');
  return res.body.machine as { id: string; name: string };
}

async function calls(machineId: string) {
  return (await api.orm.em.fork().find(DryRunCall, { machineId }, { orderBy: { id: 'asc' } })).map((c) => c.method);
}

describe('templates', () => {
  it('creates a template through createTemplate, lists it, refuses duplicates and deletes it', async () => {
    const name = unique('tpl');
    const res = await post('/api/v1/templates', { name, provider: 'dryrun', image: '/var/lib/images/debian.qcow2', checksum: `sha256:${'a'.repeat(64)}` });
    expect(res.status).toBe(202);
    expect(res.body.template).toMatchObject({ name, provider: 'dryrun', state: 'pending' });
    const op = await waitForOperation(api, viewer, res.body.operation.id);
    expect(op.status).toBe('completed');
    expect(op.progress.steps.map((s: { name: string }) => s.name)).toEqual(['mark-creating', 'import', 'mark-ready']);
    const got = await get(`/api/v1/templates/${name}`);
    expect(got.body).toMatchObject({ state: 'ready', provider_ref: expect.stringMatching(/^dry-template-/) });
    expect((await get('/api/v1/templates?provider=dryrun')).body.items.map((t: { name: string }) => t.name)).toContain(name);
    expect((await post('/api/v1/templates', { name, provider: 'dryrun', image: '/x.qcow2' })).status).toBe(409);

    // A machine cloned from it keeps the template from being deleted.
    const m = await readyMachine({ template: name });
    const refused = await del(`/api/v1/templates/${name}`);
    expect(refused.status).toBe(409);
    expect(refused.body.error).toBe('has_dependents');
    const gone = await del(`/api/v1/machines/${m.id}`);
    await waitForOperation(api, viewer, gone.body.operation.id);
    const deleted = await del(`/api/v1/templates/${name}`);
    expect(deleted.status).toBe(202);
    expect((await waitForOperation(api, viewer, deleted.body.operation.id)).status).toBe('completed');
    expect(await api.orm.em.fork().count(Template, { name })).toBe(0);
  });

  it('explains bad template requests with 4xx', async () => {
    const cases: [Record<string, unknown>, number, string][] = [
      [{ name: 'Bad Name', provider: 'dryrun', image: '/x' }, 400, 'name'],
      [{ name: unique('t'), provider: 'dryrun', image: 'relative/path.qcow2' }, 400, 'image'],
      [{ name: unique('t'), provider: 'dryrun', image: '/x', checksum: 'md5:abc' }, 400, 'checksum'],
      [{ name: unique('t'), provider: 'dryrun', image: '/x', vmid: 42 }, 400, 'vmid'],
      [{ name: unique('t'), provider: 'qemu', image: 'https://example.com/x.qcow2' }, 400, 'image'],
      [{ name: unique('t'), provider: 'proxmox', image: '/x' }, 422, 'provider'],
    ];
    for (const [body, status, field] of cases) {
      const res = await post('/api/v1/templates', body);
      expect({ body, status: res.status }).toEqual({ body, status });
      expect(res.body.fields ?? {}).toHaveProperty(field);
    }
  });
});

describe('machines on real providers: request validation', () => {
  it('refuses what a provider cannot take, with the field named', async () => {
    const base = { name: unique('vm'), cpu: 1, memory_mb: 512, disk_gb: 5 };
    const cases: [Record<string, unknown>, number, string][] = [
      [{ ...base, provider: 'qemu' }, 400, 'template'],
      [{ ...base, provider: 'qemu', template: 'no-such-template' }, 422, 'template'],
      [{ ...base, provider: 'proxmox', template: 'x' }, 422, 'provider'],
      [{ ...base, provider: 'qemu', template: 'x', vmid: 150 }, 400, 'vmid'],
      [{ ...base, provider: 'dryrun', vmid: 99 }, 400, 'vmid'],
      [{ ...base, provider: 'dryrun', vmid: 1_000_000_000 }, 400, 'vmid'],
      [{ ...base, provider: 'dryrun', mac: '01:00:5e:00:00:01' }, 400, 'mac'],
      [{ ...base, provider: 'dryrun', mac: 'zz:00:00:00:00:01' }, 400, 'mac'],
      [{ ...base, provider: 'dryrun', bridge: 'this-bridge-name-is-too-long' }, 400, 'bridge'],
      [{ ...base, provider: 'dryrun', bridge: '0br' }, 400, 'bridge'],
      [{ ...base, provider: 'dryrun', memory_mb: 16 }, 400, 'memory_mb'],
      [{ ...base, provider: 'dryrun', cpu: 0 }, 400, 'cpu'],
      [{ ...base, provider: 'dryrun', disk_gb: 0 }, 400, 'disk_gb'],
      [{ ...base, provider: 'dryrun', cloud_init_mode: 'native' }, 400, 'cloud_init_mode'],
    ];
    for (const [body, status, field] of cases) {
      const res = await post('/api/v1/machines', body);
      expect({ body, status: res.status }).toEqual({ body, status });
      expect(res.body.fields ?? {}).toHaveProperty(field);
    }
    expect(await api.orm.em.fork().count(Machine, { name: base.name })).toBe(0);
  });
});

describe('dry-run plans', () => {
  it('return the provider calls a provision would make and write nothing', async () => {
    const name = unique('plan');
    const ops = await api.orm.em.fork().count(Operation, {});
    const res = await post('/api/v1/machines?dry_run=true', { name, provider: 'dryrun', cpu: 2, memory_mb: 1024, disk_gb: 10, wait_for_phone_home: true });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ dry_run: true, workflow: 'provisionVm' });
    expect(res.body.calls.map((c: { step: string }) => c.step)).toEqual(['mark-provisioning', 'create', 'configure', 'start', 'wait-phone-home', 'mark-ready']);
    expect(res.body.calls.find((c: { step: string }) => c.step === 'configure').args).toMatchObject({ cpu: 2, memory_mb: 1024, disk_gb: 10 });
    expect(await api.orm.em.fork().count(Machine, { name })).toBe(0);
    expect(await api.orm.em.fork().count(Operation, {})).toBe(ops);
    // Validation still applies to a plan.
    expect((await post('/api/v1/machines?dry_run=true', { name, provider: 'dryrun', cpu: 0, memory_mb: 1024, disk_gb: 10 })).status).toBe(400);
  });

  it('cover power, disks and deletion without touching the machine', async () => {
    const m = await readyMachine();
    const before = await calls(m.id);
    const restart = await post(`/api/v1/machines/${m.id}/actions/restart?dry_run=true`);
    expect(restart.status).toBe(200);
    expect(restart.body.calls.map((c: { call: string }) => c.call)).toEqual(['dryrun.shutdown', 'dryrun.start', 'dryrun.status']);
    const disk = await post(`/api/v1/machines/${m.id}/disks?dry_run=true`, { size_gb: 8 });
    expect(disk.body.calls[0]).toMatchObject({ call: 'dryrun.attachDisk', args: { size_gb: 8 } });
    const gone = await del(`/api/v1/machines/${m.id}?dry_run=true`);
    expect(gone.body.calls.map((c: { step: string }) => c.step)).toEqual(['settle-provisioning', 'mark-deprovisioning', 'stop', 'delete-vm', 'delete-record']);
    expect(await calls(m.id)).toEqual(before);
    expect(await api.orm.em.fork().count(Disk, { machineId: m.id })).toBe(0);
    expect((await get(`/api/v1/machines/${m.id}`)).body.state).toBe('ready');
  });
});

describe('power actions', () => {
  it('stop, start and restart run vmPower and record the power state', async () => {
    const m = await readyMachine();
    for (const [action, expected] of [
      ['stop', 'stopped'],
      ['start', 'running'],
      ['restart', 'running'],
    ] as const) {
      const res = await post(`/api/v1/machines/${m.id}/actions/${action}`);
      expect(res.status).toBe(202);
      expect(res.body.operation.kind).toBe(action);
      const op = await waitForOperation(api, viewer, res.body.operation.id);
      expect(op.status).toBe('completed');
      expect((await get(`/api/v1/machines/${m.id}`)).body.power_state).toBe(expected);
    }
    expect((await calls(m.id)).slice(3)).toEqual(['shutdown', 'start', 'shutdown', 'start']);
  });

  it('refuses a second power operation while one runs, and unknown actions', async () => {
    const m = await readyMachine();
    const first = await post(`/api/v1/machines/${m.id}/actions/restart`);
    expect(first.status).toBe(202);
    const second = await post(`/api/v1/machines/${m.id}/actions/stop`);
    expect(second.status).toBe(409);
    expect(second.body.error).toBe('invalid_state');
    expect(second.body.detail).toContain(first.body.operation.id);
    await waitForOperation(api, viewer, first.body.operation.id);
    expect((await post(`/api/v1/machines/${m.id}/actions/explode`)).status).toBe(404);
  });

  it('refuses power actions on a machine that is not provisioned', async () => {
    const slow = await post('/api/v1/machines', { name: unique('vm'), provider: 'dryrun', cpu: 1, memory_mb: 512, disk_gb: 5, wait_for_phone_home: true });
    const res = await post(`/api/v1/machines/${slow.body.machine.id}/actions/start`);
    expect(res.status).toBe(409);
    expect(res.body.error).toBe('invalid_state');
    await del(`/api/v1/machines/${slow.body.machine.id}`);
  });
});

describe('disks', () => {
  it('attaches and detaches a disk through workflows, and validates sizes', async () => {
    const m = await readyMachine();
    expect((await post(`/api/v1/machines/${m.id}/disks`, { size_gb: 0 })).status).toBe(400);
    expect((await post(`/api/v1/machines/${m.id}/disks`, { size_gb: 10, bus: 'ide' })).status).toBe(400);
    const res = await post(`/api/v1/machines/${m.id}/disks`, { size_gb: 10 });
    expect(res.status).toBe(202);
    const diskId = res.body.disk.id;
    expect((await waitForOperation(api, viewer, res.body.operation.id)).status).toBe('completed');
    const listed = await get(`/api/v1/machines/${m.id}/disks`);
    expect(listed.body.items).toEqual([expect.objectContaining({ id: diskId, size_gb: 10, state: 'attached', slot: expect.stringMatching(/^dry-disk-/) })]);
    const detach = await del(`/api/v1/machines/${m.id}/disks/${diskId}`);
    expect(detach.status).toBe(202);
    expect((await waitForOperation(api, viewer, detach.body.operation.id)).status).toBe('completed');
    expect((await get(`/api/v1/machines/${m.id}/disks`)).body.items).toEqual([]);
    expect((await calls(m.id)).slice(3)).toEqual(['attachDisk', 'detachDisk']);
    expect((await get(`/api/v1/machines/${m.id}/disks/${diskId}`)).status).toBe(404);
  });
});

describe('bare-metal machines through /api/v1/machines', () => {
  it('provider redfish claims a host: no matching host is a clean 409, bad input a 400, nothing written', async () => {
    const name = unique('bm');
    const none = await post('/api/v1/machines', {
      name,
      provider: 'redfish',
      image_url: 'http://127.0.0.1:1/installer.iso',
      tags: [`no-such-tag-${process.pid}`],
    });
    expect(none.status).toBe(409);
    expect(none.body.error).toBe('no_host_available');
    const bad = await post('/api/v1/machines', { name, provider: 'redfish', image_url: 'ftp://x/y.iso' });
    expect(bad.status).toBe(400);
    expect(bad.body.fields).toHaveProperty('image_url');
    expect(await api.orm.em.fork().count(Machine, { name })).toBe(0);
  });

  it('refuses VM power and disk operations on a bare-metal machine', async () => {
    const id = crypto.randomUUID();
    const em = api.orm.em.fork();
    em.create(Machine, {
      id,
      name: unique('bm'),
      kind: 'baremetal',
      provider: 'redfish',
      cpu: 1,
      memoryMb: 1,
      diskGb: 1,
      state: 'ready',
      providerId: crypto.randomUUID(),
      metadataToken: 'x'.repeat(32),
    });
    await em.flush();
    for (const path of [`/api/v1/machines/${id}/actions/stop`, `/api/v1/machines/${id}/disks`]) {
      const res = await post(path, path.endsWith('disks') ? { size_gb: 1 } : undefined);
      expect({ path, status: res.status, error: res.body.error }).toEqual({ path, status: 422, error: 'unprocessable' });
      expect(res.body.detail).toContain('/api/v1/hosts/');
    }
  });
});

describe("a machine's drift policy", () => {
  it('is taken on create, shown, changed and cleared with PATCH, and unknown values are a 400 naming the field', async () => {
    const m = await readyMachine({ drift_policy: 'remediate' });
    expect((await get(`/api/v1/machines/${m.id}`)).body.drift_policy).toBe('remediate');
    const patch = (body: unknown) => http(api.url, 'PATCH', `/api/v1/machines/${m.id}`, { token: operator, body });
    expect((await patch({ drift_policy: 'observe' })).body.drift_policy).toBe('observe');
    expect((await patch({ drift_policy: null })).body.drift_policy).toBeNull();
    const bad = await patch({ drift_policy: 'always' });
    expect([bad.status, Object.keys(bad.body.fields ?? {})]).toEqual([400, ['drift_policy']]);
    const badCreate = await post('/api/v1/machines', { name: unique('vm'), provider: 'dryrun', cpu: 1, memory_mb: 512, disk_gb: 5, drift_policy: 'fix' });
    expect([badCreate.status, Object.keys(badCreate.body.fields ?? {})]).toEqual([400, ['drift_policy']]);
    expect((await get(`/api/v1/machines/${m.id}`)).body.drift_policy).toBeNull();
  });
});
