// What the observers' schedules actually run, on the real Temporal server with a 2 s interval: a
// paused schedule starts nothing however many intervals pass (and runs again once unpaused), and a
// schedule whose workers were down for several intervals runs once when a worker comes back, not
// once per missed tick.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, Connection } from '@temporalio/client';
import type { HangarConfig } from '../../domain/config.ts';
import type { RunningWorker } from '../../workers/worker.ts';
import { applySchedules, observerSchedules } from '../../workers/schedules.ts';
import { startInProcessWorker, testConfig, waitFor } from '../support/harness.ts';

let connection: Connection;
let client: Client;
const configs: HangarConfig[] = [];
const workers: RunningWorker[] = [];

/** A fresh task queue whose inventory observer ticks every 2 s (the others not within the test). */
function shortConfig(): HangarConfig {
  const base = testConfig();
  const day = 86_400;
  const config = {
    ...base,
    drift: { ...base.drift, inventoryIntervalSec: 2, redfishIntervalSec: day, qemuIntervalSec: day, proxmoxIntervalSec: day, dryrunIntervalSec: day },
  };
  configs.push(config);
  return config;
}
const inventorySchedule = (config: HangarConfig) => client.schedule.getHandle(observerSchedules(config).find((s) => s.target === 'inventory')!.scheduleId);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  const config = testConfig();
  connection = await Connection.connect({ address: config.temporal.address });
  client = new Client({ connection, namespace: config.temporal.namespace });
});
afterAll(async () => {
  await Promise.all(workers.map((w) => w.shutdown()));
  for (const config of configs)
    for (const s of observerSchedules(config))
      await client.schedule
        .getHandle(s.scheduleId)
        .delete()
        .catch(() => undefined);
  await connection?.close();
});

describe('observer schedule runs', () => {
  it('a paused schedule runs nothing over several intervals, and runs again when unpaused', async () => {
    const config = shortConfig();
    workers.push(await startInProcessWorker(config));
    await applySchedules(client, config);
    const schedule = inventorySchedule(config);
    await schedule.pause('paused by the test');
    const before = await schedule.describe();
    await sleep(7_000);
    const after = await schedule.describe();
    expect(after.state.paused).toBe(true);
    expect(after.info.numActionsTaken).toBe(before.info.numActionsTaken);
    expect(after.info.recentActions).toEqual(before.info.recentActions);

    await schedule.unpause('unpaused by the test');
    await waitFor('a run once unpaused', async () => (await schedule.describe()).info.numActionsTaken > before.info.numActionsTaken, 30_000);
  }, 60_000);

  it('after workers were down for several intervals, one run happens when a worker returns', async () => {
    const config = shortConfig();
    await applySchedules(client, config);
    const schedule = inventorySchedule(config);
    // No worker polls: the first tick's run waits in the queue and every later tick is skipped.
    const down = await waitFor(
      'several missed intervals',
      async () => {
        const d = await schedule.describe();
        return d.info.numActionsSkippedOverlap >= 3 ? d : null;
      },
      30_000,
    );
    expect(down.info.numActionsTaken).toBe(1);
    expect(down.info.runningActions).toHaveLength(1);
    const waiting = down.info.recentActions[0]!.action.workflow.workflowId;

    const back = new Date();
    workers.push(await startInProcessWorker(config));
    await client.workflow.getHandle(waiting).result();
    const after = await schedule.describe();
    // Everything started before the worker returned is that one run: no burst of catch-up runs.
    expect(after.info.recentActions.filter((a) => a.takenAt < back).map((a) => a.action.workflow.workflowId)).toEqual([waiting]);
  }, 60_000);
});
