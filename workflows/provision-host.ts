import { ApplicationFailure, CancellationScope, condition, isCancellation, setHandler } from '@temporalio/workflow';
import type { Duration } from '@temporalio/common';
import type { PhoneHomePayload } from '../domain/boot.ts';
import type { HostPowerInput, ProvisionHostInput } from '../domain/host.ts';
import {
  hostActs, hostCompensationActs, hostInventoryActs, hostInventoryCompensationActs, inventoryActs, inventoryCompensationActs,
} from './activity-options.ts';
import { CompensationStack } from './support/compensation.ts';
import { ProgressTracker, describeFailure, progressQuery } from './support/progress.ts';
import { phoneHomeSignal } from './provision-vm.ts';

const stepsFor = (input: ProvisionHostInput) => [
  'mark-provisioning',
  ...(input.networkId ? ['reserve-lease'] : []),
  'power-off', 'insert-media', 'boot-override', 'power-on',
  ...(input.phoneHomeTimeout ? ['wait-phone-home'] : []),
  'eject-media', 'clear-override', 'mark-provisioned',
];

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
  const progress = new ProgressTracker('provisionHost', input.machineId, stepsFor(input));
  setHandler(progressQuery, () => progress.snapshot());
  let phonedHome: PhoneHomePayload | null = null;
  setHandler(phoneHomeSignal, (payload) => {
    phonedHome = payload ?? {};
  });
  const { hostId, machineId } = input;
  const undo = new CompensationStack();

  try {
    await progress.run('mark-provisioning', () => hostInventoryActs.hostStartProvisioning(hostId, machineId, input.imageUrl));
    const networkId = input.networkId;
    if (networkId) {
      const lease = await progress.run('reserve-lease', () => inventoryActs.reserveLease(machineId, networkId, input.mac ?? null));
      if (lease.created) undo.push('release-lease', () => inventoryCompensationActs.releaseMachineLease(machineId, networkId));
    }
    // Unwound newest first: power off, eject, clear the override. Each is a no-op when already so.
    undo.push('clear-override', () => hostCompensationActs.hostClearBootOverride(hostId));
    undo.push('eject-media', () => hostCompensationActs.hostEjectMedia(hostId));
    undo.push('power-off', () => hostCompensationActs.hostPowerOff(hostId, { graceful: false }));

    await progress.run('power-off', () => hostActs.hostPowerOff(hostId, { graceful: false }));
    await progress.run('insert-media', () => hostActs.hostInsertMedia(hostId, input.imageUrl));
    await progress.run('boot-override', () => hostActs.hostBootFromVirtualMedia(hostId, input.bootMode ?? null));
    await progress.run('power-on', () => hostActs.hostPowerOn(hostId));
    const timeout = input.phoneHomeTimeout;
    if (timeout) {
      await progress.run('wait-phone-home', async () => {
        if (await condition(() => phonedHome !== null, timeout as Duration)) return;
        const d = await hostActs.hostDiagnoseBoot(hostId, machineId);
        const seen = d.fetched.length ? `it fetched ${d.fetched.join(', ')} from the metadata service` : 'it never fetched its meta-data (is the NoCloud seed URL on the image\'s kernel command line, and is Hangar reachable from the host?)';
        throw ApplicationFailure.create({
          type: 'phone_home_timeout',
          message: `no phone-home from host ${input.hostName} within ${timeout}: power is ${d.powerState}; ${seen}`,
          nonRetryable: true,
          details: [d],
        });
      });
    }
    await progress.run('eject-media', () => hostActs.hostEjectMedia(hostId));
    await progress.run('clear-override', () => hostActs.hostClearBootOverride(hostId));
    await progress.run('mark-provisioned', async () => {
      if (networkId) await inventoryActs.activateLease(machineId);
      await hostInventoryActs.hostFinishProvisioning(hostId, machineId);
    });
    progress.setState('completed');
    return { machineId, hostId };
  } catch (err) {
    const cause = describeFailure(err);
    progress.setState('compensating', cause);
    const report = await undo.unwind(progress);
    progress.mark('undo:release-claim', 'running');
    await CancellationScope.nonCancellable(() => hostInventoryCompensationActs.hostReleaseAfterFailure(hostId, machineId, {
      message: cause.message,
      cleanupFailed: report.failed.map((f) => f.name),
    })).then(
      () => progress.mark('undo:release-claim', 'compensated'),
      (releaseErr: unknown) => {
        const failure = describeFailure(releaseErr);
        progress.mark('undo:release-claim', 'failed', failure.message);
        report.failed.push({ name: 'release-claim', ...failure });
      },
    );
    progress.setState(isCancellation(err) ? 'cancelled' : 'failed', cause);
    if (isCancellation(err)) throw err;
    const leftovers = report.failed.length ? `; compensation failed for ${report.failed.map((f) => `${f.name} (${f.message})`).join(', ')}` : '';
    throw ApplicationFailure.create({
      type: cause.code,
      message: `provisioning ${input.machineName} on host ${input.hostName} failed: ${cause.message}${leftovers}`,
      nonRetryable: true,
      details: [report],
    });
  }
}

/** inspectHost: reads the BMC and records what it found; an unreachable BMC is recorded, not failed. */
export async function inspectHost(input: { hostId: string }): Promise<{ reachable: boolean; code?: string; message?: string }> {
  const progress = new ProgressTracker('inspectHost', input.hostId, ['inspect']);
  setHandler(progressQuery, () => progress.snapshot());
  try {
    const result = await progress.run('inspect', () => hostActs.hostInspect(input.hostId));
    progress.setState('completed');
    return result;
  } catch (err) {
    const cause = describeFailure(err);
    progress.setState('failed', cause);
    throw ApplicationFailure.create({ type: cause.code, message: `inspection failed: ${cause.message}`, nonRetryable: true });
  }
}

/**
 * hostPower: power on, power off (graceful, forced after the timeout) or reboot. One per host at a
 * time (the workflow id is per host and the API refuses a second); each step is idempotent.
 */
export async function hostPower(input: HostPowerInput): Promise<{ powerState: string }> {
  const progress = new ProgressTracker('hostPower', input.hostId, [input.action]);
  setHandler(progressQuery, () => progress.snapshot());
  try {
    const result = await progress.run(input.action, () => {
      if (input.action === 'power-on') return hostActs.hostPowerOn(input.hostId);
      if (input.action === 'reboot') return hostActs.hostReboot(input.hostId);
      return hostActs.hostPowerOff(input.hostId, { graceful: true, timeoutSec: input.shutdownTimeoutSec });
    });
    progress.setState('completed');
    return { powerState: result.powerState };
  } catch (err) {
    const cause = describeFailure(err);
    progress.setState('failed', cause);
    throw ApplicationFailure.create({ type: cause.code, message: `${input.action} failed: ${cause.message}`, nonRetryable: true });
  }
}
