import type { PowerInput } from '../domain/machine.ts';
import { inventoryActs, vmActs } from './activity-options.ts';
import { runOperation } from './support/operation.ts';

const STEPS = { start: ['start'], stop: ['shutdown'], restart: ['shutdown', 'start'] } as const;

/**
 * vmPower: start, stop (graceful, then hard after the timeout) or restart one machine. Its workflow
 * id is per machine and the API refuses a second one while one runs, so power changes never
 * interleave. Each step is idempotent (starting a running VM is a no-op), so nothing compensates.
 */
export async function vmPower(input: PowerInput): Promise<{ powerState: string }> {
  const { machineId, provider, providerId } = input;
  const steps = [...STEPS[input.action], 'record-power-state'] as const;
  return runOperation({ workflow: 'vmPower', resourceId: machineId, steps, failure: `${input.action} failed` }, async (op) => {
    for (const step of STEPS[input.action]) {
      if (step === 'shutdown') await op.step('shutdown', () => vmActs.shutdownVm(provider, providerId, input.shutdownTimeoutSec));
      else await op.step('start', () => vmActs.startVm(provider, providerId));
    }
    const status = await op.step('record-power-state', async () => {
      const s = await vmActs.vmStatus(provider, machineId);
      await inventoryActs.recordPowerState(machineId, s.powerState);
      return s;
    });
    return { powerState: status.powerState };
  });
}
