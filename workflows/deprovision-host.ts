import { ApplicationFailure } from '@temporalio/workflow';
import type { DeprovisionHostInput, ForceReleaseInput } from '../domain/host.ts';
import { bmcActs, bmcBestEffortActs, inventoryActs, inventoryCompensationActs, settleActs, wipeWaitActs } from './activity-options.ts';
import { runOperation, stepsWhere } from './support/operation.ts';

const parseSeconds = (d: string): number => {
  const m = /^(\d+)(ms|s|m|h)$/.exec(d);
  if (!m) return 3600;
  const n = Number(m[1]);
  return m[2] === 'ms' ? Math.ceil(n / 1000) : m[2] === 's' ? n : m[2] === 'm' ? n * 60 : n * 3600;
};

export const DEPROVISION_HOST_STEPS = [
  'mark-deprovisioning',
  'power-off',
  'eject-media',
  'clear-override',
  'insert-wipe-image',
  'boot-override',
  'power-on',
  'wait-wipe',
  'eject-wipe-image',
  'clear-wipe-override',
  'mark-available',
] as const;
const WIPE_STEPS = ['insert-wipe-image', 'boot-override', 'power-on', 'wait-wipe', 'eject-wipe-image', 'clear-wipe-override'] as const;

/**
 * deprovisionHost: mark deprovisioning → power off (graceful, forced after the timeout) → eject
 * media → clear the boot override → optionally boot a wipe image and wait for it to power the host
 * off, then eject and clear again → mark available (the machine record is deleted, which releases its
 * leases). Every step is "already so = done", so a failed run can simply be started again; until
 * then the host is in error with the reason.
 */
export async function deprovisionHost(input: DeprovisionHostInput): Promise<void> {
  const { hostId, wipeImageUrl: wipe } = input;
  const skipWipe = Object.fromEntries(WIPE_STEPS.map((s) => [s, !!wipe]));
  return runOperation(
    {
      workflow: 'deprovisionHost',
      resourceId: hostId,
      failure: 'deprovisioning failed',
      steps: stepsWhere(DEPROVISION_HOST_STEPS, skipWipe),
    },
    async (op) => {
      await op.step('mark-deprovisioning', () => inventoryActs.hostStartDeprovisioning(hostId));
      // Only a deprovision that started leaves the host in error; a refused start changes nothing.
      op.undo('mark-failed', ({ cause }) => inventoryCompensationActs.hostFail(hostId, `deprovisioning failed: ${cause.message}`));
      await op.step('power-off', () => bmcActs.hostPowerOff(hostId, { graceful: true, timeoutSec: input.shutdownTimeoutSec }));
      await op.step('eject-media', () => bmcActs.hostEjectMedia(hostId));
      await op.step('clear-override', () => bmcActs.hostClearBootOverride(hostId));
      if (wipe) {
        const timeout = input.wipeTimeout ?? '4h';
        await op.step('insert-wipe-image', () => bmcActs.hostInsertMedia(hostId, wipe));
        await op.step('boot-override', () => bmcActs.hostBootFromVirtualMedia(hostId, null));
        await op.step('power-on', () => bmcActs.hostPowerOn(hostId));
        await op.step('wait-wipe', async () => {
          const off = await wipeWaitActs.hostWaitPoweredOff(hostId, parseSeconds(timeout));
          if (!off)
            throw ApplicationFailure.create({
              type: 'provider_task_failed',
              message: `the wipe image did not power the host off within ${timeout}`,
              nonRetryable: true,
            });
        });
        await op.step('eject-wipe-image', () => bmcActs.hostEjectMedia(hostId));
        await op.step('clear-wipe-override', () => bmcActs.hostClearBootOverride(hostId));
      }
      await op.step('mark-available', () => inventoryActs.hostFinishDeprovisioning(hostId, input.machineId));
    },
  );
}

export const FORCE_RELEASE_STEPS = ['settle-workflows', 'power-off', 'eject-media', 'clear-override', 'release'] as const;

/**
 * forceReleaseHost (admin): gets a wedged host out. Cancels whatever runs on it (a provision
 * compensates: power off, eject, clear, release), then makes a best effort to power it off, eject
 * and clear the override (failures are reported, not fatal: the BMC may be the wedged part), and
 * releases it to available whatever state it was in. Its machine, if any, is marked failed.
 */
export async function forceReleaseHost(input: ForceReleaseInput): Promise<{ from: string; cleanupFailed: string[] }> {
  const { hostId } = input;
  return runOperation({ workflow: 'forceReleaseHost', resourceId: hostId, steps: FORCE_RELEASE_STEPS, failure: 'force-release failed' }, async (op) => {
    await op.step('settle-workflows', async () => {
      const claim = await inventoryActs.hostClaimOf(hostId);
      for (const id of claim.workflowIds) await settleActs.settleWorkflow(id);
    });
    const cleanupFailed: string[] = [];
    if (!(await op.attempt('power-off', () => bmcBestEffortActs.hostPowerOff(hostId, { graceful: false })))) cleanupFailed.push('power-off');
    if (!(await op.attempt('eject-media', () => bmcBestEffortActs.hostEjectMedia(hostId)))) cleanupFailed.push('eject-media');
    if (!(await op.attempt('clear-override', () => bmcBestEffortActs.hostClearBootOverride(hostId)))) cleanupFailed.push('clear-override');
    const released = await op.step('release', () => inventoryActs.hostForceRelease(hostId, input.reason, cleanupFailed));
    return { from: released.from, cleanupFailed };
  });
}
