// `hangar drift` and `hangar schedules` as a user runs them: the real launcher against a real API
// and the real Temporal server (the observer schedule applied as a worker would, no worker needed).
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { ScheduleNotFoundError } from '@temporalio/client';
import { applyScan } from '../../db/repositories/drift.ts';
import { applySchedules, observerSchedules } from '../../workers/schedules.ts';
import { waitFor } from '../support/harness.ts';
import { useCliSuite, tableRows } from '../support/hangar-cli.ts';

// A long interval: the schedule runs only when the test triggers it.
const cli = useCliSuite({ beforeAll, afterAll }, { config: { HANGAR_DRIFT_INVENTORY_INTERVAL_SEC: '3600' } });
const { ok, json, fails } = cli;
const SLOW = 300_000;
let scheduleId: string;

beforeAll(async () => {
  await applySchedules(cli.api.temporal, cli.api.config);
  scheduleId = observerSchedules(cli.api.config)[0]!.scheduleId;
}, 60_000);
cli.beforeClose(async () => {
  if (scheduleId)
    await cli.api.temporal.schedule
      .getHandle(scheduleId)
      .delete()
      .catch((err: unknown) => {
        if (!(err instanceof ScheduleNotFoundError)) throw err;
      });
});

/** An unmanaged and a power_mismatch finding under a fresh provider name. */
async function seedFindings() {
  const provider = `cli${randomUUID().slice(0, 8)}`;
  const managed = randomUUID();
  const stray = randomUUID();
  await applyScan(cli.api.orm.em, {
    target: `cli-${provider}`,
    provider,
    complete: true,
    differences: [
      {
        ref: { type: 'machine', id: managed, name: 'vm-a' },
        kind: 'power_mismatch',
        desired: { power: 'running' },
        observed: { power: 'stopped' },
        createdByHangar: true,
      },
      { ref: { type: 'qemu_instance', id: stray, name: 'by-hand' }, kind: 'unmanaged', desired: null, observed: {}, createdByHangar: false },
    ],
    judged: [],
  });
  return { provider, managed, stray };
}

describe('hangar drift', () => {
  it(
    'lists findings with filters, gets one and ignores it',
    async () => {
      const { provider, managed, stray } = await seedFindings();
      const all = await json(['drift', 'list', '--provider', provider]);
      expect(all.map((f: { kind: string }) => f.kind).sort()).toEqual(['power_mismatch', 'unmanaged']);
      const [unmanaged] = await json(['drift', 'list', '--provider', provider, '--kind', 'unmanaged', '--state', 'open']);
      expect(unmanaged).toMatchObject({ resource_id: stray, state: 'open' });
      expect(await json(['drift', 'list', '--resource', managed])).toEqual([expect.objectContaining({ kind: 'power_mismatch' })]);
      const table = (await ok(['drift', 'list', '--provider', provider])).stdout;
      expect(tableRows(table)).toHaveLength(2);
      expect(table).toContain('by-hand');
      expect(await json(['drift', 'get', unmanaged.id])).toEqual(unmanaged);
      expect((await ok(['drift', 'ignore', unmanaged.id])).stdout).toContain(`ignored unmanaged finding ${unmanaged.id}`);
      expect(await json(['drift', 'list', '--provider', provider, '--state', 'ignored'])).toEqual([expect.objectContaining({ id: unmanaged.id })]);
      expect(await fails(2, ['drift', 'list', '--kind', 'gone'])).toContain('--kind');
      expect(await fails(1, ['drift', 'get', randomUUID()])).toContain('error: not_found');
    },
    SLOW,
  );
});

describe('hangar schedules', () => {
  it(
    'lists the observer schedule, pauses, unpauses and triggers it',
    async () => {
      expect(await json(['schedules', 'list'])).toEqual([expect.objectContaining({ id: scheduleId, target: 'inventory', paused: false })]);
      expect(await json(['schedules', 'pause', 'inventory'])).toMatchObject({ id: scheduleId, paused: true });
      const [row] = tableRows((await ok(['schedules', 'list'])).stdout);
      expect(row).toContain('inventory');
      expect(row).toContain('true');
      expect((await ok(['schedules', 'unpause', scheduleId])).stdout).toContain(`unpaused schedule ${scheduleId}`);
      expect((await cli.api.temporal.schedule.getHandle(scheduleId).describe()).state.paused).toBe(false);
      expect((await ok(['schedules', 'trigger', 'inventory'])).stdout).toContain(`triggered schedule ${scheduleId}`);
      const described = await waitFor('the triggered run', async () => {
        const d = await cli.api.temporal.schedule.getHandle(scheduleId).describe();
        return d.info.recentActions.length ? d : null;
      });
      expect(described.info.recentActions[0]!.action.workflow.workflowId).toContain('reconcile');
      expect(await fails(1, ['schedules', 'pause', 'no-such-target'])).toContain('error: not_found');
    },
    SLOW,
  );
});
