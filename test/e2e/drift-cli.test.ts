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
const cli = useCliSuite(
  { beforeAll, afterAll },
  {
    config: {
      HANGAR_DRIFT_INVENTORY_INTERVAL_SEC: '3600',
      HANGAR_DRIFT_QEMU_INTERVAL_SEC: '3600',
      HANGAR_DRIFT_DRYRUN_INTERVAL_SEC: '3600',
      HANGAR_DRIFT_REDFISH_INTERVAL_SEC: '3600',
    },
  },
);
const { ok, json, fails, items } = cli;
const SLOW = 300_000;
let scheduleId: string;

beforeAll(async () => {
  await applySchedules(cli.api.temporal, cli.api.config);
  scheduleId = observerSchedules(cli.api.config)[0]!.scheduleId;
}, 60_000);
cli.beforeClose(async () => {
  for (const s of scheduleId ? observerSchedules(cli.api.config) : [])
    await cli.api.temporal.schedule
      .getHandle(s.scheduleId)
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
    'lists findings with filters, gets one, refuses to remediate what it may not fix, ignores one',
    async () => {
      const { provider, managed, stray } = await seedFindings();
      const all = await items(['drift', 'list', '--provider', provider]);
      expect(all.map((f: { kind: string }) => f.kind).sort()).toEqual(['power_mismatch', 'unmanaged']);
      const [unmanaged] = await items(['drift', 'list', '--provider', provider, '--kind', 'unmanaged', '--state', 'open']);
      expect(unmanaged).toMatchObject({ resource_id: stray, state: 'open' });
      expect(await items(['drift', 'list', '--resource', managed])).toEqual([expect.objectContaining({ kind: 'power_mismatch' })]);
      const table = (await ok(['drift', 'list', '--provider', provider])).stdout;
      expect(tableRows(table)).toHaveLength(2);
      expect(table).toContain('by-hand');
      expect(await json(['drift', 'get', unmanaged.id])).toEqual(unmanaged);
      expect((await ok(['drift', 'ignore', unmanaged.id])).stdout).toContain(`ignored unmanaged finding ${unmanaged.id}`);
      expect(await items(['drift', 'list', '--provider', provider, '--state', 'ignored'])).toEqual([expect.objectContaining({ id: unmanaged.id })]);
      // Nothing Hangar may do about what it did not create, nor for a machine that has no VM any more.
      expect(await fails(1, ['drift', 'remediate', unmanaged.id])).toContain('Hangar did not create it');
      const [mismatch] = await items(['drift', 'list', '--resource', managed]);
      expect(await fails(1, ['drift', 'remediate', mismatch.id])).toContain('has no VM to start');
      expect(await fails(2, ['drift', 'list', '--kind', 'gone'])).toContain('--kind');
      expect(await fails(1, ['drift', 'get', randomUUID()])).toContain('error: not_found');
    },
    SLOW,
  );
});

describe('hangar schedules', () => {
  it(
    'lists the observer schedules, pauses, unpauses, triggers and applies them',
    async () => {
      const listed = (await json(['schedules', 'list'])).items;
      expect(listed.map((s: { target: string }) => s.target)).toEqual(['inventory', 'qemu/local', 'dryrun', 'redfish:default']);
      expect(listed[0]).toEqual(expect.objectContaining({ id: scheduleId, target: 'inventory', paused: false }));
      // A target with a slash is one argument too.
      expect(await json(['schedules', 'pause', 'qemu/local'])).toMatchObject({ target: 'qemu/local', paused: true });
      expect(await json(['schedules', 'unpause', 'qemu/local'])).toMatchObject({ target: 'qemu/local', paused: false });
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
      // apply: what a worker start does; every schedule exists already, so each is updated.
      const applied = (await ok(['schedules', 'apply'])).stdout;
      for (const s of observerSchedules(cli.api.config)) expect(applied).toContain(`updated ${s.scheduleId}`);
      expect(await json(['schedules', 'apply'])).toEqual(Object.fromEntries(observerSchedules(cli.api.config).map((s) => [s.scheduleId, 'updated'])));
    },
    SLOW,
  );
});
