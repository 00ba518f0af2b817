import type { AllocateSubnetInput, ReleaseSubnetInput } from '../domain/subnets.ts';
import { cloudCompensationActs, cloudActs, inventoryActs, inventoryCompensationActs } from './activity-options.ts';
import { runOperation } from './support/operation.ts';

export const ALLOCATE_SUBNET_STEPS = ['create-in-cloud', 'wait-available', 'record'] as const;
export const RELEASE_SUBNET_STEPS = ['mark-deleting', 'delete-in-cloud', 'free-block', 'mark-deleted'] as const;

/**
 * allocateSubnet: the API has already allocated the block in the pool (in the transaction that
 * wrote the record, so exhaustion is an immediate 409) → find the subnet by Hangar's tag or create
 * it → wait until available → record. A failure deletes the cloud subnet (found by its tag, so a
 * create whose reply was lost is found too), frees the block and records `failed` with the reason.
 */
export async function allocateSubnet(input: AllocateSubnetInput): Promise<{ providerId: string }> {
  const { subnetId } = input;
  return runOperation(
    { workflow: 'allocateSubnet', resourceId: subnetId, steps: ALLOCATE_SUBNET_STEPS, failure: `creating subnet ${input.cidr} failed` },
    async (op) => {
      // Newest first on failure: delete in the cloud, free the block, then record why.
      op.undo('mark-failed', ({ cause }) => inventoryCompensationActs.markSubnet(subnetId, { state: 'failed', reason: `${cause.code}: ${cause.message}` }));
      op.undo('free-block', () => inventoryCompensationActs.freeSubnetBlock(subnetId));
      op.undo('delete-in-cloud', () => cloudCompensationActs.deleteCloudSubnet(subnetId));
      const created = await op.step('create-in-cloud', () => cloudActs.findOrCreateCloudSubnet(subnetId));
      const ready = await op.step('wait-available', () => cloudActs.waitCloudSubnetAvailable(subnetId, created.providerId));
      await op.step('record', () => inventoryActs.markSubnet(subnetId, { state: 'available', providerId: ready.providerId, zone: ready.zone }));
      return { providerId: ready.providerId };
    },
  );
}

/**
 * releaseSubnet: mark deleting → delete in the cloud ("already gone" is done) → free the block →
 * mark deleted. A subnet the cloud refuses to delete (still in use: `cloud_dependency_violation`)
 * fails the operation with the cloud's message and goes back to `available`, its block still held.
 */
export async function releaseSubnet(input: ReleaseSubnetInput): Promise<void> {
  const { subnetId } = input;
  return runOperation(
    { workflow: 'releaseSubnet', resourceId: subnetId, steps: RELEASE_SUBNET_STEPS, failure: `deleting subnet ${input.cidr} failed` },
    async (op) => {
      op.undo('restore-available', ({ cause }) =>
        inventoryCompensationActs.markSubnet(subnetId, { state: 'available', reason: `${cause.code}: ${cause.message}` }),
      );
      await op.step('mark-deleting', () => inventoryActs.markSubnet(subnetId, { state: 'deleting' }));
      await op.step('delete-in-cloud', () => cloudActs.deleteCloudSubnet(subnetId));
      await op.step('free-block', () => inventoryActs.freeSubnetBlock(subnetId));
      await op.step('mark-deleted', () => inventoryActs.markSubnet(subnetId, { state: 'deleted' }));
    },
  );
}
