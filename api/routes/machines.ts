import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { HangarError } from '../../domain/errors.ts';
import { safeFilter } from '../../domain/text.ts';
import {
  MACHINE_STATES,
  POWER_ACTIONS,
  PROVIDERS,
  cloneQueueFor,
  createDiskSchema,
  createMachineSchema,
  machineMutableSchema,
  type DiskInput,
  type MachineSpec,
  type PowerAction,
} from '../../domain/machine.ts';
import { deprovisionWorkflowId, diskWorkflowId, powerWorkflowId, provisionWorkflowId } from '../../workflows/contracts.ts';
import { planAttachDisk, planDeprovision, planDetachDisk, planPower, planProvision } from '../../domain/plan.ts';
import { Disk, Machine, Network, type IDisk, type IMachine } from '../../db/entities/index.ts';
import type { EntityManager } from '@mikro-orm/postgresql';
import { leasesOfMachine } from '../../db/repositories/leases.ts';
import { sqlFor } from '../../db/sql.ts';
import type { ApiDeps } from '../context.ts';
import { describeOperation, operationSummary, startOperation } from '../operations.ts';
import { pageOf, parsePage } from '../pagination.ts';
import { parseOrThrow } from '../middleware/validate.ts';
import { contractRouter, json, noContent, type ContractRouter } from '../contract/route.ts';
import { byId, dryRun, idParam, operationDetail, operationSummary as operationSummarySchema, page, paging, plan } from '../contract/schemas.ts';
import { disk as diskSchema, machine as machineSchema, machineDetail } from '../contract/views.ts';
import { Operation } from '../../db/entities/index.ts';
import { checkLinks, isDryRun, loadById, requireEnabledProvider, resolveTemplate } from './common.ts';
import { createRedfishMachineSchema, deprovisionBaremetalMachine, provisionBaremetal, provisionedSchema } from './hosts.ts';

export function machineView(m: IMachine) {
  return {
    id: m.id,
    name: m.name,
    kind: m.kind,
    provider: m.provider,
    state: m.state,
    cpu: m.cpu,
    memory_mb: m.memoryMb,
    disk_gb: m.diskGb,
    provider_id: m.providerId ?? null,
    target_node: m.targetNode ?? null,
    template: m.template ?? null,
    vmid: m.vmid ?? null,
    clone_mode: m.cloneMode ?? null,
    cloud_init_mode: m.cloudInitMode ?? null,
    power_state: m.powerState ?? null,
    access: m.access ?? null,
    network_id: m.networkId ?? null,
    domain: m.domain ?? null,
    user_data_extras: m.userDataExtras ?? null,
    conditions: m.conditions,
    last_error: m.lastError ?? null,
    phoned_home_at: m.phonedHomeAt ?? null,
    created_at: m.createdAt,
    updated_at: m.updatedAt,
  };
}

/** The machine with its links: SSH key ids, live addresses and the metadata fetch record. */
async function detailedView(em: EntityManager, m: IMachine) {
  const keys = await em
    .getConnection()
    .execute<{ ssh_key_id: string }[]>(
      `select k.ssh_key_id from machine_ssh_keys k join ssh_key s on s.id = k.ssh_key_id where k.machine_id = ? order by s.name`,
      [m.id],
    );
  const leases = await leasesOfMachine(em, m.id);
  return {
    ...machineView(m),
    ssh_key_ids: keys.map((k) => k.ssh_key_id),
    addresses: leases.map((l) => ({ network_id: l.network_id, address: l.address, state: l.state })),
    metadata_fetches: m.metadataFetches,
    phone_home_payload: m.phoneHomePayload ?? null,
  };
}

async function setSshKeys(em: EntityManager, machineId: string, ids: string[]) {
  const sql = sqlFor(em);
  await sql(`delete from machine_ssh_keys where machine_id = ?`, [machineId]);
  if (ids.length) {
    await sql(`insert into machine_ssh_keys (machine_id, ssh_key_id) select ?, jsonb_array_elements_text(?::jsonb)::uuid on conflict do nothing`, [
      machineId,
      JSON.stringify([...new Set(ids)]),
    ]);
  }
}

