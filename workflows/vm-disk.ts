import { ApplicationFailure, CancellationScope, setHandler } from '@temporalio/workflow';
import type { DiskInput, ProviderName } from '../domain/machine.ts';
import { compensationActs, inventoryActs, inventoryCompensationActs, machineActs } from './activity-options.ts';
import { CompensationStack } from './support/compensation.ts';
import { ProgressTracker, describeFailure, progressQuery } from './support/progress.ts';

/** attachDisk: attach (hot-plug when running) → record the slot. A failure detaches again. */
export async function attachDisk(input: DiskInput): Promise<{ slot: string; volume: string }> {
  const progress = new ProgressTracker('attachDisk', input.diskId, ['attach', 'mark-attached']);
  setHandler(progressQuery, () => progress.snapshot());
  const undo = new CompensationStack();
  try {
    // Registered first: an attach whose reply was lost is still undone.
    undo.push('detach', () => compensationActs.detachDisk(input.provider, input.providerId, input.diskId));
    const attached = await progress.run('attach', () => machineActs.attachDisk(input));
    await progress.run('mark-attached', () => inventoryActs.setDiskState(input.diskId, 'attached', { slot: attached.slot, volume: attached.volume, lastError: null }));
    progress.setState('completed');
    return { slot: attached.slot, volume: attached.volume };
  } catch (err) {
    const cause = describeFailure(err);
    progress.setState('compensating', cause);
    await undo.unwind(progress);
    await CancellationScope.nonCancellable(() => inventoryCompensationActs.setDiskState(input.diskId, 'failed', { lastError: cause.message })).catch(() => undefined);
    progress.setState('failed', cause);
    throw ApplicationFailure.create({ type: cause.code, message: `attaching disk failed: ${cause.message}`, nonRetryable: true });
  }
}

export interface DetachInput {
  machineId: string;
  provider: ProviderName;
  providerId: string;
  diskId: string;
}

/** detachDisk: unplug and delete the volume → delete the record. "Already gone" is done. */
export async function detachDisk(input: DetachInput): Promise<void> {
  const progress = new ProgressTracker('detachDisk', input.diskId, ['mark-detaching', 'detach', 'delete-record']);
  setHandler(progressQuery, () => progress.snapshot());
  try {
    await progress.run('mark-detaching', () => inventoryActs.setDiskState(input.diskId, 'detaching'));
    await progress.run('detach', () => machineActs.detachDisk(input.provider, input.providerId, input.diskId));
    await progress.run('delete-record', () => inventoryActs.deleteDiskRecord(input.diskId));
    progress.setState('completed');
  } catch (err) {
    const cause = describeFailure(err);
    progress.setState('failed', cause);
    // The disk stays in the inventory, marked, so the detach can be requested again.
    await CancellationScope.nonCancellable(() => inventoryCompensationActs.setDiskState(input.diskId, 'failed', { lastError: cause.message })).catch(() => undefined);
    throw ApplicationFailure.create({ type: cause.code, message: `detaching disk failed: ${cause.message}`, nonRetryable: true });
  }
}
