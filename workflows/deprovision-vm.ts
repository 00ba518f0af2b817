import { patched } from '@temporalio/workflow';
import type { ProviderName } from '../domain/machine.ts';
import { inventoryActs, settleActs, vmActs } from './activity-options.ts';
import { provisionWorkflowId } from './contracts.ts';
import { runOperation } from './support/operation.ts';

export const DEPROVISION_VM_STEPS = ['settle-provisioning', 'mark-deprovisioning', 'stop', 'delete-vm', 'delete-record'] as const;

export interface DeprovisionInput {
  machineId: string;
  provider: ProviderName;
  /** Graceful (ACPI) shutdown first, hard stop after this many seconds. */
  shutdownTimeoutSec?: number;
}

/**
 * deprovisionVm: settle a running provision → graceful shutdown (hard stop after the timeout) →
 * delete the VM with its cloud-init ISO and disks → delete the record (which releases its leases
 * and cascades its disk records). Every step treats "already gone" as done, so there is nothing to
 * compensate; a failed run can simply be started again.
 */
export async function deprovisionVm(input: DeprovisionInput): Promise<void> {
  const { machineId, provider } = input;
  return runOperation({ workflow: 'deprovisionVm', resourceId: machineId, steps: DEPROVISION_VM_STEPS, failure: 'deprovisioning failed' }, async (op) => {
    await op.step('settle-provisioning', () => settleActs.settleWorkflow(provisionWorkflowId(machineId)));
    await op.step('mark-deprovisioning', () => inventoryActs.setMachineState(machineId, 'deprovisioning'));
    await op.step('stop', async () => {
      const status = await vmActs.vmStatus(provider, machineId);
      if (!status.providerId || status.powerState === 'stopped' || status.powerState === 'absent') return;
      // Runs recorded before graceful shutdown existed replay the hard stop they made.
      if (patched('graceful-shutdown')) await vmActs.shutdownVm(provider, status.providerId, input.shutdownTimeoutSec ?? 60);
      else await vmActs.stopVm(provider, status.providerId);
    });
    await op.step('delete-vm', () => vmActs.deleteVm(provider, machineId));
    await op.step('delete-record', () => inventoryActs.deleteMachineRecord(machineId));
  });
}