const loadMachine = (deps: ApiDeps, id: unknown): Promise<IMachine> => loadById(deps.orm.em.fork(), Machine, String(id), 'machine');

export function diskView(d: IDisk) {
  return {
    id: d.id,
    machine_id: d.machineId,
    size_gb: d.sizeGb,
    storage: d.storage ?? null,
    slot: d.slot ?? null,
    volume: d.volume ?? null,
    state: d.state,
    last_error: d.lastError ?? null,
    created_at: d.createdAt,
    updated_at: d.updatedAt,
  };
}

/** Provider operations need a VM: the machine must be ready (or failed with a VM left) and have a provider id. */
function requireVm(machine: IMachine, what: string): string {
  if (machine.kind === 'baremetal') {
    throw new HangarError(
      'unprocessable',
      `machine ${machine.name} is bare metal: ${what} is done on its host (POST /api/v1/hosts/${machine.providerId}/actions/power-on|power-off|reboot)`,
      { kind: 'baremetal' },
    );
  }
  if (!machine.providerId || !['ready', 'failed'].includes(machine.state)) {
    throw new HangarError(
      'invalid_state',
      `machine ${machine.name} is ${machine.state}${machine.providerId ? '' : ' without a VM'}; ${what} needs a provisioned machine`,
    );
  }
  return machine.providerId;
}

const listQuery = z.object({
  state: z.enum(MACHINE_STATES).optional(),
  provider: z.enum(PROVIDERS).optional(),
  network: z.uuid().optional(),
  name_prefix: safeFilter(63).optional(),
  ...paging,
});

const createMachineBody = createMachineSchema.meta({ id: 'CreateMachine' });
const updateMachineBody = machineMutableSchema.meta({ id: 'UpdateMachine' });
const createDiskBody = createDiskSchema.meta({ id: 'CreateDisk' });
/** provider "redfish" claims a bare-metal host (api/routes/hosts.ts); every other provider is a VM. */
const createAnyMachine = z.union([createMachineBody, createRedfishMachineSchema]);
type CreateAnyMachine = z.output<typeof createAnyMachine>;
type CreateRedfishMachine = z.output<typeof createRedfishMachineSchema>;
const isRedfish = (body: CreateAnyMachine): body is CreateRedfishMachine => body.provider === 'redfish';
/** Picks the schema by provider, so a bad field is named in the 400 instead of a union mismatch. */
const parseCreateMachine = (raw: Record<string, unknown>): CreateAnyMachine =>
  raw.provider === 'redfish' ? parseOrThrow(createRedfishMachineSchema, raw, 'request body') : parseOrThrow(createMachineBody, raw, 'request body');

const machineOperation = z.strictObject({ machine: machineSchema, operation: operationSummarySchema }).meta({ id: 'MachineOperation' });
const createdMachine = z
  .strictObject({
    machine: machineSchema,
    metadata_token: z.string().meta({ description: "the machine's metadata secret (shown here once)" }),
    operation: operationSummarySchema,
  })
  .meta({ id: 'CreatedMachine' });
const diskOperation = z.strictObject({ disk: diskSchema, operation: operationSummarySchema }).meta({ id: 'DiskOperation' });
const machineAndAction = z.object({ id: idParam('machine'), action: z.string().meta({ enum: [...POWER_ACTIONS] }) });
const isPowerAction = (action: string): action is PowerAction => (POWER_ACTIONS as readonly string[]).includes(action);
const seedUrl = z.strictObject({ url: z.string() }).meta({ id: 'SeedUrl' });
const machineAndDisk = z.object({ id: idParam('machine'), diskId: idParam('disk') });

