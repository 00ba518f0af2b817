// The observers' Temporal Schedules: listed for viewers; an operator may pause, unpause or
// trigger one (audited like every mutation). Only the schedules this deployment's workers apply
// (workers/schedules.ts) are reachable, so the API never touches another task queue's schedules.
import { ScheduleNotFoundError, ScheduleOverlapPolicy, type ScheduleDescription } from '@temporalio/client';
import { z } from 'zod';
import { HangarError } from '../../domain/errors.ts';
import { safeText } from '../../domain/text.ts';
import { applySchedules, observerSchedules, type ObserverSchedule } from '../../workers/schedules.ts';
import type { ApiDeps } from '../context.ts';
import { contractRouter, json, type ContractRouter } from '../contract/route.ts';
import { schedule } from '../contract/views.ts';

const ACTIONS = ['pause', 'unpause', 'trigger'] as const;

const scheduleApply = z
  .strictObject({ applied: z.record(z.string(), z.enum(['created', 'updated'])) })
  .meta({ id: 'ScheduleApply', description: 'schedule id → created or updated' });

const scheduleParams = z.object({
  id: safeText(255).meta({ description: 'schedule id (percent-encoded) or its target name, e.g. inventory' }),
  action: z.enum(ACTIONS),
});

function view(s: ObserverSchedule, d: ScheduleDescription): z.output<typeof schedule> {
  const last = d.info.recentActions.at(-1);
  return {
    id: s.scheduleId,
    target: s.target,
    interval_sec: s.intervalSec,
    paused: d.state.paused,
    note: d.state.note ?? null,
    next_action_times: d.info.nextActionTimes.map((t) => t.toISOString()),
    last_action_at: last ? last.takenAt.toISOString() : null,
    last_workflow_id: last ? last.action.workflow.workflowId : null,
  };
}

/** Temporal's refusals other than "no such schedule" mean it cannot answer now. */
function unavailable(err: unknown): never {
  if (err instanceof HangarError) throw err;
  throw new HangarError('unavailable', `Temporal did not answer: ${err instanceof Error ? err.message : String(err)}`);
}

export function schedulesRouter(deps: ApiDeps): ContractRouter {
  const r = contractRouter({ tags: ['schedules'] });
  const known = () => observerSchedules(deps.config);
  const find = (id: string) => {
    const s = known().find((k) => k.scheduleId === id || k.target === id);
    if (!s) throw new HangarError('not_found', `schedule ${id} not found`);
    return s;
  };
  const describe = async (s: ObserverSchedule) => {
    try {
      return await deps.temporal.schedule.getHandle(s.scheduleId).describe();
    } catch (err) {
      if (err instanceof ScheduleNotFoundError) return null;
      return unavailable(err);
    }
  };

  r.route({
    method: 'get',
    path: '/',
    summary: "The observers' schedules on this task queue",
    description: 'Schedules the workers have not created yet are left out.',
    responses: { 200: json(z.strictObject({ items: z.array(schedule) }), 'every observer schedule') },
    errors: [503],
    handler: async (_input, _req, res) => {
      const items: z.output<typeof schedule>[] = [];
      for (const s of known()) {
        const d = await describe(s);
        if (d) items.push(view(s, d));
      }
      res.json({ items });
    },
  });

  r.route({
    method: 'post',
    path: '/apply',
    summary: "Create or update the observers' schedules",
    description:
      'Exactly what every worker does at start-up: each schedule is created, or updated to the configured interval, policy and groups (a paused one stays paused). Idempotent.',
    responses: { 200: json(scheduleApply, 'what was done per schedule id') },
    errors: [503],
    handler: async (_input, _req, res) => {
      res.locals.audit = { action: 'schedule.apply', resourceType: 'schedule', resourceId: deps.config.temporal.taskQueue };
      const applied = await applySchedules(deps.temporal, deps.config).catch(unavailable);
      res.locals.audit.detail = { schedules: applied };
      res.json({ applied });
    },
  });

  r.route({
    method: 'post',
    path: '/:id/actions/:action',
    params: scheduleParams,
    summary: 'Pause, unpause or trigger an observer schedule',
    description: 'trigger starts one run now (skipped when a run of it is still going), paused or not.',
    responses: { 200: json(schedule, 'the schedule after the action') },
    errors: [404, 503],
    handler: async ({ params }, req, res) => {
      const s = find(params.id);
      res.locals.audit = { action: `schedule.${params.action}`, resourceType: 'schedule', resourceId: s.scheduleId };
      const handle = deps.temporal.schedule.getHandle(s.scheduleId);
      const note = `${params.action === 'pause' ? 'paused' : 'unpaused'} by ${req.actor?.name ?? 'an operator'} through the API`;
      try {
        if (params.action === 'pause') await handle.pause(note);
        else if (params.action === 'unpause') await handle.unpause(note);
        else await handle.trigger(ScheduleOverlapPolicy.SKIP);
      } catch (err) {
        if (err instanceof ScheduleNotFoundError) throw new HangarError('not_found', `schedule ${params.id} not found`);
        unavailable(err);
      }
      const d = await describe(s);
      if (!d) throw new HangarError('not_found', `schedule ${params.id} not found`);
      res.json(view(s, d));
    },
  });

  return r;
}
