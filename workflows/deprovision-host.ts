import { ApplicationFailure, CancellationScope, proxyActivities, setHandler } from '@temporalio/workflow';
import type { HostActivities } from '../activities/host-activities.ts';
import type { DeprovisionHostInput, ForceReleaseInput } from '../domain/host.ts';
import { DEFAULT_RETRY } from '../domain/retry.ts';
import { hostActs, hostInventoryActs, hostInventoryCompensationActs, hostSettleActs } from './activity-options.ts';
import { ProgressTracker, describeFailure, progressQuery } from './support/progress.ts';

const parseSeconds = (d: string): number => {
  const m = /^(\d+)(ms|s|m|h)$/.exec(d);
  if (!m) return 3600;
  const n = Number(m[1]);
  return m[2] === 'ms' ? Math.ceil(n / 1000) : m[2] === 's' ? n : m[2] === 'm' ? n * 60 : n * 3600;
};

/**
 * deprovisionHost: mark deprovisioning → power off (graceful, forced after the timeout) → eject
 * media → clear the boot override → optionally boot a wipe image and wait for it to power the host
 * off, then eject and clear again → mark available (the machine record is deleted, which releases its
 * leases). Every step is "already so = done", so a failed run can simply be started again; until
 * then the host is in error with the reason.
 */
export async function deprovisionHost(input: DeprovisionHostInput): Promise<void> {
  const wipe = input.wipeImageUrl;
  const steps = ['mark-deprovisioning', 'power-off', 'eject-media', 'clear-override',
    ...(wipe ? ['insert-wipe-image', 'boot-override', 'power-on', 'wait-wipe', 'eject-wipe-image', 'clear-wipe-override'] : []),
    'mark-available'];
  const progress = new ProgressTracker('deprovisionHost', input.hostId, steps);
  setHandler(progressQuery, () => progress.snapshot());
  const { hostId } = input;
  let started = false;
  try {
    await progress.run('mark-deprovisioning', () => hostInventoryActs.hostStartDeprovisioning(hostId));
    started = true;
    await progress.run('power-off', () => hostActs.hostPowerOff(hostId, { graceful: true, timeoutSec: input.shutdownTimeoutSec }));
    await progress.run('eject-media', () => hostActs.hostEjectMedia(hostId));
    await progress.run('clear-override', () => hostActs.hostClearBootOverride(hostId));
    if (wipe) {
      const timeout = input.wipeTimeout ?? '4h';
      await progress.run('insert-wipe-image', () => hostActs.hostInsertMedia(hostId, wipe));
      await progress.run('boot-override', () => hostActs.hostBootFromVirtualMedia(hostId, null));
      await progress.run('power-on', () => hostActs.hostPowerOn(hostId));
      await progress.run('wait-wipe', async () => {
        const off = await wipeActs.hostWaitPoweredOff(hostId, parseSeconds(timeout));
        if (!off) throw ApplicationFailure.create({ type: 'provider_task_failed', message: `the wipe image did not power the host off within ${timeout}`, nonRetryable: true });
      });
      await progress.run('eject-wipe-image', () => hostActs.hostEjectMedia(hostId));
      await progress.run('clear-wipe-override', () => hostActs.hostClearBootOverride(hostId));
    }
    await progress.run('mark-available', () => hostInventoryActs.hostFinishDeprovisioning(hostId, input.machineId));
    progress.setState('completed');
  } catch (err) {
    const cause = describeFailure(err);
    progress.setState('failed', cause);
    // Only a deprovision that started leaves the host in error; a refused start changes nothing.
    if (started) {
      await CancellationScope.nonCancellable(() => hostInventoryCompensationActs.hostFail(hostId, `deprovisioning failed: ${cause.message}`))
        .catch(() => undefined);
    }
    throw ApplicationFailure.create({ type: cause.code, message: `deprovisioning failed: ${cause.message}`, nonRetryable: true });
  }
}

/** Waiting for a wipe may take hours: long, heartbeating. */
const wipeActs = proxyActivities<HostActivities>({ startToCloseTimeout: '24h', heartbeatTimeout: '60s', retry: DEFAULT_RETRY });

/** Force-release must not hang on a dead BMC: a few tries, then it moves on and says so. */
const bestEffortActs = proxyActivities<HostActivities>({
  startToCloseTimeout: '10m', heartbeatTimeout: '20s',
  retry: { ...DEFAULT_RETRY, maximumAttempts: 3 },
});

/**
 * forceReleaseHost (admin): gets a wedged host out. Cancels whatever runs on it (a provision
 * compensates: power off, eject, clear, release), then makes a best effort to power it off, eject
 * and clear the override (failures are reported, not fatal: the BMC may be the wedged part), and
 * releases it to available whatever state it was in. Its machine, if any, is marked failed.
 */
export async function forceReleaseHost(input: ForceReleaseInput): Promise<{ from: string; cleanupFailed: string[] }> {
  const progress = new ProgressTracker('forceReleaseHost', input.hostId, ['settle-workflows', 'power-off', 'eject-media', 'clear-override', 'release']);
  setHandler(progressQuery, () => progress.snapshot());
  const { hostId } = input;
  try {
    await progress.run('settle-workflows', async () => {
      const claim = await hostInventoryActs.hostClaimOf(hostId);
      for (const id of claim.workflowIds) await hostSettleActs.hostSettleWorkflow(id);
    });
    const cleanupFailed: string[] = [];
    const bestEffort = async (step: string, fn: () => Promise<unknown>) => {
      progress.mark(step, 'running');
      try {
        await fn();
        progress.mark(step, 'completed');
      } catch (err) {
        cleanupFailed.push(step);
        progress.mark(step, 'failed', describeFailure(err).message);
      }
    };
    await bestEffort('power-off', () => bestEffortActs.hostPowerOff(hostId, { graceful: false }));
    await bestEffort('eject-media', () => bestEffortActs.hostEjectMedia(hostId));
    await bestEffort('clear-override', () => bestEffortActs.hostClearBootOverride(hostId));
    const released = await progress.run('release', () => hostInventoryActs.hostForceRelease(hostId, input.reason, cleanupFailed));
    progress.setState('completed');
    return { from: released.from, cleanupFailed };
  } catch (err) {
    const cause = describeFailure(err);
    progress.setState('failed', cause);
    throw ApplicationFailure.create({ type: cause.code, message: `force-release failed: ${cause.message}`, nonRetryable: true });
  }
}
