import { DEFAULT_DRIFT_POLICY, remediationFor, type DriftPolicy } from '../domain/drift.ts';
import { driftActs } from './activity-options.ts';
import { runOperation } from './support/operation.ts';

export interface ReconcileInventoryInput {
  /** The inventory's policy (`observe` records only; `remediate` releases leaked leases). */
  policy?: DriftPolicy;
}

export interface ReconcileInventoryResult {
  differences: number;
  opened: number;
  resolved: number;
  remediated: number;
}

/**
 * reconcileInventory: the inventory observer, one short run per schedule tick. It compares
 * Hangar's records with each other (leases of failed or deleted machines, ready machines without
 * their lease, host claims no workflow drives), records the findings, and under `remediate`
 * releases leaked leases. Nothing else is changed: host claims and missing leases are reported
 * for a person (or a later workflow) to act on.
 */
export async function reconcileInventory(input: ReconcileInventoryInput): Promise<ReconcileInventoryResult> {
  const policy = input.policy ?? DEFAULT_DRIFT_POLICY;
  const steps = ['scan', 'record', 'remediate'] as const;
  return runOperation({ workflow: 'reconcileInventory', resourceId: 'inventory', steps, failure: 'inventory scan failed' }, async (op) => {
    const report = await op.step('scan', () => driftActs.scanInventory());
    const applied = await op.step('record', () => driftActs.applyDriftScan(report));
    const leaked = report.differences.filter((d) => remediationFor(d, policy) === 'release_lease');
    const remediated = await op.step('remediate', async () => {
      let released = 0;
      for (const d of leaked) if (await driftActs.releaseLeakedLease(d.ref.id)) released++;
      return released;
    });
    return { differences: report.differences.length, opened: applied.opened.length, resolved: applied.resolved.length, remediated };
  });
}
