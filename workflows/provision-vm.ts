import type { MachineSpec } from '../domain/machine.ts';
import { cloneActs, inventoryActs, inventoryCompensationActs, vmActs, vmCompensationActs } from './activity-options.ts';
import { runOperation, stepsWhere } from './support/operation.ts';
import { listenForPhoneHome } from './support/phone-home.ts';

export const PROVISION_VM_STEPS = ['mark-provisioning', 'reserve-lease', 'create', 'configure', 'start', 'wait-phone-home', 'mark-ready'] as const;

/**
 * provisionVm: mark provisioning → reserve lease → create (clone) → configure (cpu, memory, disk,
 * NIC, cloud-init seed) → start → wait for phone-home → mark ready. Any permanent failure (or
 * cancellation) unwinds what was done — VM with its ISO and disks, the lease — and marks the machine failed.
 */
export async function provisionVm(spec: MachineSpec): Promise<{ machineId: string; providerId: string }> {
  const { machineId, networkId, phoneHomeTimeout } = spec;
  const phoneHome = listenForPhoneHome();
  return runOperation(
    {
      workflow: 'provisionVm',
      resourceId: machineId,
      failure: `provisioning ${spec.name} failed`,
      steps: stepsWhere(PROVISION_VM_STEPS, { 'reserve-lease': !!networkId, 'wait-phone-home': !!phoneHomeTimeout }),
    },
    async (op) => {
      op.undo('mark-failed', ({ cause }) => inventoryCompensationActs.setMachineState(machineId, 'failed', cause.message));
      await op.step('mark-provisioning', () => inventoryActs.setMachineState(machineId, 'provisioning'));
      if (networkId) {
        const lease = await op.step('reserve-lease', () => inventoryActs.reserveLease(machineId, networkId, spec.mac ?? null));
        // A lease the user reserved beforehand stays theirs; only ours is released on failure.
        if (lease.created) op.undo('release-lease', () => inventoryCompensationActs.releaseMachineLease(machineId, networkId));
      }
      op.undo('delete-vm', () => vmCompensationActs.deleteVm(spec.provider, machineId));
      const create = spec.cloneQueue ? cloneActs(spec.cloneQueue) : vmActs;
      const { providerId } = await op.step('create', () => create.createVm(spec));
      await op.step('configure', () => vmActs.configureVm(spec, providerId));
      op.undo('stop-vm', () => vmCompensationActs.stopVm(spec.provider, providerId));
      await op.step('start', () => vmActs.startVm(spec.provider, providerId));
      if (phoneHomeTimeout) {
        await op.step('wait-phone-home', () => phoneHome.wait(phoneHomeTimeout, { kind: 'vm' }, () => vmActs.diagnoseBoot(spec.provider, machineId)));
      }
      await op.step('mark-ready', async () => {
        if (networkId) await inventoryActs.activateLease(machineId);
        await inventoryActs.setMachineState(machineId, 'ready');
      });
      return { machineId, providerId };
    },
  );
}
