import { ApplicationFailure, setHandler } from '@temporalio/workflow';
import type { PowerInput } from '../domain/machine.ts';
import { inventoryActs, machineActs } from './activity-options.ts';
import { ProgressTracker, describeFailure, progressQuery } from './support/progress.ts';

const STEPS = { start: ['start'], stop: ['shutdown'], restart: ['shutdown', 'start'] } as const;

/**
 * vmPower: start, stop (graceful, then hard after the timeout) or restart one machine. Its workflow
 * id is per machine and the API refuses a second one while one runs, so power changes never
 * interleave. Each step is idempotent (starting a running VM is a no-op), so nothing compensates.
 */
export async function vmPower(input: PowerInput): Promise<{ powerState: string }> {
  const steps = [...STEPS[input.action], 'record-power-state'];
  const progress = new ProgressTracker('vmPower', input.machineId, steps);
  setHandler(progressQuery, () => progress.snapshot());
  try {
    for (const step of STEPS[input.action]) {
      if (step === 'shutdown') await progress.run('shutdown', () => machineActs.shutdownVm(input.provider, input.providerId, input.shutdownTimeoutSec));
      else await progress.run('start', () => machineActs.startVm(input.provider, input.providerId));
    }
    const status = await progress.run('record-power-state', async () => {
      const s = await machineActs.vmStatus(input.provider, input.machineId);
      await inventoryActs.recordPowerState(input.machineId, s.powerState);
      return s;
    });
    progress.setState('completed');
    return { powerState: status.powerState };
  } catch (err) {
    const cause = describeFailure(err);
    progress.setState('failed', cause);
    throw ApplicationFailure.create({ type: cause.code, message: `${input.action} failed: ${cause.message}`, nonRetryable: true });
  }
}
