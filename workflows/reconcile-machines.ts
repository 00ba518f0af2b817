import { DEFAULT_DRIFT_POLICY, type DriftPolicy } from '../domain/drift.ts';
import type { ReconcileMachinesInput } from '../domain/drift-machines.ts';
import { machineDriftActs } from './activity-options.ts';
import { runOperation } from './support/operation.ts';

export type { ReconcileMachinesInput };

export interface ReconcileMachinesResult {
  complete: boolean;
  differences: number;
  opened: number;
  resolved: number;
  remediated: number;
}

/**
 * reconcileMachines: the hypervisor observer for one provider target, one short run per schedule
 * tick. The scan lists every VM (paged, heartbeating), compares it with the machine records and
 * records the findings in one activity (so a large listing never enters this history); under
 * `remediate` (the provider's, or a machine's own) it then starts VMs that should run through the
 * `vmPower` workflow and deletes leftovers carrying Hangar's marker. Unmanaged VMs are only reported.
 */
export async function reconcileMachines(input: ReconcileMachinesInput): Promise<ReconcileMachinesResult> {
  const policy: DriftPolicy = input.policy ?? DEFAULT_DRIFT_POLICY;
  const steps = ['scan', 'remediate'] as const;
  return runOperation({ workflow: 'reconcileMachines', resourceId: input.target, steps, failure: `scan of ${input.target} failed` }, async (op) => {
    const scan = await op.step('scan', () => machineDriftActs.scanMachines({ ...input, policy }));
    const remediated = await op.step('remediate', async () => {
      let done = 0;
      for (const fix of scan.remediations) {
        if (fix.action === 'start_vm') {
          const started = await machineDriftActs.startVmRemediation({ target: input.target, provider: input.provider, machineId: fix.machineId, ref: fix.ref });
          if (started.started) done++;
        } else {
          const removed = await machineDriftActs.deleteOrphanLeftover({ target: input.target, provider: input.provider, ref: fix.ref, leftover: fix.leftover });
          if (removed.deleted) done++;
        }
      }
      return done;
    });
    return { complete: scan.complete, differences: scan.differences, opened: scan.opened, resolved: scan.resolved, remediated };
  });
}
