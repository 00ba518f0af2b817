// The Proxmox observer through the whole stack: machines provisioned through the real API and
// worker (Temporal, PostgreSQL) on the Proxmox VE simulator, changed behind Hangar's back with the
// simulator's out-of-band operations, then scanned by running reconcileMachines directly (the
// schedule's workflow, without waiting for a tick). Missing after two complete scans only, a
// failing node marks nothing missing, unmanaged VMs adopted as machines, cores changed out of band,
// and orphaned Hangar ISOs removed under `remediate` while other ISOs are never touched.
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { DriftPolicy } from '../../domain/drift.ts';
import { cidataIsoName, MACHINE_MARKER, markerValue } from '../../providers/proxmox/markers.ts';
import { hypervisorTarget } from '../../workers/schedules.ts';
import { startWorker, type RunningWorker } from '../../workers/worker.ts';
import type { WorkflowTypes } from '../../workflows/contracts.ts';
import { startProxmoxSimulator, type ProxmoxSimulator } from '../fakes/proxmox/simulator.ts';
import { unique } from '../support/api-fixture.ts';
import { createToken, http, startApi, testConfig, waitForOperation, type TestApi } from '../support/harness.ts';
import { recordHistory } from '../support/histories.ts';
import { machineVms, proxmoxEnv, writeQcow2, writeSimFiles, type SimFiles } from '../support/proxmox-sim.ts';

let sim: ProxmoxSimulator;
let files: SimFiles;
let dir = '';
let api: TestApi;
let worker: RunningWorker;
let operator = '';
let target = '';
/** A template per node: local storage cannot clone across nodes. */
const templates: Record<string, string> = {};

const call = (method: string, path: string, body?: unknown) => http(api.url, method, path, { token: operator, ...(body !== undefined ? { body } : {}) });

interface Finding {
  id: string;
  kind: string;
  state: string;
  resource_type: string;
  resource_id: string;
  resource_name: string;
  desired: Record<string, unknown> | null;
  observed: Record<string, unknown> | null;
  action_taken: string | null;
}

/** One observer run, as the schedule would start it. */
async function scan(policy: DriftPolicy = 'observe') {
  return api.temporal.workflow.execute<WorkflowTypes['reconcileMachines']>('reconcileMachines', {
    taskQueue: api.config.temporal.taskQueue,
    workflowId: `test-scan/${randomUUID()}`,
    args: [{ provider: 'proxmox', target, policy }],
  });
}

async function findings(query: Record<string, string> = {}): Promise<Finding[]> {
  const res = await call('GET', `/api/v1/drift?${new URLSearchParams({ provider: 'proxmox', page_size: '200', ...query })}`);
  expect(res.status).toBe(200);
  return res.body.items;
}
const openFor = async (resourceId: string) => findings({ state: 'open', resource_id: resourceId });

async function provision(node: string): Promise<{ id: string; name: string; vmid: number }> {
  const name = unique('drift').toLowerCase().slice(0, 40).replace(/-+$/, '');
  const res = await call('POST', '/api/v1/machines', {
    name,
    provider: 'proxmox',
    template: templates[node],
    node,
    cpu: 2,
    memory_mb: 1024,
    disk_gb: 4,
    wait_for_phone_home: false,
  });
  expect(res.status).toBe(202);
  const op = await waitForOperation(api, operator, res.body.operation.id, 120_000);
  expect({ status: op.status, error: op.error }).toEqual({ status: 'completed', error: null });
  const [vm] = machineVms(sim, res.body.machine.id);
  return { id: res.body.machine.id, name, vmid: vm!.vmid };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hangar-pve-drift-'));
  const image = join(dir, 'tiny.qcow2');
  writeQcow2(image, 2 * 1024 ** 3);
  sim = await startProxmoxSimulator({ nodes: ['pve1', 'pve2'], taskDurationMs: 20, authFailureDelayMs: 20, seed: 23 });
  files = writeSimFiles(sim);
  const env = { HANGAR_TASK_QUEUE: `pve-drift-${randomUUID().slice(0, 8)}`, ...proxmoxEnv(sim, files, 'pve1'), HANGAR_PROXMOX_NODES: 'pve1,pve2' };
  api = await startApi(testConfig(env));
  worker = await startWorker(testConfig(env), pino({ level: 'silent' }));
  operator = await createToken(api.orm, 'operator');
  target = hypervisorTarget('proxmox', api.config);
  for (const node of ['pve1', 'pve2']) {
    const tpl = await call('POST', '/api/v1/templates', { provider: 'proxmox', name: unique(`tiny-${node}`).toLowerCase(), image, node, memory_mb: 1024 });
    expect(tpl.status).toBe(202);
    const op = await waitForOperation(api, operator, tpl.body.operation.id, 120_000);
    expect(op.status).toBe('completed');
    templates[node] = tpl.body.template.name;
  }
}, 180_000);

