import type { Adoption } from '../domain/drift-adopt.ts';
import { adoptActs, inventoryActs, inventoryCompensationActs } from './activity-options.ts';
import { runOperation, stepsWhere } from './support/operation.ts';

export interface AdoptVmInput {
  machineId: string;
  adoption: Adoption;
  /** Reserve (and activate) an address in this network for the machine; absent: no lease. */
  networkId?: string;
}

const STEPS = ['mark-vm', 'reserve-lease', 'mark-ready', 'resolve-finding'] as const;

/**
 * adoptVm: imports an unmanaged VM as the machine the API just recorded (state `provisioning`).
 * The VM gets Hangar's marker and nothing else; the machine becomes `ready` with the VM's power;
 * the finding is resolved as `adopted`. If a step fails the machine record (and any lease) is
 * removed again, so the VM is reported as unmanaged once more; the VM itself is never deleted.
 */
export async function adoptVm(input: AdoptVmInput): Promise<{ machineId: string; marked: boolean }> {
  const { machineId, adoption, networkId } = input;
  const steps = stepsWhere(STEPS, { 'reserve-lease': !!networkId });
  return runOperation({ workflow: 'adoptVm', resourceId: machineId, steps, failure: `adopting VM ${adoption.providerId} failed` }, async (op) => {
    op.undo('delete-machine-record', () => inventoryCompensationActs.deleteMachineRecord(machineId));
    const { marked } = await op.step('mark-vm', () => adoptActs.markAdoptedVm(adoption.provider, adoption.providerId, machineId));
    if (networkId) {
      op.undo('release-lease', () => inventoryCompensationActs.releaseMachineLease(machineId, networkId));
      await op.step('reserve-lease', async () => {
        await inventoryActs.reserveLease(machineId, networkId, null);
        await inventoryActs.activateLease(machineId);
      });
    }
    await op.step('mark-ready', async () => {
      await inventoryActs.setMachineState(machineId, 'ready');
      await inventoryActs.recordPowerState(machineId, adoption.power);
    });
    await op.step('resolve-finding', () => adoptActs.resolveAdoptedFinding(adoption.findingId, machineId));
    return { machineId, marked };
  });
}