export function machinesRouter(deps: ApiDeps): ContractRouter {
  const r = contractRouter({ tags: ['machines'] });

  r.route({
    method: 'post',
    path: '/',
    query: z.object(dryRun),
    body: createAnyMachine,
    parseBody: parseCreateMachine,
    summary: 'Create and provision a machine (provider "redfish" takes a CreateRedfishMachine body and claims a host)',
    responses: {
      202: json(z.union([createdMachine, provisionedSchema]), 'the machine, its metadata token and the operation'),
      200: json(plan, 'the plan (dry_run; VM providers)'),
    },
    // 404: a redfish machine names a host that does not exist.
    errors: [404, 409, 422, 503],
    handler: async ({ query, body: request }, req, res) => {
      if (isRedfish(request)) {
        const { provider: _provider, ...body } = request;
        const out = await provisionBaremetal(deps, body, req.actor!.name);
        res.locals.audit = {
          action: 'machines.create',
          resourceType: 'machine',
          resourceId: out.machine.id,
          detail: { name: body.name, provider: 'redfish', host: out.host.name },
        };
        res.status(202).location(`/api/v1/machines/${out.machine.id}`).json(out);
        return;
      }
      const body = request;
      const em = deps.orm.em.fork();
      requireEnabledProvider(deps.config, body.provider);
      const real = body.provider !== 'dryrun';
      if (real && !body.template)
        throw new HangarError('validation_failed', `provider ${body.provider} clones from a template: give "template"`, { template: 'required' });
      if (body.provider !== 'proxmox') {
        for (const field of ['vmid', 'node', 'clone_mode'] as const) {
          if (body[field] !== undefined) throw new HangarError('validation_failed', `"${field}" applies to proxmox machines only`, { [field]: 'proxmox only' });
        }
        if (body.cloud_init_mode === 'native')
          throw new HangarError('validation_failed', 'cloud_init_mode "native" is Proxmox\'s cloud-init drive: proxmox only', {
            cloud_init_mode: 'proxmox only',
          });
      }
      const id = crypto.randomUUID();
      const token = randomBytes(24).toString('base64url');
      if (await em.count(Machine, { name: body.name })) {
        throw new HangarError('already_exists', `a machine named "${body.name}" already exists`, { name: 'already exists' });
      }
      await checkLinks(em, body);
      const template = body.template ? await resolveTemplate(em, body.template, body.provider) : null;
      if (body.vmid !== undefined && (await em.count(Machine, { vmid: body.vmid, provider: 'proxmox', state: { $ne: 'deleted' } }))) {
        throw new HangarError('already_exists', `VMID ${body.vmid} is already used by another machine`, { vmid: 'in use' });
      }
      const network = body.network_id ? await em.findOne(Network, { id: body.network_id }) : null;
      const node = body.provider === 'proxmox' ? (body.node ?? template?.node ?? deps.config.proxmox.node) : undefined;
      const waitForPhoneHome = body.wait_for_phone_home ?? real;
      const spec: MachineSpec = {
        machineId: id,
        name: body.name,
        provider: body.provider,
        cpu: body.cpu,
        memoryMb: body.memory_mb,
        diskGb: body.disk_gb,
        ...(waitForPhoneHome ? { phoneHomeTimeout: deps.config.provision.phoneHomeTimeout } : {}),
        ...(template ? { template: template.providerRef! } : {}),
        ...(node ? { node } : {}),
        ...(body.vmid !== undefined ? { vmid: body.vmid } : {}),
        ...(body.clone_mode ? { cloneMode: body.clone_mode } : {}),
        ...(real ? { cloudInitMode: body.cloud_init_mode ?? 'iso' } : {}),
        ...(real && body.network_id ? { networkId: body.network_id } : {}),
        ...(body.mac ? { mac: body.mac.toLowerCase() } : {}),
        ...((body.bridge ?? network?.bridge ?? (body.provider === 'proxmox' ? deps.config.proxmox.bridge : undefined))
          ? { bridge: (body.bridge ?? network?.bridge ?? deps.config.proxmox.bridge)! }
          : {}),
        ...((body.vlan ?? network?.vlan) ? { vlan: (body.vlan ?? network?.vlan)! } : {}),
        ...(cloneQueueFor(deps.config.temporal.taskQueue, body.provider, node)
          ? { cloneQueue: cloneQueueFor(deps.config.temporal.taskQueue, body.provider, node)! }
          : {}),
      };
      if (isDryRun(query)) {
        res.status(200).json(planProvision(spec, provisionWorkflowId(id)));
        return;
      }
      const machine = em.create(Machine, {
        id,
        name: body.name,
        provider: body.provider,
        cpu: body.cpu,
        memoryMb: body.memory_mb,
        diskGb: body.disk_gb,
        metadataToken: token,
        networkId: body.network_id ?? null,
        domain: body.domain ?? null,
        userDataExtras: body.user_data_extras ?? null,
        template: template?.name ?? null,
        targetNode: node ?? null,
        vmid: body.vmid ?? null,
        cloneMode: body.clone_mode ?? null,
        cloudInitMode: spec.cloudInitMode ?? null,
      });
      await em.transactional(async (tx) => {
        tx.persist(machine);
        await tx.flush();
        await setSshKeys(tx, id, body.ssh_key_ids ?? []);
      });
      let operation;
      try {
        operation = await startOperation(em, deps.temporal, deps.config, {
          kind: 'provision',
          workflow: 'provisionVm',
          workflowId: provisionWorkflowId(id),
          args: [spec],
          resourceType: 'machine',
          resourceId: id,
          requestedBy: req.actor!.name,
        });
      } catch (err) {
        // No workflow, no machine: never leave a record that nothing will ever provision.
        await deps.orm.em.fork().nativeDelete(Machine, { id });
        throw err;
      }
      res.locals.audit = {
        action: 'machines.create',
        resourceType: 'machine',
        resourceId: id,
        detail: { name: body.name, provider: body.provider, template: template?.name ?? null },
      };
      res
        .status(202)
        .location(`/api/v1/machines/${id}`)
        .json({
          machine: machineView(machine),
          metadata_token: token,
          operation: operationSummary(deps.config, operation),
        });
    },
  });

  r.route({
    method: 'get',
    path: '/',
    summary: 'List machines (by name)',
    query: listQuery,
    responses: { 200: json(page(machineSchema), 'a page of machines') },
    handler: async ({ query: q }, req, res) => {
      const page = parsePage(req.query, deps.config.api.maxPageSize);
      const where: Record<string, unknown> = {};
      if (q.state) where.state = q.state;
      if (q.provider) where.provider = q.provider;
      if (q.network) where.networkId = q.network;
      const nameCond: Record<string, unknown> = {};
      if (q.name_prefix) nameCond.$like = `${q.name_prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      if (page.after !== null) nameCond.$gt = page.after;
      if (Object.keys(nameCond).length) where.name = nameCond;
      const rows = await deps.orm.em.fork().find(Machine, where, { orderBy: { name: 'asc' }, limit: page.pageSize + 1 });
      const { items, next_cursor } = pageOf(rows, page.pageSize, (m) => m.name);
      res.json({ items: items.map(machineView), next_cursor });
    },
  });

  r.route({
    method: 'get',
    path: '/:id',
    summary: 'Get a machine with its keys, addresses, metadata fetches and latest operations',
    params: byId('machine'),
    responses: { 200: json(machineDetail, 'the machine') },
    errors: [404],
    handler: async ({ params }, _req, res) => {
      const machine = await loadMachine(deps, params.id);
      const em = deps.orm.em.fork();
      const ops = await em.find(Operation, { resourceType: 'machine', resourceId: machine.id }, { orderBy: { createdAt: 'desc' }, limit: 10 });
      res.json({ ...(await detailedView(em, machine)), operations: ops.map((o) => operationSummary(deps.config, o)) });
    },
  });

  r.route({
    method: 'patch',
    path: '/:id',
    summary: 'Change a machine (SSH keys, network, domain, user-data extras)',
    params: byId('machine'),
    body: updateMachineBody,
    responses: { 200: json(machineDetail, 'the machine') },
    errors: [404, 422],
    handler: async ({ params, body }, _req, res) => {
      const em = deps.orm.em.fork();
      const machine = await loadMachine(deps, params.id);
      await checkLinks(em, body);
      const change: Partial<IMachine> = {};
      if (body.network_id !== undefined) change.networkId = body.network_id;
      if (body.domain !== undefined) change.domain = body.domain;
      if (body.user_data_extras !== undefined) change.userDataExtras = body.user_data_extras;
      await em.transactional(async (tx) => {
        if (Object.keys(change).length) await tx.nativeUpdate(Machine, { id: machine.id }, { ...change, updatedAt: new Date() });
        if (body.ssh_key_ids !== undefined) await setSshKeys(tx, machine.id, body.ssh_key_ids);
      });
      res.locals.audit = { action: 'machines.update', resourceType: 'machine', resourceId: machine.id, detail: { fields: Object.keys(body) } };
      const fresh = await deps.orm.em.fork().findOneOrFail(Machine, { id: machine.id });
      res.json(await detailedView(deps.orm.em.fork(), fresh));
    },
  });

  /** The NoCloud seed URL (it carries the machine's metadata token): operators only. */
  r.route({
    method: 'get',
    path: '/:id/seed-url',
    summary: "The machine's NoCloud seed URL (operator: it carries the metadata token)",
    params: byId('machine'),
    responses: { 200: json(seedUrl, 'the seed URL') },
    errors: [404],
    handler: async ({ params }, req, res) => {
      if (req.actor!.role === 'viewer') throw new HangarError('forbidden', 'the seed URL carries a secret token; it needs the operator role');
      // `hidden` only keeps the token out of serialisation; the loaded entity has it.
      const machine = await loadMachine(deps, params.id);
      const base = deps.config.api.publicUrl.replace(/\/$/, '');
      res.json({ url: `${base}/cloud-init/${machine.id}/${machine.metadataToken}/` });
    },
  });

  r.route({
    method: 'get',
    path: '/:id/operations/latest',
    summary: "The machine's latest operation",
    params: byId('machine'),
    responses: { 200: json(operationDetail, 'the operation') },
    errors: [404, 503],
    handler: async ({ params }, _req, res) => {
      const machine = await loadMachine(deps, params.id);
      const op = await deps.orm.em.fork().findOne(Operation, { resourceType: 'machine', resourceId: machine.id }, { orderBy: { createdAt: 'desc' } });
      if (!op) throw new HangarError('not_found', `machine ${machine.id} has no operations`);
      res.json(await describeOperation(deps.temporal, deps.config, op));
    },
  });

  r.route({
    method: 'delete',
    path: '/:id',
    summary: 'Deprovision a machine (a bare-metal one whose host is gone is just deleted: 204)',
    params: byId('machine'),
    query: z.object(dryRun),
    responses: {
      202: json(machineOperation, 'the machine and the operation'),
      204: noContent('deleted without a workflow'),
      200: json(plan, 'the plan (dry_run)'),
    },
    errors: [404, 409, 503],
    handler: async ({ params, query }, req, res) => {
      const machine = await loadMachine(deps, params.id);
      if (machine.kind === 'baremetal') {
        const out = (await deprovisionBaremetalMachine(deps, machine, req.actor!.name))!;
        res.locals.audit = { action: 'machines.delete', resourceType: 'machine', resourceId: machine.id, detail: { name: machine.name, provider: 'redfish' } };
        if (!out.operation) {
          res.status(204).end();
          return;
        }
        res.status(202).json({ machine: machineView(machine), operation: operationSummary(deps.config, out.operation) });
        return;
      }
      const em = deps.orm.em.fork();
      const input = { machineId: machine.id, provider: machine.provider, shutdownTimeoutSec: deps.config.provision.shutdownTimeoutSec };
      if (isDryRun(query)) {
        res.status(200).json(planDeprovision(input, deprovisionWorkflowId(machine.id)));
        return;
      }
      const operation = await startOperation(em, deps.temporal, deps.config, {
        kind: 'deprovision',
        workflow: 'deprovisionVm',
        workflowId: deprovisionWorkflowId(machine.id),
        args: [input],
        resourceType: 'machine',
        resourceId: machine.id,
        requestedBy: req.actor!.name,
      });
      res.locals.audit = { action: 'machines.delete', resourceType: 'machine', resourceId: machine.id, detail: { name: machine.name } };
      res.status(202).json({ machine: machineView(machine), operation: operationSummary(deps.config, operation) });
    },
  });

  r.route({
    method: 'post',
    path: '/:id/actions/:action',
    summary: 'Power action: start, stop or restart (an unknown action is 404)',
    params: machineAndAction,
    query: z.object(dryRun),
    responses: { 202: json(machineOperation, 'the machine and the operation'), 200: json(plan, 'the plan (dry_run)') },
    errors: [404, 409, 422, 503],
    handler: async ({ params, query }, req, res) => {
      const action = params.action;
      if (!isPowerAction(action)) {
        throw new HangarError('not_found', `unknown action "${action}"; one of ${POWER_ACTIONS.join(', ')}`);
      }
      const machine = await loadMachine(deps, params.id);
      const providerId = requireVm(machine, action);
      const input = {
        machineId: machine.id,
        provider: machine.provider,
        providerId,
        action,
        shutdownTimeoutSec: deps.config.provision.shutdownTimeoutSec,
      };
      if (isDryRun(query)) {
        res.status(200).json(planPower(input.action, machine.provider, providerId, input.shutdownTimeoutSec, powerWorkflowId(machine.id)));
        return;
      }
      // One power workflow per machine at a time: a second one is refused, never interleaved.
      const operation = await startOperation(deps.orm.em.fork(), deps.temporal, deps.config, {
        kind: action,
        workflow: 'vmPower',
        workflowId: powerWorkflowId(machine.id),
        args: [input],
        resourceType: 'machine',
        resourceId: machine.id,
        requestedBy: req.actor!.name,
        onConflict: 'fail',
      });
      res.locals.audit = { action: `machines.${action}`, resourceType: 'machine', resourceId: machine.id, detail: { name: machine.name } };
      res.status(202).json({ machine: machineView(machine), operation: operationSummary(deps.config, operation) });
    },
  });

  r.route({
    method: 'get',
    path: '/:id/disks',
    summary: "The machine's data disks (one page)",
    params: byId('machine'),
    responses: { 200: json(page(diskSchema), 'every data disk') },
    errors: [404],
    handler: async ({ params }, _req, res) => {
      const machine = await loadMachine(deps, params.id);
      const disks = await deps.orm.em.fork().find(Disk, { machineId: machine.id }, { orderBy: { createdAt: 'asc', id: 'asc' } });
      res.json({ items: disks.map(diskView), next_cursor: null });
    },
  });

  r.route({
    method: 'post',
    path: '/:id/disks',
    summary: 'Attach a new data disk (hot-plugged when running)',
    params: byId('machine'),
    query: z.object(dryRun),
    body: createDiskBody,
    responses: { 202: json(diskOperation, 'the disk and the operation'), 200: json(plan, 'the plan (dry_run)') },
    errors: [404, 409, 422, 503],
    handler: async ({ params, query, body }, req, res) => {
      const machine = await loadMachine(deps, params.id);
      const providerId = requireVm(machine, 'attaching a disk');
      const em = deps.orm.em.fork();
      if ((await em.count(Disk, { machineId: machine.id, state: { $ne: 'detached' } })) >= 16) {
        throw new HangarError('unprocessable', `machine ${machine.name} already has 16 data disks`, { size_gb: 'too many disks' });
      }
      const diskId = crypto.randomUUID();
      const input: DiskInput = {
        machineId: machine.id,
        provider: machine.provider,
        providerId,
        diskId,
        sizeGb: body.size_gb,
        ...(body.storage ? { storage: body.storage } : {}),
      };
      if (isDryRun(query)) {
        res.status(200).json(planAttachDisk(input, diskWorkflowId(diskId)));
        return;
      }
      const disk = em.create(Disk, { id: diskId, machineId: machine.id, sizeGb: body.size_gb, storage: body.storage ?? null, state: 'attaching' });
      await em.flush();
      let operation;
      try {
        operation = await startOperation(em, deps.temporal, deps.config, {
          kind: 'attach-disk',
          workflow: 'attachDisk',
          workflowId: diskWorkflowId(diskId),
          args: [input],
          resourceType: 'disk',
          resourceId: diskId,
          requestedBy: req.actor!.name,
        });
      } catch (err) {
        await deps.orm.em.fork().nativeDelete(Disk, { id: diskId });
        throw err;
      }
      res.locals.audit = { action: 'disks.attach', resourceType: 'disk', resourceId: diskId, detail: { machine: machine.name, size_gb: body.size_gb } };
      res
        .status(202)
        .location(`/api/v1/machines/${machine.id}/disks/${diskId}`)
        .json({ disk: diskView(disk), operation: operationSummary(deps.config, operation) });
    },
  });

  r.route({
    method: 'get',
    path: '/:id/disks/:diskId',
    summary: 'Get a data disk',
    params: machineAndDisk,
    responses: { 200: json(diskSchema, 'the disk') },
    errors: [404],
    handler: async ({ params }, _req, res) => {
      const machine = await loadMachine(deps, params.id);
      const disk = await loadById(deps.orm.em.fork(), Disk, params.diskId, 'disk');
      if (disk.machineId !== machine.id) throw new HangarError('not_found', `disk ${disk.id} not found on machine ${machine.name}`);
      res.json(diskView(disk));
    },
  });

  r.route({
    method: 'delete',
    path: '/:id/disks/:diskId',
    summary: 'Detach and delete a data disk',
    params: machineAndDisk,
    query: z.object(dryRun),
    responses: { 202: json(diskOperation, 'the disk and the operation'), 200: json(plan, 'the plan (dry_run)') },
    errors: [404, 409, 422, 503],
    handler: async ({ params, query }, req, res) => {
      const machine = await loadMachine(deps, params.id);
      const em = deps.orm.em.fork();
      const disk = await loadById(em, Disk, params.diskId, 'disk');
      if (disk.machineId !== machine.id) throw new HangarError('not_found', `disk ${disk.id} not found on machine ${machine.name}`);
      const providerId = requireVm(machine, 'detaching a disk');
      if (isDryRun(query)) {
        res.status(200).json(planDetachDisk(machine.provider, providerId, disk.id, diskWorkflowId(disk.id)));
        return;
      }
      // The attach must have finished (or failed) before its detach: same workflow id, one at a time.
      const operation = await startOperation(em, deps.temporal, deps.config, {
        kind: 'detach-disk',
        workflow: 'detachDisk',
        workflowId: diskWorkflowId(disk.id),
        args: [{ machineId: machine.id, provider: machine.provider, providerId, diskId: disk.id }],
        resourceType: 'disk',
        resourceId: disk.id,
        requestedBy: req.actor!.name,
        onConflict: 'fail',
      });
      res.locals.audit = { action: 'disks.detach', resourceType: 'disk', resourceId: disk.id, detail: { machine: machine.name } };
      res.status(202).json({ disk: diskView(disk), operation: operationSummary(deps.config, operation) });
    },
  });

  return r;
}