afterAll(async () => {
  await worker?.shutdown();
  await api?.close();
  await sim?.close();
  files?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the Proxmox observer', () => {
  it('reports a VM destroyed out of band as missing only after two complete scans', async () => {
    const m = await provision('pve1');
    const first = await scan();
    expect(first.complete).toBe(true);
    expect(await openFor(m.id)).toEqual([]);

    sim.outOfBand.destroyVm(m.vmid);
    expect((await scan()).complete).toBe(true);
    expect(await openFor(m.id)).toEqual([]);
    await scan();
    const [missing] = await openFor(m.id);
    expect(missing).toMatchObject({ kind: 'missing', resource_type: 'machine', resource_name: m.name, desired: { exists: true }, observed: { exists: false } });
  }, 180_000);

  it('marks nothing missing while a node fails to list, and the finding count stays the same', async () => {
    const m = await provision('pve2');
    await scan();
    const before = (await findings({ state: 'open' })).map((f) => f.id).sort();
    sim.setFaults({ rejectEndpoint: { 'GET /nodes/pve2/qemu': '595 Connection refused' } });
    try {
      for (let i = 0; i < 3; i++) {
        const partial = await scan();
        expect({ complete: partial.complete, opened: partial.opened }).toEqual({ complete: false, opened: 0 });
      }
      expect(await openFor(m.id)).toEqual([]);
      expect((await findings({ state: 'open' })).map((f) => f.id).sort()).toEqual(before);
    } finally {
      sim.setFaults({});
    }
    // The node answers again: its VM is there, and two partial scans left no absence behind.
    expect((await scan()).complete).toBe(true);
    await scan();
    expect(await openFor(m.id)).toEqual([]);
  }, 180_000);

  it('reports cores changed out of band as config_mismatch with desired and observed, resolved when set back', async () => {
    const m = await provision('pve1');
    sim.outOfBand.setConfig(m.vmid, { cores: 4 });
    await scan();
    const [mismatch] = await openFor(m.id);
    expect(mismatch).toMatchObject({ kind: 'config_mismatch', desired: { cpu: 2 }, observed: { cpu: 4 } });
    // Observe: Hangar reports, it does not reconfigure.
    expect(sim.vms.get(m.vmid)!.config.cores).toBe(4);
    sim.outOfBand.setConfig(m.vmid, { cores: 2 });
    await scan();
    expect(await openFor(m.id)).toEqual([]);
    const [resolved] = await findings({ state: 'resolved', resource_id: m.id, kind: 'config_mismatch' });
    expect(resolved?.id).toBe(mismatch!.id);
  }, 180_000);

  it('removes an orphaned Hangar ISO under remediate and never an ISO Hangar did not make', async () => {
    const orphan = sim.seedVolume('local', `iso/${cidataIsoName(randomUUID(), '0123456789abcdef')}`, 4096, { node: 'pve1' });
    const handMade = sim.seedVolume('local', 'iso/debian-13.iso', 4096, { node: 'pve1' });
    const lookalike = sim.seedVolume('local', 'iso/hangar-tools.iso', 4096, { node: 'pve2' });
    const exists = (volid: string) => [...sim.storage.values()].flat().some((v) => v.volid === volid);

    await scan('observe');
    const orphans = await findings({ state: 'open', kind: 'orphan' });
    const mine = orphans.find((f) => f.resource_id === `${target}/pve1/${orphan.volid}`);
    expect(mine).toMatchObject({ resource_type: 'iso', observed: { ref: `pve1/${orphan.volid}` } });
    expect(orphans.filter((f) => [handMade.volid, lookalike.volid].some((v) => f.resource_id.endsWith(v)))).toEqual([]);
    expect(exists(orphan.volid)).toBe(true);

    await scan('remediate');
    expect(exists(orphan.volid)).toBe(false);
    expect(exists(handMade.volid)).toBe(true);
    expect(exists(lookalike.volid)).toBe(true);
    await scan('remediate');
    const res = await call('GET', `/api/v1/drift/${mine!.id}`);
    expect(res.body).toMatchObject({ state: 'resolved', action_taken: 'delete_orphan' });
    expect(exists(handMade.volid) && exists(lookalike.volid)).toBe(true);
  }, 180_000);

  it('never deletes a Hangar-marked VM whose machine record is gone: remediate records the refusal and the scan still completes', async () => {
    const vm = await provision('pve1');
    // The record is gone behind Hangar's back; the VM still carries the marker.
    await api.orm.em.getConnection().execute(`update machine set state = 'deleted' where id = ?`, [vm.id]);
    const result = await scan('remediate');
    expect(result.complete).toBe(true);
    const [orphan] = (await findings({ state: 'open', kind: 'orphan' })).filter(
      (f) => f.resource_id.endsWith(`/${vm.vmid}`) || f.observed?.machine_id === vm.id,
    );
    expect(orphan).toMatchObject({ resource_type: 'instance', action_taken: 'delete_orphan_refused' });
    expect(machineVms(sim, vm.id)).toHaveLength(1);
  }, 180_000);
});

