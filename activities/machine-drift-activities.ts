// The hypervisor observer's activities: list a provider's VMs and compare them with the machine
// records (recording the scan in the same activity, so a 10,000-VM listing never enters workflow
// history), then the fixes remediation plans. Every fix goes through Hangar's own machinery: a VM
// is started by starting the `vmPower` workflow (an operation with progress, serialised with the
// user's power operations by its workflow id), never by calling the provider from here.
import type { Client } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { MikroORM } from '@mikro-orm/postgresql';
import { applyScan, recordScanFailure } from '../db/repositories/drift.ts';
import {
  liveMachineRecordExists,
  machineForRemediation,
  machinesOfProvider,
  recordActionOn,
  recordObserverOperation,
} from '../db/repositories/drift-machines.ts';
import { DEFAULT_DRIFT_POLICY, type ResourceRef } from '../domain/drift.ts';
import {
  compareMachines,
  desiredPower,
  MAX_REMEDIATIONS_PER_SCAN,
  type ListedLeftover,
  type PlannedRemediation,
  type ReconcileMachinesInput,
} from '../domain/drift-machines.ts';
import { HangarError } from '../domain/errors.ts';
import type { ProviderName } from '../domain/machine.ts';
import type { Hypervisor, VmInventory } from '../providers/hypervisor.ts';
import { powerWorkflowId, type WorkflowTypes } from '../workflows/contracts.ts';
import { cancellable, heartbeatIfInActivity, withFailureMapping } from './failures.ts';

export interface MachineDriftDeps {
  orm: MikroORM;
  providers: Partial<Record<ProviderName, Hypervisor>>;
  /** Starts the fixes' workflows (vmPower). */
  temporal?: Client;
  /** Where fixes' workflows run (the worker's own task queue). */
  taskQueue: string;
  /** provision.shutdownTimeoutSec, passed to vmPower like the API does. */
  shutdownTimeoutSec: number;
}

export interface MachineScanSummary {
  complete: boolean;
  /** What failed to list (a partial scan marks nothing missing). */
  failures: string[];
  differences: number;
  opened: number;
  resolved: number;
  /** The fixes to carry out, at most MAX_REMEDIATIONS_PER_SCAN. */
  remediations: PlannedRemediation[];
}

export interface StartVmFix {
  target: string;
  provider: ReconcileMachinesInput['provider'];
  machineId: string;
  ref: ResourceRef;
}

export interface DeleteOrphanFix {
  target: string;
  provider: ReconcileMachinesInput['provider'];
  ref: ResourceRef;
  leftover: ListedLeftover;
}

