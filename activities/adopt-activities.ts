// Adoption's activities: write Hangar's marker onto the VM (the provider's `adopt`, which changes
// nothing else) and resolve the finding. Thin and idempotent: marking a VM already marked for the
// machine and resolving a finding already resolved as adopted are no-ops.
import type { MikroORM } from '@mikro-orm/postgresql';
import { resolveAdoptedFinding } from '../db/repositories/drift-adopt.ts';
import { HangarError } from '../domain/errors.ts';
import type { ProviderName } from '../domain/machine.ts';
import type { Hypervisor } from '../providers/hypervisor.ts';
import { cancellable, withFailureMapping } from './failures.ts';

export interface AdoptDeps {
  orm: MikroORM;
  providers: Partial<Record<ProviderName, Hypervisor>>;
}

export function createAdoptActivities(deps: AdoptDeps) {
  return withFailureMapping({
    async markAdoptedVm(provider: ProviderName, providerId: string, machineId: string): Promise<{ marked: boolean }> {
      const h = deps.providers[provider];
      if (!h) throw new HangarError('unprocessable', `provider "${provider}" is not enabled on this worker`);
      if (!h.adopt) throw new HangarError('unprocessable', `provider "${provider}" cannot adopt VMs`);
      return h.adopt(providerId, machineId, cancellable());
    },

    async resolveAdoptedFinding(findingId: string, machineId: string): Promise<void> {
      await resolveAdoptedFinding(deps.orm.em, findingId, machineId);
    },
  });
}

export type AdoptActivities = ReturnType<typeof createAdoptActivities>;
