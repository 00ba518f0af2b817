import type { DiskInput, ProviderName } from '../domain/machine.ts';
import { inventoryActs, inventoryCompensationActs, vmActs, vmCompensationActs } from './activity-options.ts';
import { runOperation } from './support/operation.ts';

export const ATTACH_DISK_STEPS = ['attach', 'mark-attached'] as const;
export const DETACH_DISK_STEPS = ['mark-detaching', 'detach', 'delete-record'] as const;

/** attachDisk: attach (hot-plug when running) → record the slot. A failure detaches again and marks the disk failed. */
export async function attachDisk(input: DiskInput): Promise<{ slot: string; volume: string }> {
  const { diskId } = input;
  return runOperation({ workflow: 'attachDisk', resourceId: diskId, steps: ATTACH_DISK_STEPS, failure: 'attaching disk failed' }, async (op) => {
    op.undo('mark-failed', ({ cause }) => inventoryCompensationActs.setDiskState(diskId, 'failed', { lastError: cause.message }));
    // Registered first: an attach whose reply was lost is still undone.
    op.undo('detach', () => vmCompensationActs.detachDisk(input.provider, input.providerId, diskId));
    const attached = await op.step('attach', () => vmActs.attachDisk(input));
    await op.step('mark-attached', () => inventoryActs.setDiskState(diskId, 'attached', { slot: attached.slot, volume: attached.volume, lastError: null }));
    return { slot: attached.slot, volume: attached.volume };
  });
}

export interface DetachInput {
  machineId: string;
  provider: ProviderName;
  providerId: string;
  diskId: string;
}

/**
 * detachDisk: unplug and delete the volume → delete the record. "Already gone" is done. A failure
 * leaves the disk in the inventory, marked failed, so the detach can be requested again.
 */
export async function detachDisk(input: DetachInput): Promise<void> {
  const { diskId } = input;
  return runOperation({ workflow: 'detachDisk', resourceId: diskId, steps: DETACH_DISK_STEPS, failure: 'detaching disk failed' }, async (op) => {
    op.undo('mark-failed', ({ cause }) => inventoryCompensationActs.setDiskState(diskId, 'failed', { lastError: cause.message }));
    await op.step('mark-detaching', () => inventoryActs.setDiskState(diskId, 'detaching'));
    await op.step('detach', () => vmActs.detachDisk(input.provider, input.providerId, diskId));
    await op.step('delete-record', () => inventoryActs.deleteDiskRecord(diskId));
  });
}
