import type { HostPowerInput, ProvisionHostInput } from '../domain/host.ts';
import { bmcActs, bmcCompensationActs, inventoryActs, inventoryCompensationActs } from './activity-options.ts';
import { runOperation, stepsWhere } from './support/operation.ts';
import { listenForPhoneHome } from './support/phone-home.ts';

export const PROVISION_HOST_STEPS = [
  'mark-provisioning',
  'reserve-lease',
  'power-off',
  'insert-media',
  'boot-override',
  'power-on',
  'wait-phone-home',
  'eject-media',
  'clear-override',
  'mark-provisioned',
] as const;

/**
 * provisionHost (workflow id: provisionWorkflowId(machineId), so the metadata service's phone-home
 * reaches it): the host was claimed for the machine atomically before the start (the API's SQL
 * claim) → mark provisioning → reserve the lease → power off → insert the image as virtual media →
 * one-time boot from it (read back to verify) → power on → wait for the installed system's cloud-init
 * to phone home → eject → clear the override → mark provisioned (the machine is ready).
 *
 * Any failure or cancellation unwinds in a non-cancellable scope: power off, eject, clear override
 * (all idempotent, so they are registered up front and also cover a step that failed half-way),
 * release the lease; then the claim is released (host available) — or, if the hardware could not be
 * put back, the host goes to error for a person to look at. The machine is marked failed.
 */
export async function provisionHost(input: ProvisionHostInput): Promise<{ machineId: string; hostId: string }> {
  const { hostId, machineId, networkId, phoneHomeTimeout } = input;
  const phoneHome = listenForPhoneHome();
  return runOperation(
    {
      workflow: 'provisionHost',
      resourceId: machineId,
      failure: `provisioning ${input.machineName} on host ${input.hostName} failed`,
      steps: stepsWhere(PROVISION_HOST_STEPS, { 'reserve-lease': !!networkId, 'wait-phone-home': !!phoneHomeTimeout }),
    },
    async (op) => {
      // Unwound last: the host goes back to available, or to error when some clean-up before it failed.
      op.undo('release-claim', ({ cause, failedSoFar }) =>
        inventoryCompensationActs.hostReleaseAfterFailure(hostId, machineId, { message: cause.message, cleanupFailed: failedSoFar }),
      );
      await op.step('mark-provisioning', () => inventoryActs.hostStartProvisioning(hostId, machineId, input.imageUrl));
      if (networkId) {
        const lease = await op.step('reserve-lease', () => inventoryActs.reserveLease(machineId, networkId, input.mac ?? null));
        if (lease.created) op.undo('release-lease', () => inventoryCompensationActs.releaseMachineLease(machineId, networkId));
      }
      // Unwound newest first: power off, eject, clear the override. Each is a no-op when already so.
      op.undo('clear-override', () => bmcCompensationActs.hostClearBootOverride(hostId));
      op.undo('eject-media', () => bmcCompensationActs.hostEjectMedia(hostId));
      op.undo('power-off', () => bmcCompensationActs.hostPowerOff(hostId, { graceful: false }));

      await op.step('power-off', () => bmcActs.hostPowerOff(hostId, { graceful: false }));
      await op.step('insert-media', () => bmcActs.hostInsertMedia(hostId, input.imageUrl));
      await op.step('boot-override', () => bmcActs.hostBootFromVirtualMedia(hostId, input.bootMode ?? null));
      await op.step('power-on', () => bmcActs.hostPowerOn(hostId));
      if (phoneHomeTimeout) {
        await op.step('wait-phone-home', () =>
          phoneHome.wait(phoneHomeTimeout, { kind: 'host', name: input.hostName }, () => bmcActs.hostDiagnoseBoot(hostId, machineId)),
        );
      }
      await op.step('eject-media', () => bmcActs.hostEjectMedia(hostId));
      await op.step('clear-override', () => bmcActs.hostClearBootOverride(hostId));
      await op.step('mark-provisioned', async () => {
        if (networkId) await inventoryActs.activateLease(machineId);
        await inventoryActs.hostFinishProvisioning(hostId, machineId);
      });
      return { machineId, hostId };
    },
  );
}

/** inspectHost: reads the BMC and records what it found; an unreachable BMC is recorded, not failed. */
export async function inspectHost(input: { hostId: string }): Promise<{ reachable: boolean; code?: string; message?: string }> {
  return runOperation({ workflow: 'inspectHost', resourceId: input.hostId, steps: ['inspect'], failure: 'inspection failed' }, (op) =>
    op.step('inspect', () => bmcActs.hostInspect(input.hostId)),
  );
}

/**
 * hostPower: power on, power off (graceful, forced after the timeout) or reboot. One per host at a
 * time (the workflow id is per host and the API refuses a second); each step is idempotent.
 */
export async function hostPower(input: HostPowerInput): Promise<{ powerState: string }> {
  const { hostId, action } = input;
  return runOperation({ workflow: 'hostPower', resourceId: hostId, steps: [action], failure: `${action} failed` }, async (op) => {
    const result = await op.step(action, () => {
      if (action === 'power-on') return bmcActs.hostPowerOn(hostId);
      if (action === 'reboot') return bmcActs.hostReboot(hostId);
      return bmcActs.hostPowerOff(hostId, { graceful: true, timeoutSec: input.shutdownTimeoutSec });
    });
    return { powerState: result.powerState };
  });
}
