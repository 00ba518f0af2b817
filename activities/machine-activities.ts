// Machine activities: each one thin, idempotent and with one side effect. Clients are injected.
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import type { MikroORM } from '@mikro-orm/postgresql';
import { HangarError } from '../domain/errors.ts';
import { provisionWorkflowId, type MachineSpec, type MachineState, type ProviderName } from '../domain/machine.ts';
import { Machine } from '../db/entities/index.ts';
import type { Hypervisor, VmSpec } from '../providers/hypervisor.ts';
import type { BootDiagnosis } from '../domain/boot.ts';
import { withFailureMapping } from './failures.ts';

export interface MachineActivityDeps {
  orm: MikroORM;
  providers: Partial<Record<ProviderName, Hypervisor>>;
  temporal?: Client;
}

const vmSpec = (spec: MachineSpec): VmSpec => ({
  machineId: spec.machineId, name: spec.name, cpu: spec.cpu, memoryMb: spec.memoryMb, diskGb: spec.diskGb,
});

export function createMachineActivities(deps: MachineActivityDeps) {
  const hypervisor = (name: ProviderName): Hypervisor => {
    const h = deps.providers[name];
    if (!h) throw new HangarError('unprocessable', `provider "${name}" is not enabled on this worker`);
    return h;
  };

  return withFailureMapping({
    /** Records the machine's lifecycle state; setting the current state again changes nothing. */
    async setMachineState(machineId: string, state: MachineState, lastError: string | null = null): Promise<void> {
      const em = deps.orm.em.fork();
      const machine = await em.findOne(Machine, { id: machineId });
      if (!machine) throw new HangarError('not_found', `machine ${machineId} does not exist`);
      machine.state = state;
      machine.lastError = lastError;
      await em.flush();
    },

    async createVm(spec: MachineSpec): Promise<{ providerId: string }> {
      const { providerId } = await hypervisor(spec.provider).create(vmSpec(spec));
      const em = deps.orm.em.fork();
      await em.nativeUpdate(Machine, { id: spec.machineId }, { providerId });
      return { providerId };
    },

    async configureVm(spec: MachineSpec, providerId: string): Promise<void> {
      await hypervisor(spec.provider).configure(providerId, vmSpec(spec));
    },

    async startVm(provider: ProviderName, providerId: string): Promise<void> {
      await hypervisor(provider).start(providerId);
    },

    async stopVm(provider: ProviderName, providerId: string): Promise<void> {
      await hypervisor(provider).stop(providerId);
    },

    async deleteVm(provider: ProviderName, machineId: string): Promise<{ deleted: boolean }> {
      return hypervisor(provider).delete(machineId);
    },

    async vmStatus(provider: ProviderName, machineId: string) {
      return hypervisor(provider).status(machineId);
    },

    /** The evidence for a phone-home timeout: which seed documents were fetched, and power state. */
    async diagnoseBoot(provider: ProviderName, machineId: string): Promise<BootDiagnosis> {
      const machine = await deps.orm.em.fork().findOne(Machine, { id: machineId });
      const status = await hypervisor(provider).status(machineId);
      return {
        fetched: Object.keys(machine?.metadataFetches ?? {}).sort(),
        phonedHome: !!machine?.phonedHomeAt,
        powerState: status.powerState,
      };
    },

    /** Removes the inventory record; a record already gone is fine. */
    async deleteMachineRecord(machineId: string): Promise<void> {
      const em = deps.orm.em.fork();
      await em.nativeDelete(Machine, { id: machineId });
    },

    /**
     * Serialises operations on one machine: cancels a provision still running (it compensates)
     * and waits until it has finished, so a deprovision never races it.
     */
    async settleProvisioning(machineId: string): Promise<'none' | 'finished' | 'cancelled'> {
      if (!deps.temporal) throw new HangarError('internal', 'settleProvisioning needs a Temporal client');
      const handle = deps.temporal.workflow.getHandle(provisionWorkflowId(machineId));
      let status: string;
      try {
        status = (await handle.describe()).status.name;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return 'none';
        throw err;
      }
      if (status !== 'RUNNING') return 'finished';
      await handle.cancel();
      const ctx = Context.current();
      const beat = setInterval(() => ctx.heartbeat(), 1000);
      try {
        await handle.result().catch(() => undefined);
      } finally {
        clearInterval(beat);
      }
      return 'cancelled';
    },
  });
}

export type MachineActivities = ReturnType<typeof createMachineActivities>;
