// The Redfish observer end to end: the real API and worker, PostgreSQL, Temporal and sushy-tools.
// Hosts are registered through the API (inspected through the emulator); the out-of-band changes
// are made through the emulator's own Redfish API, never through Hangar. Each test's hosts sit in
// their own BMC group (a `bmc-group:` tag), so hosts of other suites in the same database are not
// scanned here.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { RunningWorker } from '../../workers/worker.ts';
import { Host, Machine } from '../../db/entities/index.ts';
import { redfishTarget } from '../../domain/host-drift.ts';
import { reconcileWorkflowId } from '../../workflows/contracts.ts';
import {
  createToken,
  http as request,
  startApi,
  startInProcessWorker,
  testConfig,
  testEnv,
  waitFor,
  waitForOperation,
  type TestApi,
} from '../support/harness.ts';
import { freePort, redfishGet, serveImage, startSushy, type ImageServer, type SushyEmulator } from '../support/sushy.ts';
import { unique } from '../support/api-fixture.ts';
import { recordHistory } from '../support/histories.ts';

const env = testEnv({ HANGAR_REDFISH_POLL_INTERVAL_MS: '200' });
let api: TestApi;
let worker: RunningWorker;
let operator: string;
let bmc: SushyEmulator;
let images: ImageServer;

beforeAll(async () => {
  [bmc, images] = await Promise.all([
    startSushy({ systems: [{ name: 'drift-on' }, { name: 'drift-policy' }, { name: 'drift-media' }, { name: 'drift-lost' }] }),
    serveImage(),
  ]);
  const config = testConfig(env);
  api = await startApi(config);
  worker = await startInProcessWorker(config);
  operator = await createToken(api.orm, 'operator');
}, 120_000);

afterAll(async () => {
  await worker?.shutdown();
  await api?.close();
  await Promise.all([bmc?.stop(), images?.close()]);
});

const get = (path: string) => request(api.url, 'GET', path, { token: operator });
const post = (path: string, body?: unknown) => request(api.url, 'POST', path, { token: operator, body });
const patch = (path: string, body: unknown) => request(api.url, 'PATCH', path, { token: operator, body });