export function createMachineDriftActivities(deps: MachineDriftDeps) {
  const hypervisor = (name: ProviderName): Hypervisor => {
    const h = deps.providers[name];
    if (!h) throw new HangarError('unprocessable', `provider "${name}" is not enabled on this worker`);
    return h;
  };
  const observer = (target: string) => `observer:${target}`;

  return withFailureMapping({
    /** Lists the provider (heartbeating per page), compares, and records the scan. Retrying is safe: a scan applied twice opens nothing twice. */
    async scanMachines(input: ReconcileMachinesInput): Promise<MachineScanSummary> {
      const started = Date.now();
      const provider = hypervisor(input.provider);
      const options = cancellable();
      let inventory: VmInventory;
      try {
        inventory = await provider.inventory({ ...options, onPage: () => heartbeatIfInActivity() });
      } catch (err) {
        // Counted for the scan-failures metric (a cancelled scan did not fail); the activity's retry policy decides the rest.
        if (!options.signal?.aborted) await recordScanFailure(deps.orm.em, input.target, input.provider, err instanceof Error ? err.message : String(err));
        throw err;
      }
      const machines = await machinesOfProvider(deps.orm.em, input.provider);
      const scan = compareMachines(input.target, machines, inventory, input.policy ?? DEFAULT_DRIFT_POLICY);
      const applied = await applyScan(deps.orm.em, {
        target: input.target,
        provider: input.provider,
        complete: scan.complete,
        differences: scan.differences,
        judged: scan.judged,
        durationMs: Date.now() - started,
        ...(scan.complete ? {} : { error: inventory.failures.slice(0, 5).join('; ') }),
      });
      return {
        complete: scan.complete,
        failures: inventory.failures.slice(0, 20),
        differences: scan.differences.length,
        opened: applied.opened.length,
        resolved: applied.resolved.length,
        remediations: scan.remediations.slice(0, MAX_REMEDIATIONS_PER_SCAN),
      };
    },

    /**
     * Starts the machine's VM through the `vmPower` workflow and records the operation. Skipped when
     * the machine changed since the scan (no longer ready, stopped by a user) or a power operation
     * already runs for it (the user's own, or ours from a retried attempt: then it is recorded once).
     */
    async startVmRemediation(fix: StartVmFix): Promise<{ started: boolean; operationId: string | null; reason?: string }> {
      if (!deps.temporal) throw new HangarError('internal', 'start-VM remediation needs a Temporal client');
      const em = deps.orm.em;
      const machine = await machineForRemediation(em, fix.machineId);
      if (!machine || machine.state !== 'ready' || desiredPower(machine) !== 'running' || !machine.providerId) {
        return { started: false, operationId: null, reason: 'the machine no longer wants a running VM' };
      }
      const workflowId = powerWorkflowId(machine.id);
      const requestedBy = observer(fix.target);
      const args: Parameters<WorkflowTypes['vmPower']> = [
        { machineId: machine.id, provider: fix.provider, providerId: machine.providerId, action: 'start', shutdownTimeoutSec: deps.shutdownTimeoutSec },
      ];
      let runId: string;
      try {
        const handle = await deps.temporal.workflow.start<WorkflowTypes['vmPower']>('vmPower', {
          taskQueue: deps.taskQueue,
          workflowId,
          args,
          workflowIdConflictPolicy: 'FAIL',
          memo: { requestedBy },
        });
        runId = handle.firstExecutionRunId;
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        const running = await deps.temporal.workflow.getHandle(workflowId).describe();
        // Ours from an attempt that failed after starting it: record it now. Anyone else's: leave it be.
        if (running.memo?.requestedBy !== requestedBy) return { started: false, operationId: null, reason: 'a power operation is already running' };
        runId = running.runId;
      }
      const operationId = await recordObserverOperation(em, { kind: 'start', workflowId, runId, resourceType: 'machine', resourceId: machine.id, requestedBy });
      await recordActionOn(em, { target: fix.target, ref: fix.ref, kind: 'power_mismatch', action: 'start_vm', detail: { operation_id: operationId } });
      return { started: true, operationId };
    },

    /** Deletes a Hangar-made leftover. Never what Hangar did not create, and never a VM whose machine record still exists. */
    async deleteOrphanLeftover(fix: DeleteOrphanFix): Promise<{ deleted: boolean }> {
      const em = deps.orm.em;
      if (fix.leftover.machineId && (await liveMachineRecordExists(em, fix.leftover.machineId))) return { deleted: false };
      let result: { deleted: boolean };
      try {
        result = await hypervisor(fix.provider).deleteLeftover(fix.leftover, cancellable());
      } catch (err) {
        // The provider's own guard said no (e.g. Proxmox never deletes a VM as a leftover): record the
        // refusal on the finding for a person to judge, instead of failing every later scan on it.
        if (!(err instanceof HangarError) || err.code !== 'provider_rejected') throw err;
        await recordActionOn(em, { target: fix.target, ref: fix.ref, kind: 'orphan', action: 'delete_orphan_refused', detail: { refused: err.message } });
        return { deleted: false };
      }
      await recordActionOn(em, { target: fix.target, ref: fix.ref, kind: 'orphan', action: 'delete_orphan', detail: { deleted: result.deleted } });
      return result;
    },
  });
}

export type MachineDriftActivities = ReturnType<typeof createMachineDriftActivities>;
