// /api/v1/schedules on the real Temporal server: the observer schedules this task queue's workers
// apply are listed; an operator applies, pauses, unpauses and triggers them (audited); a trigger starts a
// reconcileInventory run; an unknown schedule is 404.
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { ScheduleNotFoundError } from '@temporalio/client';
import { AuditEvent } from '../../db/entities/index.ts';
import { applySchedules, observerSchedules } from '../../workers/schedules.ts';
import { waitFor } from '../support/harness.ts';
import { useApi } from '../support/api-fixture.ts';

// A long interval: nothing runs by itself while the test looks.
const f = useApi(
  { beforeAll, afterAll },
  {
    HANGAR_DRIFT_INVENTORY_INTERVAL_SEC: '3600',
    HANGAR_DRIFT_QEMU_INTERVAL_SEC: '3600',
    HANGAR_DRIFT_DRYRUN_INTERVAL_SEC: '3600',
    HANGAR_DRIFT_REDFISH_INTERVAL_SEC: '3600',
  },
);
let id: string;
let redfishId: string;

beforeAll(async () => {
  await applySchedules(f.api.temporal, f.api.config);
  id = observerSchedules(f.api.config).find((s) => s.target === 'inventory')!.scheduleId;
  redfishId = observerSchedules(f.api.config).find((s) => s.target === 'redfish:default')!.scheduleId;
});
f.beforeClose(async () => {
  for (const s of id ? observerSchedules(f.api.config) : [])
    await f.api.temporal.schedule
      .getHandle(s.scheduleId)
      .delete()
      .catch((err: unknown) => {
        if (!(err instanceof ScheduleNotFoundError)) throw err;
      });
});

const handle = () => f.api.temporal.schedule.getHandle(id);
const path = (action: string, which = id) => `/api/v1/schedules/${encodeURIComponent(which)}/actions/${action}`;

describe('schedules API', () => {
  it('lists the observer schedules of this task queue (inventory, one per BMC group) with interval and next run', async () => {
    const res = await f.get('/api/v1/schedules');
    expect(res.status).toBe(200);
    // The inventory observer first, then one per enabled provider target, then one per BMC group.
    expect(res.body.items.map((i: { target: string }) => i.target)).toEqual(['inventory', 'qemu/local', 'dryrun', 'redfish:default']);
    expect(res.body.items[0]).toEqual(
      expect.objectContaining({ id, target: 'inventory', interval_sec: 3600, paused: false, last_action_at: null, last_workflow_id: null }),
    );
    expect(res.body.items[3]).toEqual(expect.objectContaining({ id: redfishId, target: 'redfish:default', interval_sec: 3600, paused: false }));
    expect(res.body.items[0].next_action_times.length).toBeGreaterThan(0);
  });

  it('apply creates or updates every schedule as a worker start does, and leaves a paused one paused', async () => {
    await f.api.temporal.schedule.getHandle(redfishId).pause('paused by the test');
    expect((await f.post('/api/v1/schedules/apply', undefined, f.viewer)).status).toBe(403);
    const res = await f.post('/api/v1/schedules/apply', undefined);
    expect(res.status).toBe(200);
    expect(res.body.applied).toEqual(Object.fromEntries(observerSchedules(f.api.config).map((s) => [s.scheduleId, 'updated'])));
    expect((await f.api.temporal.schedule.getHandle(redfishId).describe()).state.paused).toBe(true);
    await f.api.temporal.schedule.getHandle(redfishId).unpause('unpaused by the test');
  });

  it('lets an operator (not a viewer) pause and unpause a schedule, and audits it', async () => {
    expect((await f.post(path('pause'), undefined, f.viewer)).status).toBe(403);
    const paused = await f.post(path('pause'), undefined);
    expect(paused.status).toBe(200);
    expect(paused.body).toMatchObject({ id, paused: true, note: expect.stringContaining('paused by') });
    expect((await f.get('/api/v1/schedules')).body.items.map((i: { id: string; paused: boolean }) => [i.id, i.paused])).toEqual(
      observerSchedules(f.api.config).map((s) => [s.scheduleId, s.scheduleId === id]),
    );
    expect((await handle().describe()).state.paused).toBe(true);
    const event = await waitFor('the audit event', () =>
      f.api.orm.em.fork().findOne(AuditEvent, { resourceId: id, action: 'schedule.pause', statusCode: 200 }),
    );
    expect(event.resourceType).toBe('schedule');
    // The target name works as the id too.
    const unpaused = await f.post(path('unpause', 'inventory'), undefined);
    expect(unpaused.body).toMatchObject({ id, paused: false });
  });

  it('trigger starts a reconcileInventory run now, even while paused', async () => {
    await f.post(path('pause'), undefined);
    const res = await f.post(path('trigger'), undefined);
    expect(res.status).toBe(200);
    const described = await waitFor('the triggered run', async () => {
      const d = await handle().describe();
      return d.info.recentActions.length ? d : null;
    });
    const workflowId = described.info.recentActions[0]!.action.workflow.workflowId;
    expect((await f.api.temporal.workflow.getHandle(workflowId).describe()).type).toBe('reconcileInventory');
    expect((await f.get('/api/v1/schedules')).body.items[0]).toMatchObject({ paused: true, last_workflow_id: workflowId, last_action_at: expect.any(String) });
  });

  it('answers 404 for an unknown schedule and 400 for an unknown action', async () => {
    const unknown = await f.post(path('pause', 'no-such-target'), undefined);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toBe('not_found');
    const bad = await f.post(path('stop'), undefined);
    expect(bad.status).toBe(400);
    expect(bad.body.fields).toHaveProperty('action');
  });
});
