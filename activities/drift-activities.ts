// The observers' activities: list what is, hand the differences to the repository, and carry out
// remediation. Thin: the SQL is in db/repositories, the rules in domain/drift.ts.
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import type { MikroORM } from '@mikro-orm/postgresql';
import { applyScan, recordScanFailure, type AppliedScan, type ScanReport } from '../db/repositories/drift.ts';
import { hostsAwaitingWorkflow, leakedLeases, readyMachinesWithoutLease, releaseLeakedLease } from '../db/repositories/drift-inventory.ts';
import type { Difference } from '../domain/drift.ts';
import { HangarError } from '../domain/errors.ts';
import { hostWorkflowIds } from '../workflows/contracts.ts';
import { withFailureMapping } from './failures.ts';

export interface DriftDeps {
  orm: MikroORM;
  temporal?: Client;
}

export const INVENTORY_TARGET = 'inventory';

export function createDriftActivities(deps: DriftDeps) {
  /** Whether any workflow that drives this host is running. */
  async function hostWorkflowRunning(hostId: string, claimedBy: string | null): Promise<boolean> {
    if (!deps.temporal) throw new HangarError('internal', 'the inventory observer needs a Temporal client');
    for (const id of hostWorkflowIds(hostId, claimedBy)) {
      try {
        if ((await deps.temporal.workflow.getHandle(id).describe()).status.name === 'RUNNING') return true;
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      }
    }
    return false;
  }

  return withFailureMapping({
    /** Inventory against itself: leaked leases, ready machines without their lease, claims no workflow drives. */
    async scanInventory(): Promise<ScanReport> {
      const started = Date.now();
      const em = deps.orm.em;
      const differences: Difference[] = [];
      for (const l of await leakedLeases(em)) {
        differences.push({
          ref: { type: 'lease', id: l.lease_id, name: l.address },
          kind: 'orphan',
          desired: null,
          observed: { network_id: l.network_id, machine_id: l.machine_id, machine_state: l.machine_state },
          createdByHangar: true,
        });
      }
      for (const m of await readyMachinesWithoutLease(em)) {
        differences.push({
          ref: { type: 'machine', id: m.machine_id, name: m.name },
          kind: 'missing',
          desired: { lease_network_id: m.network_id },
          observed: { lease: null },
          createdByHangar: true,
        });
      }
      for (const h of await hostsAwaitingWorkflow(em)) {
        if (await hostWorkflowRunning(h.host_id, h.claimed_by)) continue;
        differences.push({
          ref: { type: 'host', id: h.host_id, name: h.name },
          kind: 'orphan',
          desired: { workflow: 'running' },
          observed: { state: h.state, claimed_by: h.claimed_by, workflow: 'none' },
          createdByHangar: true,
        });
      }
      // The database answers completely or the activity fails: an inventory scan is never partial.
      return { target: INVENTORY_TARGET, provider: 'inventory', complete: true, differences, judged: [], durationMs: Date.now() - started };
    },

    async applyDriftScan(report: ScanReport): Promise<AppliedScan> {
      return applyScan(deps.orm.em, report);
    },

    /** A scan that failed outright, for the scan-failures metric. */
    async recordScanFailure(target: string, provider: string, error: string): Promise<void> {
      await recordScanFailure(deps.orm.em, target, provider, error);
    },

    /** Idempotent: a lease already released (or no longer leaked) is left alone. */
    async releaseLeakedLease(leaseId: string): Promise<boolean> {
      return releaseLeakedLease(deps.orm.em, leaseId);
    },
  });
}

export type DriftActivities = ReturnType<typeof createDriftActivities>;