/** The emulator's own Redfish API: how a person at the BMC's web page changes the hardware. */
async function outOfBand(path: string, body: unknown): Promise<void> {
  const res = await fetch(`${bmc.url}${path}`, {
    method: 'POST',
    headers: { Authorization: `Basic ${Buffer.from(`${bmc.username}:${bmc.password}`).toString('base64')}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBeLessThan(300);
}
const powerOf = async (system: string) => (await redfishGet(bmc, system)).PowerState;
/** The emulator applies a power change 1–11 s later, like real hardware: wait until it reports it. */
async function setPower(system: string, resetType: 'On' | 'ForceOff') {
  const want = resetType === 'On' ? 'On' : 'Off';
  if ((await powerOf(system)) === want) return;
  await outOfBand(`${system}/Actions/ComputerSystem.Reset`, { ResetType: resetType });
  await waitFor(`the emulator to report ${want}`, async () => (await powerOf(system)) === want, 30_000, 250);
}

const systemPath = (name: string) => bmc.systems.find((s) => s.name === name)!.path;
const address = (path: string, port = new URL(bmc.url).port) => `redfish+http://127.0.0.1:${port}${path}`;

/** Registers (and inspects) a host in `group`; `provisioned` makes it carry a machine, as provisioning leaves it. */
async function host(system: string, group: string, state: 'available' | 'provisioned', extra: Record<string, unknown> = {}) {
  const res = await post('/api/v1/hosts', {
    name: unique('drift-bm'),
    bmc_address: address(systemPath(system)),
    username: bmc.username,
    password: bmc.password,
    tags: [`bmc-group:${group}`],
    ...extra,
  });
  expect(res.status).toBe(202);
  expect((await waitForOperation(api, operator, res.body.operation.id)).status).toBe('completed');
  const id: string = res.body.host.id;
  if (state === 'provisioned') {
    const em = api.orm.em.fork();
    const machine = em.create(Machine, {
      id: randomUUID(),
      name: unique('drift-metal'),
      kind: 'baremetal',
      provider: 'redfish',
      providerId: id,
      cpu: 1,
      memoryMb: 512,
      diskGb: 1,
      metadataToken: 't',
      state: 'ready',
    });
    await em.flush();
    await em.nativeUpdate(Host, { id }, { state: 'provisioned', claimedBy: machine.id, claimedAt: new Date() });
  }
  return id;
}

/** One observer run for the group, as its schedule starts it. */
async function scan(group: string, groups: string[], policy: 'observe' | 'remediate' = 'observe') {
  const workflowId = `${api.config.temporal.taskQueue}/${reconcileWorkflowId(redfishTarget(group))}-${randomUUID().slice(0, 8)}`;
  const result = await api.temporal.workflow.execute('reconcileHosts', {
    taskQueue: api.config.temporal.taskQueue,
    workflowId,
    args: [{ group, groups, policy }],
  });
  return { result, workflowId };
}

async function findings(hostId: string, state = 'open') {
  return (await get(`/api/v1/drift?resource_id=${hostId}&state=${state}`)).body.items as {
    id: string;
    kind: string;
    action_taken: string | null;
    observed: any;
  }[];
}

const conditionOf = (h: { conditions: { type: string; status: string; reason: string }[] }) => h.conditions.find((c) => c.type === 'bmc_reachable');

describe('the Redfish observer against sushy-tools', () => {
  it('reports a provisioned host powered off out of band (observe does not undo it); remediate powers it on through the hostPower operation', async () => {
    const group = `g${randomUUID().slice(0, 8)}`;
    const sys = systemPath('drift-on');
    await setPower(sys, 'On');
    const id = await host('drift-on', group, 'provisioned');

    const clean = await scan(group, [group]);
    expect(clean.result).toMatchObject({ complete: true, differences: 0, opened: 0, operations: [] });
    expect(await findings(id)).toEqual([]);

    await setPower(sys, 'ForceOff');
    const seen = await scan(group, [group]);
    expect(seen.result).toMatchObject({ complete: true, opened: 1, operations: [] });
    const [finding] = await findings(id);
    expect(finding).toMatchObject({ kind: 'power_mismatch', action_taken: null, observed: { power: 'stopped', bmc_power_state: 'Off' } });
    // Observe: reported, not undone; the host stays provisioned and shows the finding.
    expect(await powerOf(sys)).toBe('Off');
    const shown = (await get(`/api/v1/hosts/${id}`)).body;
    expect(shown).toMatchObject({ state: 'provisioned', power_state: 'Off', drift_policy: null });
    expect(shown.drift.map((f: { id: string }) => f.id)).toEqual([finding!.id]);
    // A second scan of the same difference opens nothing new.
    expect((await scan(group, [group])).result).toMatchObject({ opened: 0, resolved: 0 });

    const fixing = await post(`/api/v1/drift/${finding!.id}/actions/remediate`);
    expect(fixing.status).toBe(202);
    expect(fixing.body.operation).toMatchObject({ kind: 'power-on', workflow_id: `host-power/${id}` });
    expect(fixing.body.finding.action_taken).toBe(`power_on_host (operation ${fixing.body.operation.id})`);
    expect((await waitForOperation(api, operator, fixing.body.operation.id)).status).toBe('completed');
    expect(await powerOf(sys)).toBe('On');

    expect((await scan(group, [group])).result).toMatchObject({ complete: true, resolved: 1 });
    expect(await findings(id)).toEqual([]);
    expect((await get(`/api/v1/drift/${finding!.id}`)).body).toMatchObject({ state: 'resolved', action_taken: expect.stringContaining('power_on_host') });
    // A resolved finding has nothing left to remediate.
    expect((await post(`/api/v1/drift/${finding!.id}/actions/remediate`)).status).toBe(409);

    const audit = (await get(`/api/v1/audit?resource_id=${finding!.id}`)).body.items.map((e: { action: string }) => e.action).sort();
    expect(audit).toEqual(expect.arrayContaining(['drift.open', 'drift.remediate', 'drift.resolve']));
  });

  it("a host's drift_policy remediate overrides the provider's observe: the scan itself starts the power-on", async () => {
    const group = `g${randomUUID().slice(0, 8)}`;
    const sys = systemPath('drift-policy');
    await setPower(sys, 'On');
    const id = await host('drift-policy', group, 'provisioned', { drift_policy: 'observe' });
    expect((await get(`/api/v1/hosts/${id}`)).body.drift_policy).toBe('observe');
    const changed = await patch(`/api/v1/hosts/${id}`, { drift_policy: 'remediate' });
    expect(changed.status).toBe(200);
    expect(changed.body.drift_policy).toBe('remediate');
    expect((await patch(`/api/v1/hosts/${id}`, { drift_policy: 'undo' })).status).toBe(400);

    await setPower(sys, 'ForceOff');
    const run = await scan(group, [group], 'observe');
    recordHistory({ address: api.config.temporal.address, namespace: api.config.temporal.namespace }, run.workflowId, 'reconcile-hosts-completed');
    expect(run.result.operations).toHaveLength(1);
    expect((await waitForOperation(api, operator, run.result.operations[0]!)).status).toBe('completed');
    expect(await powerOf(sys)).toBe('On');
    const [finding] = await findings(id);
    expect(finding?.action_taken).toBe(`power_on_host (operation ${run.result.operations[0]})`);
    const audit = (await get(`/api/v1/audit?resource_id=${finding!.id}`)).body.items;
    expect(audit).toEqual(expect.arrayContaining([expect.objectContaining({ action: 'drift.remediate', actor: `observer:${redfishTarget(group)}` })]));
    expect((await scan(group, [group], 'observe')).result).toMatchObject({ resolved: 1, operations: [] });
  });

  it('reports virtual media left in an available host, and re-inserts or ejects nothing', async () => {
    const group = `g${randomUUID().slice(0, 8)}`;
    const sys = systemPath('drift-media');
    const id = await host('drift-media', group, 'available');
    await outOfBand(`${sys}/VirtualMedia/Cd/Actions/VirtualMedia.InsertMedia`, { Image: images.url('left-behind.iso'), Inserted: true, WriteProtected: true });

    expect((await scan(group, [group], 'remediate')).result).toMatchObject({ opened: 1, operations: [] });
    const [finding] = await findings(id);
    expect(finding).toMatchObject({ kind: 'config_mismatch', observed: { virtual_media: 'inserted', image_name: 'left-behind.iso' } });
    expect((await redfishGet(bmc, `${sys}/VirtualMedia/Cd`)).Inserted).toBe(true);
    const refused = await post(`/api/v1/drift/${finding!.id}/actions/remediate`);
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toContain('no remediation');
  });

  it('an unreachable BMC is an unreachable finding and a condition, never a state change; the host is left unjudged', async () => {
    const group = `g${randomUUID().slice(0, 8)}`;
    const sys = systemPath('drift-lost');
    await setPower(sys, 'On');
    const id = await host('drift-lost', group, 'provisioned');
    await setPower(sys, 'ForceOff');
    await scan(group, [group]);
    expect((await findings(id)).map((f) => f.kind)).toEqual(['power_mismatch']);

    // The BMC stops answering (a closed port), and meanwhile someone powers the host back on.
    const closed = await freePort();
    expect((await patch(`/api/v1/hosts/${id}`, { bmc_address: address(sys, String(closed)) })).status).toBe(200);
    await setPower(sys, 'On');
    const lost = await scan(group, [group]);
    expect(lost.result).toMatchObject({ complete: false, opened: 1, resolved: 0 });
    expect((await findings(id)).map((f) => f.kind).sort()).toEqual(['power_mismatch', 'unreachable']);
    const shown = (await get(`/api/v1/hosts/${id}`)).body;
    expect(shown.state).toBe('provisioned');
    expect(conditionOf(shown)).toMatchObject({ status: 'False', reason: 'Unreachable' });

    const metrics = await (await fetch(`${api.url}/metrics`)).text();
    const target = redfishTarget(group);
    expect(Number(new RegExp(`hangar_drift_scan_failures_total\\{target="${target}",provider="redfish"\\} (\\d+)`).exec(metrics)?.[1])).toBe(1);
    expect(metrics).toMatch(new RegExp(`hangar_drift_scan_duration_seconds\\{target="${target}",provider="redfish"\\} [0-9.e+-]+`));
    expect(metrics).toContain(`hangar_drift_open{kind="unreachable",provider="redfish"}`);

    // Reachable again: judged again, both findings resolve and the condition recovers.
    expect((await patch(`/api/v1/hosts/${id}`, { bmc_address: address(sys) })).status).toBe(200);
    expect((await scan(group, [group])).result).toMatchObject({ complete: true, resolved: 2 });
    expect(await findings(id)).toEqual([]);
    const back = (await get(`/api/v1/hosts/${id}`)).body;
    expect(back.state).toBe('provisioned');
    expect(conditionOf(back)).toMatchObject({ status: 'True' });
  });

  it('scans only the hosts of its group: a host tagged for another configured group is not judged', async () => {
    const [mine, other] = [`g${randomUUID().slice(0, 8)}`, `g${randomUUID().slice(0, 8)}`];
    const sys = systemPath('drift-on');
    await setPower(sys, 'ForceOff');
    const id = await host('drift-on', other, 'provisioned');
    expect((await scan(mine, [mine, other])).result).toMatchObject({ differences: 0 });
    expect(await findings(id)).toEqual([]);
    expect((await scan(other, [mine, other])).result).toMatchObject({ opened: 1 });
    await setPower(sys, 'On');
  });
});
