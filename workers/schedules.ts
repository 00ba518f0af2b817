// The observers' Temporal Schedules, created or updated by every worker at start-up. Idempotent
// and race-safe: the schedule id is fixed per target, so when several workers start at once one
// creates it and the others update it to the same spec. Overlap SKIP (a slow scan is never
// doubled), a catch-up window of one interval (after an outage at most one late run, not the
// year of runs Temporal's default window would fire) and jitter of a tenth of the interval (so
// targets do not scan in lockstep). One builder per kind of observer; each returns its targets.
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptions, type ScheduleUpdateOptions } from '@temporalio/client';
import { enabledProviders, type HangarConfig } from '../domain/config.ts';
import { bmcGroups, redfishTarget } from '../domain/host-drift.ts';
import { reconcileWorkflowId, type WorkflowName, type WorkflowTypes } from '../workflows/contracts.ts';

export interface ObserverSchedule {
  scheduleId: string;
  target: string;
  intervalSec: number;
  options: ScheduleOptions;
}

/** One schedule: ids carry the task queue, so deployments sharing a namespace never collide. */
function observerSchedule<N extends WorkflowName>(
  config: HangarConfig,
  target: string,
  intervalSec: number,
  workflowType: N,
  args: Parameters<WorkflowTypes[N]>,
): ObserverSchedule {
  const scheduleId = `${config.temporal.taskQueue}/reconcile/${target}`;
  return {
    scheduleId,
    target,
    intervalSec,
    options: {
      scheduleId,
      spec: { intervals: [{ every: `${intervalSec}s` }], jitter: `${Math.max(1, Math.floor(intervalSec / 10))}s` },
      action: {
        type: 'startWorkflow',
        workflowType,
        workflowId: `${config.temporal.taskQueue}/${reconcileWorkflowId(target)}`,
        taskQueue: config.temporal.taskQueue,
        args,
        // One tick's run: it must end well before the next one would be skipped for it.
        workflowExecutionTimeout: `${Math.max(60, intervalSec * 5)}s`,
      },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: `${intervalSec}s` },
    },
  };
}

const inventorySchedules = (config: HangarConfig): ObserverSchedule[] => [
  observerSchedule(config, 'inventory', config.drift.inventoryIntervalSec, 'reconcileInventory', [{ policy: config.drift.inventoryPolicy }]),
];

/** The target a provider's machines are scanned under; QEMU is one host (the worker's data folder). */
export function hypervisorTarget(provider: 'qemu' | 'proxmox' | 'dryrun', config: HangarConfig): string {
  if (provider === 'qemu') return 'qemu/local';
  if (provider === 'dryrun') return 'dryrun';
  // One configured cluster today, named by its API host; several clusters would each get one.
  let host = 'default';
  try {
    host = new URL(config.proxmox.url).hostname || host;
  } catch {
    // no URL: the worker refuses to start with Proxmox enabled anyway
  }
  return `proxmox/${host}`;
}

/** One hypervisor observer per enabled provider target. */
const hypervisorSchedules = (config: HangarConfig): ObserverSchedule[] => {
  const enabled = enabledProviders(config);
  const settings = {
    qemu: { intervalSec: config.drift.qemuIntervalSec, policy: config.drift.qemuPolicy },
    proxmox: { intervalSec: config.drift.proxmoxIntervalSec, policy: config.drift.proxmoxPolicy },
    dryrun: { intervalSec: config.drift.dryrunIntervalSec, policy: config.drift.dryrunPolicy },
  };
  return (['qemu', 'proxmox', 'dryrun'] as const)
    .filter((p) => enabled.includes(p))
    .map((provider) => {
      const target = hypervisorTarget(provider, config);
      const { intervalSec, policy } = settings[provider];
      return observerSchedule(config, target, intervalSec, 'reconcileMachines', [{ provider, target, policy }]);
    });
};

/** The Redfish observer: one target per BMC group (`default` plus drift.redfishGroups; hosts join one by a `bmc-group:<name>` tag). */
const redfishSchedules = (config: HangarConfig): ObserverSchedule[] => {
  const groups = bmcGroups(config.drift.redfishGroups);
  return groups.map((group) =>
    observerSchedule(config, redfishTarget(group), config.drift.redfishIntervalSec, 'reconcileHosts', [{ group, groups, policy: config.drift.redfishPolicy }]),
  );
};

/** Every observer schedule of this deployment (the inventory observer first). */
export function observerSchedules(config: HangarConfig): ObserverSchedule[] {
  return [...inventorySchedules(config), ...hypervisorSchedules(config), ...redfishSchedules(config)];
}

/** Creates each schedule, or updates it to the configured spec when it exists. Returns what it did per id. */
export async function applySchedules(client: Client, config: HangarConfig): Promise<Record<string, 'created' | 'updated'>> {
  const done: Record<string, 'created' | 'updated'> = {};
  for (const s of observerSchedules(config)) {
    try {
      await client.schedule.create(s.options);
      done[s.scheduleId] = 'created';
    } catch (err) {
      if (!(err instanceof ScheduleAlreadyRunning)) throw err;
      const { spec, action, policies } = s.options;
      await client.schedule.getHandle(s.scheduleId).update((previous): ScheduleUpdateOptions => ({ ...previous, spec, action, policies }));
      done[s.scheduleId] = 'updated';
    }
  }
  return done;
}
