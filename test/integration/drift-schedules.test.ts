// The observers' Temporal Schedules on the real Temporal server: applying them from several
// workers at once and again leaves one schedule per target, with overlap SKIP, a catch-up window
// of one interval and jitter; a changed interval updates the existing schedule.
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { Client, Connection, ScheduleOverlapPolicy } from '@temporalio/client';
import type { HangarConfig } from '../../domain/config.ts';
import { applySchedules, observerSchedules } from '../../workers/schedules.ts';
import { capturingLogger, startInProcessWorker, testConfig } from '../support/harness.ts';

let connection: Connection;
let client: Client;
let config: HangarConfig;

beforeAll(async () => {
  config = testConfig({ HANGAR_DRIFT_INVENTORY_INTERVAL_SEC: '30', HANGAR_DRIFT_REDFISH_INTERVAL_SEC: '20' });
  connection = await Connection.connect({ address: config.temporal.address });
  client = new Client({ connection, namespace: config.temporal.namespace });
});
afterAll(async () => {
  for (const s of observerSchedules(config))
    await client.schedule
      .getHandle(s.scheduleId)
      .delete()
      .catch(() => undefined);
  await connection?.close();
});

/** Schedule ids in the namespace that belong to this test's task queue. */
async function schedulesOfThisQueue(): Promise<string[]> {
  const ids: string[] = [];
  for await (const s of client.schedule.list()) if (s.scheduleId.startsWith(`${config.temporal.taskQueue}/`)) ids.push(s.scheduleId);
  return ids.sort();
}

describe('observer schedules', () => {
  it('are created once however many workers apply them, with SKIP, a one-interval catch-up window and jitter', async () => {
    const results = await Promise.all([applySchedules(client, config), applySchedules(client, config), applySchedules(client, config)]);
    const ids = observerSchedules(config).map((s) => s.scheduleId);
    // The inventory observer, one per enabled provider target (dry-run and the local QEMU host here), one per BMC group.
    expect(observerSchedules(config).map((s) => s.target)).toEqual(['inventory', 'qemu/local', 'dryrun', 'redfish:default']);
    for (const each of ids) expect(results.map((r) => r[each]).sort()).toEqual(['created', 'updated', 'updated']);
    expect(await applySchedules(client, config)).toEqual(Object.fromEntries(ids.map((each) => [each, 'updated'])));

    const id = ids[0]!;
    const redfish = ids.at(-1)!;
    const described = await client.schedule.getHandle(id).describe();
    expect(described.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
    expect(described.policies.catchupWindow).toBe(30_000);
    expect(described.spec.intervals).toEqual([expect.objectContaining({ every: 30_000 })]);
    expect(described.spec.jitter).toBe(3_000);
    expect(described.action).toMatchObject({ workflowType: 'reconcileInventory', taskQueue: config.temporal.taskQueue, args: [{ policy: 'observe' }] });
    const bmc = await client.schedule.getHandle(redfish).describe();
    expect(bmc.policies).toMatchObject({ overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: 20_000 });
    expect(bmc.action).toMatchObject({ workflowType: 'reconcileHosts', args: [{ group: 'default', groups: ['default'], policy: 'observe' }] });

    // The list is eventually consistent: wait until it shows the schedules, then count.
    let listed: string[] = [];
    for (let i = 0; i < 50 && listed.length < ids.length; i++) {
      listed = await schedulesOfThisQueue();
      if (listed.length < ids.length) await new Promise((r) => setTimeout(r, 200));
    }
    expect(listed).toEqual([...ids].sort());
  });

  it('one schedule per configured BMC group, each scanning its own group', () => {
    const grouped = { ...config, drift: { ...config.drift, redfishGroups: 'rack-1,rack-2,rack-1' } };
    const redfish = observerSchedules(grouped).filter((s) => s.target.startsWith('redfish:'));
    expect(redfish.map((s) => s.target)).toEqual(['redfish:default', 'redfish:rack-1', 'redfish:rack-2']);
    expect(redfish[1]!.options.action).toMatchObject({ args: [{ group: 'rack-1', groups: ['default', 'rack-1', 'rack-2'] }] });
  });

  it('two workers starting on one task queue leave one schedule, which they log', async () => {
    const workerConfig = testConfig({ HANGAR_DRIFT_SCHEDULES: 'true', HANGAR_DRIFT_INVENTORY_INTERVAL_SEC: '45' });
    const logs = capturingLogger('info');
    const workers = await Promise.all([startInProcessWorker(workerConfig, logs.logger), startInProcessWorker(workerConfig, logs.logger)]);
    try {
      const id = observerSchedules(workerConfig)[0]!.scheduleId;
      const applied = logs.lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'observer schedules applied');
      expect(applied.map((l) => l.schedules[id!]).sort()).toEqual(['created', 'updated']);
      expect((await client.schedule.getHandle(id!).describe()).spec.intervals).toEqual([expect.objectContaining({ every: 45_000 })]);
    } finally {
      await Promise.all(workers.map((w) => w.shutdown()));
      for (const s of observerSchedules(workerConfig))
        await client.schedule
          .getHandle(s.scheduleId)
          .delete()
          .catch(() => undefined);
    }
  });

  it('updates the existing schedule when the interval or policy changes', async () => {
    const changed = { ...config, drift: { ...config.drift, inventoryIntervalSec: 120, inventoryPolicy: 'remediate' as const } };
    const [id] = observerSchedules(changed).map((s) => s.scheduleId);
    expect(await applySchedules(client, changed)).toMatchObject({ [id!]: 'updated' });
    const described = await client.schedule.getHandle(id!).describe();
    expect(described.spec.intervals).toEqual([expect.objectContaining({ every: 120_000 })]);
    expect(described.policies.catchupWindow).toBe(120_000);
    expect(described.action).toMatchObject({ args: [{ policy: 'remediate' }] });
  });
});
