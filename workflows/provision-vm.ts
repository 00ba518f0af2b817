import { ActivityCancellationType, ApplicationFailure, isCancellation, setHandler, CancellationScope, condition, defineSignal, proxyActivities } from '@temporalio/workflow';
import type { Duration } from '@temporalio/common';
import { explainBoot, type PhoneHomePayload } from '../domain/boot.ts';
import type { MachineSpec } from '../domain/machine.ts';
import type { MachineActivities } from '../activities/machine-activities.ts';
import { DEFAULT_RETRY } from '../domain/retry.ts';
import { machineActs, compensationActs, inventoryActs, inventoryCompensationActs } from './activity-options.ts';
import { CompensationStack } from './support/compensation.ts';
import { ProgressTracker, describeFailure, progressQuery } from './support/progress.ts';

export const PROVISION_STEPS = ['mark-provisioning', 'create', 'configure', 'start', 'mark-ready'];

/** Sent by the metadata service when the machine's cloud-init phones home. */
export const phoneHomeSignal = defineSignal<[PhoneHomePayload]>('phoneHome');

const stepsFor = (spec: MachineSpec) => [
  'mark-provisioning',
  ...(spec.networkId ? ['reserve-lease'] : []),
  'create', 'configure', 'start',
  ...(spec.phoneHomeTimeout ? ['wait-phone-home'] : []),
  'mark-ready',
];

/** Clones run on their own queue when the spec names one (a worker there caps them per node). */
function cloneActs(spec: MachineSpec) {
  if (!spec.cloneQueue) return machineActs;
  // Heartbeats deliver cancellation, so the timeout bounds how long a cancelled clone runs on unseen.
  return proxyActivities<MachineActivities>({
    taskQueue: spec.cloneQueue, startToCloseTimeout: '30m', heartbeatTimeout: '10s', retry: DEFAULT_RETRY,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });
}

/**
 * provisionVm: mark provisioning → reserve lease → create (clone) → configure (cpu, memory, disk,
 * NIC, cloud-init seed) → start → wait for phone-home → mark ready. Any permanent failure (or
 * cancellation) unwinds what was done — VM with its ISO and disks, the lease — and marks the machine failed.
 */
export async function provisionVm(spec: MachineSpec): Promise<{ machineId: string; providerId: string }> {
  const progress = new ProgressTracker('provisionVm', spec.machineId, stepsFor(spec));
  setHandler(progressQuery, () => progress.snapshot());
  let phonedHome: PhoneHomePayload | null = null;
  setHandler(phoneHomeSignal, (payload) => {
    phonedHome = payload ?? {};
  });
  const undo = new CompensationStack();

  try {
    await progress.run('mark-provisioning', () => inventoryActs.setMachineState(spec.machineId, 'provisioning'));
    const networkId = spec.networkId;
    if (networkId) {
      const lease = await progress.run('reserve-lease', () => inventoryActs.reserveLease(spec.machineId, networkId, spec.mac ?? null));
      // A lease the user reserved beforehand stays theirs; only ours is released on failure.
      if (lease.created) undo.push('release-lease', () => inventoryCompensationActs.releaseMachineLease(spec.machineId, networkId));
    }
    // Registered before the call: a create that succeeded but whose reply was lost must still be undone.
    undo.push('delete-vm', () => compensationActs.deleteVm(spec.provider, spec.machineId));
    const { providerId } = await progress.run('create', () => cloneActs(spec).createVm(spec));
    await progress.run('configure', () => machineActs.configureVm(spec, providerId));
    undo.push('stop-vm', () => compensationActs.stopVm(spec.provider, providerId));
    await progress.run('start', () => machineActs.startVm(spec.provider, providerId));
    const timeout = spec.phoneHomeTimeout;
    if (timeout) {
      await progress.run('wait-phone-home', async () => {
        if (await condition(() => phonedHome !== null, timeout as Duration)) return;
        const diagnosis = await machineActs.diagnoseBoot(spec.provider, spec.machineId);
        throw ApplicationFailure.create({ type: 'phone_home_timeout', message: `no phone-home within ${timeout}: ${explainBoot(diagnosis)}`, nonRetryable: true, details: [diagnosis] });
      });
    }
    await progress.run('mark-ready', async () => {
      if (networkId) await inventoryActs.activateLease(spec.machineId);
      await inventoryActs.setMachineState(spec.machineId, 'ready');
    });
    progress.setState('completed');
    return { machineId: spec.machineId, providerId };
  } catch (err) {
    const cause = describeFailure(err);
    progress.setState('compensating', cause);
    const report = await undo.unwind(progress);
    await CancellationScope.nonCancellable(() =>
      inventoryCompensationActs.setMachineState(spec.machineId, 'failed', cause.message),
    ).catch((markErr: unknown) => report.failed.push({ name: 'mark-failed', ...describeFailure(markErr) }));
    progress.setState(isCancellation(err) ? 'cancelled' : 'failed', cause);
    if (isCancellation(err)) throw err;
    const leftovers = report.failed.length ? `; compensation failed for ${report.failed.map((f) => `${f.name} (${f.message})`).join(', ')}` : '';
    throw ApplicationFailure.create({
      type: cause.code,
      message: `provisioning ${spec.name} failed: ${cause.message}${leftovers}`,
      nonRetryable: true,
      details: [report],
    });
  }
}
