// POST /api/v1/drift/{id}/actions/adopt: an operator imports the VM behind an open `unmanaged`
// finding as a machine. The record (the VM's own size, no lease unless a network is named) is
// written here in state `provisioning`; the adoptVm workflow writes Hangar's marker onto the VM,
// makes the machine ready and resolves the finding as `adopted`. Nothing else about the VM
// changes (docs/decisions/0020-proxmox-adopt-and-orphans.md).
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { getFinding } from '../../db/repositories/drift.ts';
import { Machine, Network } from '../../db/entities/index.ts';
import { adoptionOf } from '../../domain/drift-adopt.ts';
import { HangarError } from '../../domain/errors.ts';
import { createMachineSchema } from '../../domain/machine.ts';
import { adoptWorkflowId } from '../../workflows/contracts.ts';
import type { ApiDeps } from '../context.ts';
import { contractRouter, json, type ContractRouter } from '../contract/route.ts';
import { byId, operationSummary as operationSummarySchema } from '../contract/schemas.ts';
import { driftFinding, machine as machineSchema } from '../contract/views.ts';
import { isUuid } from '../pagination.ts';
import { operationSummary, startOperationOrUndo } from '../operations.ts';
import { requireEnabledProvider } from './common.ts';
import { machineView } from './machine-common.ts';

const adoptBody = z
  .strictObject({
    name: createMachineSchema.shape.name.optional().meta({ description: "the machine's name (default: the VM's name as a hostname label)" }),
    network_id: z.uuid().optional().meta({ description: 'reserve an address for the machine in this network (default: no lease)' }),
  })
  .meta({ id: 'AdoptVm' });

const adopted = z.strictObject({ finding: driftFinding, machine: machineSchema, operation: operationSummarySchema }).meta({ id: 'AdoptedVm' });

export function driftAdoptRouter(deps: ApiDeps): ContractRouter {
  const r = contractRouter({ tags: ['drift'] });

  r.route({
    method: 'post',
    path: '/:id/actions/adopt',
    params: byId('drift finding'),
    body: adoptBody,
    bodyRequired: false,
    summary: 'Adopt the unmanaged VM of a drift finding as a machine',
    description:
      "Imports the VM as it is (its CPUs, memory, disk and power; no lease unless network_id is given) and writes Hangar's marker onto it; nothing else about the VM changes. 409 unless the finding is an open unmanaged VM finding, or the name or VM is taken.",
    responses: { 202: json(adopted, 'the finding, the new machine (provisioning until the operation ends) and the operation') },
    errors: [404, 409, 422, 503],
    handler: async ({ params, body }, req, res) => {
      if (!isUuid(params.id)) throw new HangarError('not_found', `drift finding ${params.id} not found`);
      const em = deps.orm.em.fork();
      const finding = await getFinding(em, params.id);
      const adoption = adoptionOf(finding, body?.name);
      requireEnabledProvider(deps.config, adoption.provider);
      if (await em.count(Machine, { provider: adoption.provider, providerId: adoption.providerId, state: { $ne: 'deleted' } })) {
        throw new HangarError('already_exists', `VM ${adoption.providerId} already belongs to a machine`);
      }
      if (await em.count(Machine, { name: adoption.name })) {
        throw new HangarError('already_exists', `a machine named "${adoption.name}" already exists; give another "name"`, { name: 'already exists' });
      }
      if (body?.network_id && !(await em.count(Network, { id: body.network_id }))) {
        throw new HangarError('not_found', `network ${body.network_id} not found`, { network_id: 'not found' });
      }
      const id = crypto.randomUUID();
      const machine = em.create(Machine, {
        id,
        name: adoption.name,
        provider: adoption.provider,
        state: 'provisioning',
        cpu: adoption.cpu,
        memoryMb: adoption.memoryMb,
        diskGb: adoption.diskGb,
        providerId: adoption.providerId,
        targetNode: adoption.node,
        powerState: adoption.power,
        networkId: body?.network_id ?? null,
        // Adopted VMs were not seeded by Hangar; the token only answers the metadata service.
        metadataToken: randomBytes(24).toString('base64url'),
      });
      await em.flush();
      const operation = await startOperationOrUndo(
        em,
        deps.temporal,
        deps.config,
        {
          kind: 'adopt',
          workflow: 'adoptVm',
          workflowId: adoptWorkflowId(finding.id),
          args: [{ machineId: id, adoption, ...(body?.network_id ? { networkId: body.network_id } : {}) }],
          resourceType: 'machine',
          resourceId: id,
          requestedBy: req.actor!.name,
          onConflict: 'fail',
        },
        () => deps.orm.em.fork().nativeDelete(Machine, { id }),
      );
      res.locals.audit = {
        action: 'drift.adopt',
        resourceType: 'drift_finding',
        resourceId: finding.id,
        detail: { machine_id: id, name: adoption.name, provider: adoption.provider, provider_id: adoption.providerId },
      };
      res
        .status(202)
        .location(`/api/v1/machines/${id}`)
        .json({ finding, machine: machineView(machine), operation: operationSummary(deps.config, operation) });
    },
  });

  return r;
}