describe('adopting an unmanaged VM', () => {
  it('reports a VM without the marker as unmanaged; adopt makes it a machine and marks the VM; the next scan finds nothing', async () => {
    const vm = sim.seedVm({
      vmid: 4100,
      node: 'pve2',
      name: 'Legacy-DB',
      status: 'running',
      config: { cores: 3, memory: 1536, scsi0: 'local-lvm:6', net0: 'virtio,bridge=vmbr0', description: 'installed by hand' },
    });
    await scan();
    const [unmanaged] = await findings({ state: 'open', kind: 'unmanaged', resource_id: `${target}/4100` });
    expect(unmanaged).toMatchObject({
      resource_type: 'vm',
      resource_name: 'Legacy-DB',
      observed: { provider_id: '4100', location: 'pve2', power: 'running', cpu: 3, memory_mb: 1536, disk_gb: 6, nics: 1 },
    });

    // Only an open unmanaged VM finding can be adopted.
    const others = await findings({ state: 'open' });
    const notUnmanaged = others.find((f) => f.kind !== 'unmanaged');
    if (notUnmanaged) expect((await call('POST', `/api/v1/drift/${notUnmanaged.id}/actions/adopt`)).status).toBe(409);
    expect((await call('POST', `/api/v1/drift/${randomUUID()}/actions/adopt`)).status).toBe(404);

    const res = await call('POST', `/api/v1/drift/${unmanaged!.id}/actions/adopt`);
    expect(res.status).toBe(202);
    expect(res.body.machine).toMatchObject({ name: 'legacy-db', provider: 'proxmox', state: 'provisioning' });
    const op = await waitForOperation(api, operator, res.body.operation.id, 60_000);
    expect({ status: op.status, error: op.error }).toEqual({ status: 'completed', error: null });
    recordHistory(api.config.temporal, res.body.operation.workflow_id, 'adopt-vm-completed');

    const machineId = res.body.machine.id as string;
    const machine = await call('GET', `/api/v1/machines/${machineId}`);
    expect(machine.body).toMatchObject({
      name: 'legacy-db',
      provider: 'proxmox',
      state: 'ready',
      provider_id: '4100',
      cpu: 3,
      memory_mb: 1536,
      disk_gb: 6,
      power_state: 'running',
    });
    expect(machine.body.addresses).toEqual([]);
    const list = await call('GET', '/api/v1/machines?provider=proxmox&page_size=200');
    expect(list.body.items.map((m: { id: string }) => m.id)).toContain(machineId);

    // The VM carries Hangar's marker; its own description, settings and power are as they were.
    const after = sim.vms.get(vm.vmid)!;
    expect(markerValue(String(after.config.description), MACHINE_MARKER)).toBe(machineId);
    expect(String(after.config.description).startsWith('installed by hand')).toBe(true);
    expect({ cores: String(after.config.cores), memory: String(after.config.memory), status: after.status }).toEqual({
      cores: '3',
      memory: '1536',
      status: 'running',
    });

    const finding = await call('GET', `/api/v1/drift/${unmanaged!.id}`);
    expect(finding.body).toMatchObject({ state: 'resolved', action_taken: 'adopted' });
    expect((await call('POST', `/api/v1/drift/${unmanaged!.id}/actions/adopt`)).status).toBe(409);

    await scan();
    expect(await openFor(machineId)).toEqual([]);
    expect(await findings({ state: 'open', resource_id: `${target}/4100` })).toEqual([]);

    const audit = await api.orm.em
      .fork()
      .getConnection()
      .execute<{ action: string }[]>(`select action from audit_event where resource_id = ? order by at`, [unmanaged!.id]);
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(['drift.open', 'drift.adopt', 'drift.resolve']));
  }, 120_000);

  it('names a taken machine name or a VM someone else adopted meanwhile as a conflict', async () => {
    sim.seedVm({ vmid: 4200, node: 'pve1', name: 'legacy-db', config: { cores: 1, memory: 512, scsi0: 'local-lvm:2' } });
    await scan();
    const [unmanaged] = await findings({ state: 'open', kind: 'unmanaged', resource_id: `${target}/4200` });
    expect(unmanaged).toBeDefined();
    const taken = await call('POST', `/api/v1/drift/${unmanaged!.id}/actions/adopt`);
    expect(taken.status).toBe(409);
    expect(taken.body.fields).toEqual({ name: 'already exists' });
    const bad = await call('POST', `/api/v1/drift/${unmanaged!.id}/actions/adopt`, { name: 'Not A Hostname' });
    expect(bad.status).toBe(400);
    const ok = await call('POST', `/api/v1/drift/${unmanaged!.id}/actions/adopt`, { name: 'legacy-db-2' });
    expect(ok.status).toBe(202);
    const op = await waitForOperation(api, operator, ok.body.operation.id, 60_000);
    expect(op.status).toBe('completed');
    expect(sim.vms.get(4200)!.status).toBe('stopped');
    const machine = await call('GET', `/api/v1/machines/${ok.body.machine.id}`);
    expect(machine.body).toMatchObject({ state: 'ready', power_state: 'stopped' });
    // Stopped when adopted means stopped is what Hangar expects: no power finding.
    await scan();
    expect(await openFor(ok.body.machine.id)).toEqual([]);
  }, 120_000);
});
