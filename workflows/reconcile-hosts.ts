import { DEFAULT_DRIFT_POLICY, effectivePolicy, remediationFor, type DriftPolicy } from '../domain/drift.ts';
import { redfishTarget } from '../domain/host-drift.ts';
import { bmcObserverActs, driftActs } from './activity-options.ts';
import { runOperation } from './support/operation.ts';
import { describeFailure } from './support/progress.ts';

export interface ReconcileHostsInput {
  /** The BMC group this run scans (`default`, or a name from drift.redfishGroups). */
  group: string;
  /** drift.redfishGroups as configured, so the activity knows which tags name their own group. */
  groups: string[];
  /** The provider's policy (drift.redfishPolicy); a host's drift_policy overrides it. */
  policy?: DriftPolicy;
}

export interface ReconcileHostsResult {
  complete: boolean;
  differences: number;
  opened: number;
  resolved: number;
  /** The power-on operations remediation started (or joined). */
  operations: string[];
}

/**
 * reconcileHosts: the Redfish observer of one BMC group, one short run per schedule tick. It
 * reads every host's power state and virtual CD, records the findings (a BMC that does not answer
 * is an `unreachable` finding and a condition, never a state change) and, where the host's
 * effective policy is `remediate`, powers a provisioned host that is off back on through the
 * hostPower operation. Nothing is re-inserted, and a manual power-off under `observe` is reported,
 * not undone (docs/decisions/0021-bmc-unreachable-is-a-condition.md).
 */
export async function reconcileHosts(input: ReconcileHostsInput): Promise<ReconcileHostsResult> {
  const policy = input.policy ?? DEFAULT_DRIFT_POLICY;
  const target = redfishTarget(input.group);
  const steps = ['scan', 'record', 'remediate'] as const;
  return runOperation({ workflow: 'reconcileHosts', resourceId: target, steps, failure: `scan of ${target} failed` }, async (op) => {
    const scan = await op.step('scan', () =>
      bmcObserverActs.scanBmcGroup({ group: input.group, groups: input.groups }).catch(async (err: unknown) => {
        // Counted for the scan-failures metric, then failed as usual; the next tick tries again.
        await driftActs.recordScanFailure(target, 'redfish', describeFailure(err).message);
        throw err;
      }),
    );
    const applied = await op.step('record', () => driftActs.applyDriftScan(scan.report));
    const powerOn = scan.report.differences.filter((d) => remediationFor(d, effectivePolicy(policy, scan.overrides[d.ref.id])) === 'power_on_host');
    const operations = await op.step('remediate', async () => {
      const started: string[] = [];
      for (const d of powerOn) {
        const r = await bmcObserverActs.remediateHostPower({ target, hostId: d.ref.id });
        if (r.operationId) started.push(r.operationId);
      }
      return started;
    });
    return {
      complete: scan.report.complete,
      differences: scan.report.differences.length,
      opened: applied.opened.length,
      resolved: applied.resolved.length,
      operations,
    };
  });
}
