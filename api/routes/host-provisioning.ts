// Bare-metal provisioning: POST /api/v1/hosts/provision (and POST /api/v1/machines with provider
// "redfish") claim a host in PostgreSQL (atomically, SKIP LOCKED) for a new machine and run
// provisionHost; deprovisioning (a host action, or DELETE of a bare-metal machine) runs deprovisionHost.
import { randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { EntityManager } from '@mikro-orm/postgresql';
import { HangarError } from '../../domain/errors.ts';
import { canTransition } from '../../domain/host-state.ts';
import { durationMs, provisionHostBaseSchema, provisionHostSchema, type ProvisionHostRequest } from '../../domain/host-requests.ts';
import type { DeprovisionHostInput, ProvisionHostInput } from '../../domain/host.ts';
import { hostDeprovisionWorkflowId, provisionWorkflowId } from '../../workflows/contracts.ts';
import { Host, Machine, type IHost, type IMachine } from '../../db/entities/index.ts';
import { claimHost, loadHost, transitionHost } from '../../db/repositories/hosts.ts';
import type { ApiDeps } from '../context.ts';
import { operationSummary, startOperation, startOperationOrUndo } from '../operations.ts';
import { contractRouter, json, type ContractRouter } from '../contract/route.ts';
import { operationSummary as operationSummarySchema } from '../contract/schemas.ts';
import { host as hostSchema, machineBrief as machineBriefSchema } from '../contract/views.ts';
import { checkLinks, resolveTemplate } from './common.ts';
import { hostView } from './host-common.ts';
import { machineBrief, seedUrlOf, setSshKeys } from './machine-common.ts';

export interface ProvisionedResponse {
  machine: ReturnType<typeof machineBrief>;
  host: ReturnType<typeof hostView>;
  metadata_token: string;
  seed_url: string;
  /** The same seed as a cidata ISO, for the BMC to mount. */
  cidata_url: string;
  operation: ReturnType<typeof operationSummary>;
}

/**
 * Claims a host (by name/id, tags, or any available one) for a new baremetal machine and starts
 * provisionHost. The claim happens here, in one PostgreSQL transaction, so "nothing available" is a
 * synchronous 409 no_host_available; if the workflow cannot be started the claim is undone.
 */
export async function provisionBaremetal(deps: ApiDeps, body: ProvisionHostRequest, requestedBy: string): Promise<ProvisionedResponse> {
  const em = deps.orm.em.fork();
  if (await em.count(Machine, { name: body.name })) {
    throw new HangarError('already_exists', `a machine named "${body.name}" already exists`, { name: 'already exists' });
  }
  await checkLinks(em, body);
  const image = await bootImageFor(em, body);
  const machineId = randomUUID();
  const token = randomBytes(24).toString('base64url');
  const deadline = body.claim_timeout ? Date.now() + durationMs(body.claim_timeout) : 0;
  const claim = () =>
    claimHost(
      em,
      { ...(body.host ? { host: body.host } : {}), ...(body.tags ? { tags: body.tags } : {}) },
      () => `claimed for machine ${body.name} (${machineId})`,
      async (tx, host) => {
        tx.create(Machine, {
          id: machineId,
          name: body.name,
          kind: 'baremetal',
          provider: 'redfish',
          cpu: body.cpu ?? 1,
          memoryMb: body.memory_mb ?? 1,
          diskGb: body.disk_gb ?? 1,
          metadataToken: token,
          networkId: body.network_id ?? null,
          domain: body.domain ?? null,
          userDataExtras: body.user_data_extras ?? null,
          providerId: host.id,
          targetNode: host.name,
          template: image.template,
        });
        await tx.flush();
        await setSshKeys(tx, machineId, body.ssh_key_ids ?? []);
        return machineId;
      },
    );
  let claimed: Awaited<ReturnType<typeof claim>>;
  for (;;) {
    try {
      claimed = await claim();
      break;
    } catch (err) {
      // claim_timeout: wait for a host to come free (released, out of maintenance, registered).
      if (!(err instanceof HangarError) || err.code !== 'no_host_available' || Date.now() >= deadline) throw err;
      await new Promise((r) => setTimeout(r, Math.min(1000, Math.max(0, deadline - Date.now()))));
    }
  }
  const host = await loadHost(em, claimed.hostId);
  const wait = body.wait_for_phone_home ?? true;
  const input: ProvisionHostInput = {
    hostId: host.id,
    hostName: host.name,
    machineId,
    machineName: body.name,
    imageUrl: image.imageUrl,
    ...(body.boot_mode ? { bootMode: body.boot_mode } : {}),
    ...(wait ? { phoneHomeTimeout: body.phone_home_timeout ?? deps.config.redfish.phoneHomeTimeout } : {}),
    ...(body.network_id ? { networkId: body.network_id } : {}),
    ...(host.bootMac ? { mac: host.bootMac.toLowerCase() } : {}),
  };
  const operation = await startOperationOrUndo(
    deps.orm.em.fork(),
    deps.temporal,
    deps.config,
    {
      kind: 'provision-host',
      workflow: 'provisionHost',
      workflowId: provisionWorkflowId(machineId),
      args: [input],
      resourceType: 'machine',
      resourceId: machineId,
      requestedBy,
    },
    // No workflow: give the host back and drop the machine, so nothing is left claimed for nothing.
    async (err) => {
      await transitionHost(deps.orm.em, host.id, 'release', {
        message: `provisioning could not start: ${(err as Error).message}`,
        expectClaimedBy: machineId,
        claimedBy: null,
      }).catch(() => undefined);
      await deps.orm.em.fork().nativeDelete(Machine, { id: machineId });
    },
  );
  const machine = await em.fork().findOneOrFail(Machine, { id: machineId });
  const seedUrl = seedUrlOf(deps.config, machineId, token);
  return {
    machine: machineBrief(machine),
    host: hostView(host),
    metadata_token: token,
    seed_url: seedUrl,
    cidata_url: `${seedUrl}cidata.iso`,
    operation: operationSummary(deps.config, operation),
  };
}

/** The body of POST /api/v1/machines with provider "redfish": the provision request plus the provider. */
export const createRedfishMachineSchema = provisionHostBaseSchema
  .extend({ provider: z.literal('redfish') })
  .refine((v) => !(v.host && v.tags), { message: 'give either host or tags, not both', path: ['host'] })
  .refine((v) => (v.image_url === undefined) !== (v.template === undefined), {
    message: 'give either image_url or template (exactly one)',
    path: ['image_url'],
  })
  .meta({ id: 'CreateRedfishMachine' });

/** The answer to a bare-metal provision: the machine, the claimed host, its seed and the operation. */
export const provisionedSchema = z
  .strictObject({
    machine: machineBriefSchema,
    host: hostSchema,
    metadata_token: z.string().meta({ description: "the machine's metadata secret (shown here once)" }),
    seed_url: z.string(),
    cidata_url: z.string(),
    operation: operationSummarySchema,
  })
  .meta({ id: 'ProvisionedHost' });

/** The image a provision boots: the request's image_url, or the named redfish template's (which must be ready). */
async function bootImageFor(em: EntityManager, body: ProvisionHostRequest): Promise<{ imageUrl: string; template: string | null }> {
  if (body.image_url !== undefined) return { imageUrl: body.image_url, template: null };
  const template = await resolveTemplate(em, body.template!, 'redfish');
  return { imageUrl: template.image, template: template.name };
}

/** Starts deprovisionHost for a host (provisioned or in error); shared with DELETE /machines for baremetal machines. */
export async function startHostDeprovision(deps: ApiDeps, host: IHost, requestedBy: string, opts: { wipeImageUrl?: string; wipeTimeout?: string } = {}) {
  if (!canTransition(host.state, 'start-deprovisioning')) {
    throw new HangarError(
      'invalid_state',
      `host ${host.name} is ${host.state}; deprovisioning needs it provisioned or in error${host.state === 'provisioning' || host.state === 'claimed' ? ' (cancel the provision or force-release it)' : ''}`,
      { state: host.state },
    );
  }
  const input: DeprovisionHostInput = {
    hostId: host.id,
    machineId: host.claimedBy ?? null,
    shutdownTimeoutSec: deps.config.provision.shutdownTimeoutSec,
    ...(opts.wipeImageUrl ? { wipeImageUrl: opts.wipeImageUrl } : {}),
    ...(opts.wipeTimeout ? { wipeTimeout: opts.wipeTimeout } : {}),
  };
  return startOperation(deps.orm.em.fork(), deps.temporal, deps.config, {
    kind: 'deprovision-host',
    workflow: 'deprovisionHost',
    workflowId: hostDeprovisionWorkflowId(host.id),
    args: [input],
    resourceType: 'host',
    resourceId: host.id,
    requestedBy,
    onConflict: 'fail',
  });
}

/**
 * For DELETE /api/v1/machines/{id} on a baremetal machine: deprovision the host carrying it; a
 * machine whose host is gone (failed provision, force-released) is just deleted. null: not baremetal.
 */
export async function deprovisionBaremetalMachine(deps: ApiDeps, machine: IMachine, requestedBy: string) {
  if (machine.kind !== 'baremetal') return null;
  const host = await deps.orm.em.fork().findOne(Host, { claimedBy: machine.id });
  if (!host) {
    if (machine.state === 'provisioning' || machine.state === 'pending') {
      throw new HangarError('invalid_state', `machine ${machine.name} is ${machine.state}; wait for it or force-release its host`, { state: machine.state });
    }
    await deps.orm.em.fork().nativeDelete(Machine, { id: machine.id });
    return { deleted: true as const, operation: null };
  }
  return { deleted: false as const, operation: await startHostDeprovision(deps, host, requestedBy) };
}

const provisionHostBody = provisionHostSchema.meta({ id: 'ProvisionHost' });

/** POST /api/v1/hosts/provision; the same claim is POST /api/v1/machines with provider "redfish". */
export function hostProvisioningRouter(deps: ApiDeps): ContractRouter {
  const r = contractRouter({ tags: ['hosts'] });

  r.route({
    method: 'post',
    path: '/provision',
    summary: 'Claim a host (by name, tags or any available) and provision it as a bare-metal machine',
    body: provisionHostBody,
    // 404: the host named by "host" does not exist.
    responses: { 202: json(provisionedSchema, 'the machine, the host and the operation') },
    errors: [404, 409, 422, 503],
    handler: async ({ body }, req, res) => {
      const out = await provisionBaremetal(deps, body, req.actor!.name);
      res.locals.audit = { action: 'hosts.provision', resourceType: 'machine', resourceId: out.machine.id, detail: { name: body.name, host: out.host.name } };
      res.status(202).location(`/api/v1/machines/${out.machine.id}`).json(out);
    },
  });

  return r;
}
