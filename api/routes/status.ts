// GET /api/v1/status: one answer to "is everything working, and why does it behave like this?" —
// the services behind the API, enabled providers, the QEMU accelerator with the reason the
// provider chose it (recorded on the machine at its last start), task-queue pollers, the
// observers' schedules and the latest errors. Each part that cannot be read says so in its own
// `detail` instead of failing the whole answer.
import type { z } from 'zod';
import { PROVIDERS } from '../../domain/machine.ts';
import { enabledProviders } from '../../domain/config.ts';
import { observerSchedules } from '../../workers/schedules.ts';
import type { ApiDeps } from '../context.ts';
import { contractRouter, json, type ContractRouter } from '../contract/route.ts';
import { status } from '../contract/status-views.ts';
import { HANGAR_VERSION } from '../version.ts';

type Status = z.output<typeof status>;
const firstLine = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
const DEADLINE_MS = 2500;

export function statusRouter(deps: ApiDeps): ContractRouter {
  const r = contractRouter({ tags: ['status'] });
  const { temporal, config } = deps;
  const within = <T>(fn: () => Promise<T>) => temporal.connection.withDeadline(Date.now() + DEADLINE_MS, fn);

  async function services(): Promise<{ list: Status['services']; serverVersion: string | null }> {
    const list: Status['services'] = [];
    try {
      await deps.orm.em.getConnection().execute('select 1');
      list.push({ name: 'postgres', status: 'ok', detail: null });
    } catch (err) {
      list.push({ name: 'postgres', status: 'unreachable', detail: firstLine(err) });
    }
    let serverVersion: string | null = null;
    try {
      const info = await within(() => temporal.connection.workflowService.getSystemInfo({}));
      serverVersion = info.serverVersion || null;
      list.push({ name: 'temporal', status: 'ok', detail: null });
    } catch (err) {
      list.push({ name: 'temporal', status: 'unreachable', detail: firstLine(err) });
    }
    return { list, serverVersion };
  }

  async function acceleration(): Promise<Status['acceleration']> {
    const rows = await deps.orm.em
      .fork()
      .getConnection()
      .execute<{ name: string; accel: string; cpu_model: string | null; reason: string; at: Date }[]>(
        `select name, access->>'accel' as accel, access->>'cpu_model' as cpu_model, access->>'accel_reason' as reason,
                coalesce((access->>'started_at')::timestamptz, updated_at) as at
           from machine where provider = 'qemu' and access ? 'accel'
          order by at desc limit 1`,
      );
    const row = rows[0];
    return row
      ? { accel: row.accel, cpu_model: row.cpu_model, reason: row.reason ?? 'not recorded', machine: row.name, observed_at: new Date(row.at).toISOString() }
      : null;
  }

  async function queues(): Promise<Status['queues']> {
    const name = config.temporal.taskQueue;
    const pollers = async (type: 1 | 2) =>
      (
        await within(() =>
          temporal.connection.workflowService.describeTaskQueue({ namespace: config.temporal.namespace, taskQueue: { name }, taskQueueType: type }),
        )
      ).pollers?.length ?? 0;
    try {
      const [workflow, activity] = await Promise.all([pollers(1), pollers(2)]);
      return [
        { name, workflow_pollers: workflow, activity_pollers: activity, detail: workflow ? null : 'no worker is polling: operations wait until one starts' },
      ];
    } catch (err) {
      return [{ name, workflow_pollers: 0, activity_pollers: 0, detail: `Temporal did not answer: ${firstLine(err)}` }];
    }
  }

  async function schedules(): Promise<Status['schedules']> {
    return Promise.all(
      observerSchedules(config).map(async (s) => {
        try {
          const d = await within(() => temporal.schedule.getHandle(s.scheduleId).describe());
          const next = d.info.nextActionTimes[0];
          return { id: s.scheduleId, target: s.target, paused: d.state.paused, next_action_at: next ? next.toISOString() : null, detail: d.state.note || null };
        } catch (err) {
          return { id: s.scheduleId, target: s.target, paused: null, next_action_at: null, detail: `not readable: ${firstLine(err)}` };
        }
      }),
    );
  }

  async function lastErrors(): Promise<Status['last_errors']> {
    const rows = await deps.orm.em
      .fork()
      .getConnection()
      .execute<{ type: string; id: string; name: string; state: string; error: string; at: Date }[]>(
        `(select 'machine' as type, id, name, state, last_error as error, updated_at as at from machine where last_error is not null)
       union all
       (select 'host' as type, id, name, state, last_error as error, updated_at as at from host where last_error is not null)
       order by at desc limit 5`,
      );
    return rows.map((x) => ({ resource_type: x.type, resource_id: x.id, name: x.name, state: x.state, error: x.error, at: new Date(x.at).toISOString() }));
  }

  r.route({
    method: 'get',
    path: '/',
    summary: 'Status: services, providers, QEMU acceleration and why, queues, schedules, latest errors',
    description: 'Every part is read independently; one that cannot be read says why in its `detail` (or the service shows as unreachable).',
    responses: { 200: json(status, 'the status') },
    handler: async (_input, _req, res) => {
      const enabled = new Set<string>(enabledProviders(config));
      const [svc, accel, q, sched, errors] = await Promise.all([services(), acceleration(), queues(), schedules(), lastErrors()]);
      const body: Status = {
        version: HANGAR_VERSION,
        node: process.versions.node,
        temporal: {
          address: config.temporal.address,
          namespace: config.temporal.namespace,
          task_queue: config.temporal.taskQueue,
          server_version: svc.serverVersion,
        },
        services: svc.list,
        providers: PROVIDERS.map((name) => ({ name, enabled: enabled.has(name) || name === 'redfish' })),
        acceleration: accel,
        queues: q,
        schedules: sched,
        last_errors: errors,
        settings: { shutdown_timeout_sec: config.provision.shutdownTimeoutSec, phone_home_timeout: config.provision.phoneHomeTimeout },
      };
      res.json(body);
    },
  });
  return r;
}
