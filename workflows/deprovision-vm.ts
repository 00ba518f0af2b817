import { setHandler, ApplicationFailure, patched } from '@temporalio/workflow';
import type { ProviderName } from '../domain/machine.ts';
import { inventoryActs, machineActs, settleActs } from './activity-options.ts';
import { ProgressTracker, describeFailure, progressQuery } from './support/progress.ts';

export const DEPROVISION_STEPS = ['settle-provisioning', 'mark-deprovisioning', 'stop', 'delete-vm', 'delete-record'];

export interface DeprovisionInput {
  machineId: string;
  provider: ProviderName;
  /** Graceful (ACPI) shutdown first, hard stop after this many seconds. */
  shutdownTimeoutSec?: number;
}

/**
 * deprovisionVm: settle a running provision → graceful shutdown (hard stop after the timeout) →
 * delete the VM with its cloud-init ISO and disks → delete the record (which releases its leases
 * and cascades its disk records). Every step treats "already gone" as done, so there is nothing to compensate;
 * a failed run can simply be started again.
 */
export async function deprovisionVm(input: DeprovisionInput): Promise<void> {
  const progress = new ProgressTracker('deprovisionVm', input.machineId, DEPROVISION_STEPS);
  setHandler(progressQuery, () => progress.snapshot());
  try {
    await progress.run('settle-provisioning', () => settleActs.settleProvisioning(input.machineId));
    await progress.run('mark-deprovisioning', () => inventoryActs.setMachineState(input.machineId, 'deprovisioning'));
    const status = await machineActs.vmStatus(input.provider, input.machineId);
    await progress.run('stop', async () => {
      if (!status.providerId || status.powerState === 'stopped' || status.powerState === 'absent') return;
      // Runs recorded before graceful shutdown existed replay the hard stop they made.
      if (patched('graceful-shutdown')) await machineActs.shutdownVm(input.provider, status.providerId, input.shutdownTimeoutSec ?? 60);
      else await machineActs.stopVm(input.provider, status.providerId);
    });
    await progress.run('delete-vm', () => machineActs.deleteVm(input.provider, input.machineId));
    await progress.run('delete-record', () => inventoryActs.deleteMachineRecord(input.machineId));
    progress.setState('completed');
  } catch (err) {
    const cause = describeFailure(err);
    progress.setState('failed', cause);
    throw ApplicationFailure.create({ type: cause.code, message: `deprovisioning failed: ${cause.message}`, nonRetryable: true });
  }
}
