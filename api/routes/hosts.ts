// /api/v1/hosts: bare-metal hosts behind Redfish BMCs. Registering a host seals its BMC password
// (AES-256-GCM, never returned or logged) and starts an inspection; provisioning claims a host in
// PostgreSQL (atomically, SKIP LOCKED) and runs provisionHost; actions power, inspect, deprovision,
// force-release or park a host in maintenance. Every state change goes through domain/host.ts.
import { randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { EntityManager } from '@mikro-orm/postgresql';
import { HangarError } from '../../domain/errors.ts';
import { safeFilter, safeText } from '../../domain/text.ts';
import { HOST_STATES, canTransition } from '../../domain/host-state.ts';
import { parseBmcAddress } from '../../domain/bmc-address.ts';
import {
  HOST_ACTIONS,
  durationMs,
  createHostSchema,
  deprovisionHostSchema,
  provisionHostBaseSchema,
  provisionHostSchema,
  updateHostSchema,
  type HostAction,
  type ProvisionHostRequest,
} from '../../domain/host-requests.ts';
import type { DeprovisionHostInput, HostPowerAction, ProvisionHostInput } from '../../domain/host.ts';
import {
  hostDeprovisionWorkflowId,
  hostInspectWorkflowId,
  hostPowerWorkflowId,
  hostReleaseWorkflowId,
  provisionWorkflowId,
} from '../../workflows/contracts.ts';
import { sealSecret } from '../../domain/secrets.ts';
import { hostSecretKey } from '../../keyfiles/host-key.ts';
import { Host, Machine, Operation, type IHost, type IMachine } from '../../db/entities/index.ts';
import { claimHost, loadHost, transitionHost, updateHostObservation } from '../../db/repositories/hosts.ts';
import { sqlFor } from '../../db/sql.ts';
import type { ApiDeps } from '../context.ts';
import { operationSummary, startOperation } from '../operations.ts';
import { pageOf, parsePage } from '../pagination.ts';
import { contractRouter, json, noContent, type ContractRouter } from '../contract/route.ts';
import { byRef, operationSummary as operationSummarySchema, page, paging, refParam } from '../contract/schemas.ts';
import { host as hostSchema, hostDetail, machineBrief as machineBriefSchema } from '../contract/views.ts';
import { checkLinks, resolveTemplate } from './common.ts';

export function hostView(h: IHost) {
  return {
    id: h.id,
    name: h.name,
    description: h.description ?? null,
    bmc_address: h.bmcAddress,
    username: h.username,
    verify_tls: h.verifyTls,
    ca_pem: h.caPem ?? null,
    fingerprint: h.fingerprint ?? null,
    boot_mac: h.bootMac ?? null,
    tags: h.tags,
    state: h.state,
    claimed_by: h.claimedBy ?? null,
    claimed_at: h.claimedAt ?? null,
    vendor: h.vendor ?? null,
    model: h.model ?? null,
    serial_number: h.serialNumber ?? null,
    power_state: h.powerState ?? null,
    boot_modes: h.bootModes ?? null,
    virtual_media_supported: h.virtualMediaSupported ?? null,
    inspected_at: h.inspectedAt ?? null,
    conditions: h.conditions,
    last_error: h.lastError ?? null,
    created_at: h.createdAt,
    updated_at: h.updatedAt,
  };
}

const machineBrief = (m: IMachine) => ({
  id: m.id,
  name: m.name,
  kind: m.kind,
  provider: m.provider,
  state: m.state,
  provider_id: m.providerId ?? null,
  last_error: m.lastError ?? null,
});

const listQuery = z.object({
  state: z.enum(HOST_STATES).optional(),
  tag: safeFilter(63).optional(),
  ...paging,
});

/** A clear 400 when a password-bearing body is malformed, without echoing any value. */
function checkTls(body: { bmc_address?: string | undefined; verify_tls?: boolean | undefined; fingerprint?: string | null | undefined }): void {
  if (body.bmc_address && parseBmcAddress(body.bmc_address).insecureTransport && body.fingerprint) {
    throw new HangarError('validation_failed', 'a fingerprint pins a TLS certificate: it needs a redfish+https:// address', { fingerprint: 'needs https' });
  }
}

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
        const keys = [...new Set(body.ssh_key_ids ?? [])];
        if (keys.length) {
          await sqlFor(tx)(`insert into machine_ssh_keys (machine_id, ssh_key_id) select ?, jsonb_array_elements_text(?::jsonb)::uuid on conflict do nothing`, [
            machineId,
            JSON.stringify(keys),
          ]);
        }
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
  let operation;
  try {
    operation = await startOperation(deps.orm.em.fork(), deps.temporal, deps.config, {
      kind: 'provision-host',
      workflow: 'provisionHost',
      workflowId: provisionWorkflowId(machineId),
      args: [input],
      resourceType: 'machine',
      resourceId: machineId,
      requestedBy,
    });
  } catch (err) {
    // No workflow: give the host back and drop the machine, so nothing is left claimed for nothing.
    await transitionHost(deps.orm.em, host.id, 'release', {
      message: `provisioning could not start: ${(err as Error).message}`,
      expectClaimedBy: machineId,
      claimedBy: null,
    }).catch(() => undefined);
    await deps.orm.em.fork().nativeDelete(Machine, { id: machineId });
    throw err;
  }
  const machine = await em.fork().findOneOrFail(Machine, { id: machineId });
  return {
    machine: machineBrief(machine),
    host: hostView(host),
    metadata_token: token,
    seed_url: `${deps.config.api.publicUrl.replace(/\/+$/, '')}/cloud-init/${machineId}/${token}/`,
    cidata_url: `${deps.config.api.publicUrl.replace(/\/+$/, '')}/cloud-init/${machineId}/${token}/cidata.iso`,
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

async function startInspection(deps: ApiDeps, host: IHost, requestedBy: string) {
  return startOperation(deps.orm.em.fork(), deps.temporal, deps.config, {
    kind: 'inspect-host',
    workflow: 'inspectHost',
    workflowId: hostInspectWorkflowId(host.id),
    args: [{ hostId: host.id }],
    resourceType: 'host',
    resourceId: host.id,
    requestedBy,
  });
}

const BUSY = new Set(['claimed', 'provisioning', 'deprovisioning']);

const createHostBody = createHostSchema.meta({ id: 'CreateHost' });
const updateHostBody = updateHostSchema.meta({ id: 'UpdateHost' });
const provisionHostBody = provisionHostSchema.meta({ id: 'ProvisionHost' });
/** deprovision reads the wipe fields, force-release the reason; other actions take no body. */
const hostActionBody = deprovisionHostSchema
  .extend({ reason: safeText(512).optional().meta({ description: 'force-release: why (for the audit trail)' }) })
  .meta({ id: 'HostActionRequest' });
const hostAndAction = z.object({ ref: refParam('host'), action: z.string().meta({ enum: [...HOST_ACTIONS] }) });
const isHostAction = (action: string): action is HostAction => (HOST_ACTIONS as readonly string[]).includes(action);
const hostOperation = z.strictObject({ host: hostSchema, operation: operationSummarySchema.nullable() }).meta({ id: 'HostOperation' });

export function hostsRouter(deps: ApiDeps): ContractRouter {
  const r = contractRouter({ tags: ['hosts'] });
  let key: Buffer | undefined;
  const secretKey = () => (key ??= hostSecretKey(deps.config));

  r.route({
    method: 'post',
    path: '/',
    summary: 'Register a host behind its BMC (202 with the inspection; 201 when it could not start)',
    body: createHostBody,
    responses: { 202: json(hostOperation, 'the host and its inspection'), 201: json(hostOperation, 'the host; the inspection did not start (operation null)') },
    errors: [409],
    handler: async ({ body }, req, res) => {
      checkTls(body);
      const em = deps.orm.em.fork();
      if (await em.count(Host, { name: body.name })) {
        throw new HangarError('already_exists', `a host named "${body.name}" already exists`, { name: 'already exists' });
      }
      const id = randomUUID();
      const host = em.create(Host, {
        id,
        name: body.name,
        description: body.description ?? null,
        bmcAddress: body.bmc_address.trim(),
        username: body.username,
        passwordSealed: sealSecret(secretKey(), body.password, `host:${id}`),
        verifyTls: body.verify_tls ?? true,
        caPem: body.ca_pem ?? null,
        fingerprint: body.fingerprint ?? null,
        bootMac: body.boot_mac?.toLowerCase() ?? null,
        tags: [...new Set(body.tags ?? [])],
        conditions: [
          { type: 'bmc_reachable', status: 'Unknown', reason: 'Inspecting', message: 'inspection requested', lastTransitionTime: new Date().toISOString() },
        ],
      });
      await em.flush();
      res.locals.audit = { action: 'hosts.create', resourceType: 'host', resourceId: id, detail: { name: body.name, bmc_address: body.bmc_address } };
      let operation = null;
      try {
        operation = await startInspection(deps, host, req.actor!.name);
      } catch (err) {
        // The host is registered either way; the inspection can be asked for again.
        await updateHostObservation(deps.orm.em, id, [
          { type: 'bmc_reachable', status: 'Unknown', reason: 'InspectionNotStarted', message: (err as Error).message },
        ]);
      }
      const fresh = await deps.orm.em.fork().findOneOrFail(Host, { id });
      res
        .status(operation ? 202 : 201)
        .location(`/api/v1/hosts/${id}`)
        .json({ host: hostView(fresh), operation: operation ? operationSummary(deps.config, operation) : null });
    },
  });

  r.route({
    method: 'get',
    path: '/',
    summary: 'List hosts (by name)',
    query: listQuery,
    responses: { 200: json(page(hostSchema), 'a page of hosts') },
    handler: async ({ query: q }, req, res) => {
      const pg = parsePage(req.query, deps.config.api.maxPageSize);
      const where: Record<string, unknown> = {};
      if (q.state) where.state = q.state;
      if (pg.after !== null) where.name = { $gt: pg.after };
      const em = deps.orm.em.fork();
      if (q.tag) {
        const ids = await sqlFor(em)<{ id: string }[]>(`select id from host where tags @> ?::jsonb`, [JSON.stringify([q.tag])]);
        where.id = { $in: ids.map((row) => row.id) };
      }
      const rows: IHost[] = await em.find(Host, where, { orderBy: { name: 'asc' }, limit: pg.pageSize + 1 });
      const { items, next_cursor } = pageOf(rows, pg.pageSize, (h) => h.name);
      res.json({ items: items.map(hostView), next_cursor });
    },
  });

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

  r.route({
    method: 'get',
    path: '/:ref',
    summary: 'Get a host with its machine and latest operations',
    params: byRef('host'),
    responses: { 200: json(hostDetail, 'the host') },
    errors: [404],
    handler: async ({ params }, _req, res) => {
      const host = await loadHost(deps.orm.em, params.ref);
      const em = deps.orm.em.fork();
      const machine = host.claimedBy ? await em.findOne(Machine, { id: host.claimedBy }) : null;
      const resourceIds = [host.id, ...(host.claimedBy ? [host.claimedBy] : [])];
      const ops = await em.find(Operation, { resourceId: { $in: resourceIds } }, { orderBy: { createdAt: 'desc' }, limit: 10 });
      res.json({ ...hostView(host), machine: machine ? machineBrief(machine) : null, operations: ops.map((o) => operationSummary(deps.config, o)) });
    },
  });

  r.route({
    method: 'patch',
    path: '/:ref',
    summary: 'Change a host (BMC address, credentials, TLS, tags, description)',
    params: byRef('host'),
    body: updateHostBody,
    responses: { 200: json(hostSchema, 'the host') },
    errors: [404],
    handler: async ({ params, body }, _req, res) => {
      const host = await loadHost(deps.orm.em, params.ref);
      checkTls({ bmc_address: body.bmc_address ?? host.bmcAddress, fingerprint: body.fingerprint === undefined ? host.fingerprint : body.fingerprint });
      const change: Partial<IHost> = {};
      if (body.bmc_address !== undefined) change.bmcAddress = body.bmc_address.trim();
      if (body.username !== undefined) change.username = body.username;
      if (body.password !== undefined) change.passwordSealed = sealSecret(secretKey(), body.password, `host:${host.id}`);
      if (body.verify_tls !== undefined) change.verifyTls = body.verify_tls;
      if (body.ca_pem !== undefined) change.caPem = body.ca_pem;
      if (body.fingerprint !== undefined) change.fingerprint = body.fingerprint;
      if (body.boot_mac !== undefined) change.bootMac = body.boot_mac?.toLowerCase() ?? null;
      if (body.tags !== undefined) change.tags = [...new Set(body.tags)];
      if (body.description !== undefined) change.description = body.description;
      if (Object.keys(change).length) await deps.orm.em.fork().nativeUpdate(Host, { id: host.id }, { ...change, updatedAt: new Date() });
      res.locals.audit = { action: 'hosts.update', resourceType: 'host', resourceId: host.id, detail: { fields: Object.keys(body) } };
      res.json(hostView(await deps.orm.em.fork().findOneOrFail(Host, { id: host.id })));
    },
  });

  r.route({
    method: 'delete',
    path: '/:ref',
    summary: 'Forget a host (available, maintenance or error, and unclaimed)',
    params: byRef('host'),
    responses: { 204: noContent('deleted') },
    errors: [404, 409],
    handler: async ({ params }, _req, res) => {
      const host = await loadHost(deps.orm.em, params.ref);
      if (!['available', 'maintenance', 'error'].includes(host.state) || host.claimedBy) {
        throw new HangarError(
          'invalid_state',
          `host ${host.name} is ${host.state}${host.claimedBy ? ` and claimed by machine ${host.claimedBy}` : ''}; deprovision or force-release it first`,
          { state: host.state },
        );
      }
      const deleted = await sqlFor(deps.orm.em.fork())<{ id: string }[]>(
        `delete from host where id = ? and state in ('available', 'maintenance', 'error') and claimed_by is null returning id`,
        [host.id],
      );
      if (!deleted.length) throw new HangarError('invalid_state', `host ${host.name} changed state; look again`);
      res.locals.audit = { action: 'hosts.delete', resourceType: 'host', resourceId: host.id, detail: { name: host.name } };
      res.status(204).end();
    },
  });

  r.route({
    method: 'post',
    path: '/:ref/actions/:action',
    params: hostAndAction,
    body: hostActionBody,
    bodyRequired: false,
    summary: 'Host action: inspect, power-on/off, reboot, deprovision, force-release (admin), maintenance-on/off',
    description: 'maintenance-on/off answer 200 with the host; the others start a workflow and answer 202. An unknown action is 404.',
    responses: { 202: json(hostOperation, 'the host and the operation'), 200: json(hostOperation, 'the host (maintenance-on/off; operation null)') },
    errors: [404, 409, 503],
    handler: async ({ params, body }, req, res) => {
      const action = params.action;
      if (!isHostAction(action)) throw new HangarError('not_found', `unknown action "${action}"; one of ${HOST_ACTIONS.join(', ')}`);
      const host = await loadHost(deps.orm.em, params.ref);
      const actor = req.actor!;
      res.locals.audit = { action: `hosts.${action}`, resourceType: 'host', resourceId: host.id, detail: { name: host.name } };
      let operation;
      switch (action) {
        case 'inspect':
          operation = await startInspection(deps, host, actor.name);
          break;
        case 'power-on':
        case 'power-off':
        case 'reboot': {
          if (BUSY.has(host.state)) {
            throw new HangarError(
              'invalid_state',
              `host ${host.name} is ${host.state}; power actions would fight the running workflow (cancel it or force-release the host)`,
              { state: host.state },
            );
          }
          const power: HostPowerAction = action;
          operation = await startOperation(deps.orm.em.fork(), deps.temporal, deps.config, {
            kind: action,
            workflow: 'hostPower',
            workflowId: hostPowerWorkflowId(host.id),
            args: [{ hostId: host.id, action: power, shutdownTimeoutSec: deps.config.provision.shutdownTimeoutSec }],
            resourceType: 'host',
            resourceId: host.id,
            requestedBy: actor.name,
            onConflict: 'fail',
          });
          break;
        }
        case 'deprovision': {
          operation = await startHostDeprovision(deps, host, actor.name, {
            ...(body?.wipe_image_url ? { wipeImageUrl: body.wipe_image_url } : {}),
            ...(body?.wipe_timeout ? { wipeTimeout: body.wipe_timeout } : {}),
          });
          break;
        }
        case 'force-release': {
          if (actor.role !== 'admin') throw new HangarError('forbidden', `token "${actor.name}" has role ${actor.role}; force-release needs admin`);
          if (host.state === 'available' || host.state === 'maintenance') {
            throw new HangarError('invalid_state', `host ${host.name} is ${host.state}; there is nothing to release`, { state: host.state });
          }
          const reason = body?.reason ?? `requested by ${actor.name}`;
          operation = await startOperation(deps.orm.em.fork(), deps.temporal, deps.config, {
            kind: 'force-release',
            workflow: 'forceReleaseHost',
            workflowId: hostReleaseWorkflowId(host.id),
            args: [{ hostId: host.id, reason }],
            resourceType: 'host',
            resourceId: host.id,
            requestedBy: actor.name,
          });
          break;
        }
        case 'maintenance-on':
        case 'maintenance-off': {
          const event = action === 'maintenance-on' ? 'enter-maintenance' : 'exit-maintenance';
          await transitionHost(deps.orm.em, host.id, event, {
            message: `${action === 'maintenance-on' ? 'maintenance requested' : 'maintenance ended'} by ${actor.name}`,
          });
          res.json({ host: hostView(await deps.orm.em.fork().findOneOrFail(Host, { id: host.id })), operation: null });
          return;
        }
      }
      res.status(202).json({ host: hostView(host), operation: operationSummary(deps.config, operation) });
    },
  });

  return r;
}
