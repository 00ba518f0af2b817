// /api/v1/machines: the machine records: create (and provision), list, read, change and delete
// (deprovision). Power actions, the seed URL and the latest operation are in machine-actions.ts,
// data disks in machine-disks.ts; provider "redfish" claims a host (host-provisioning.ts).
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { HangarError } from '../../domain/errors.ts';
import { safeFilter } from '../../domain/text.ts';
import { MACHINE_STATES, PROVIDERS, cloneQueueFor, createMachineSchema, machineMutableSchema, type MachineSpec } from '../../domain/machine.ts';
import { deprovisionWorkflowId, provisionWorkflowId } from '../../workflows/contracts.ts';
import { planDeprovision, planProvision } from '../../domain/plan.ts';
import { Machine, Network, Operation, type IMachine } from '../../db/entities/index.ts';
import type { EntityManager } from '@mikro-orm/postgresql';
import { leasesOfMachine } from '../../db/repositories/leases.ts';
import type { ApiDeps } from '../context.ts';
import { operationSummary, startOperation, startOperationOrUndo } from '../operations.ts';
import { pageOf, parsePage } from '../pagination.ts';
import { parseOrThrow } from '../middleware/validate.ts';
import { contractRouter, json, noContent, type ContractRouter } from '../contract/route.ts';
import { byId, dryRun, operationSummary as operationSummarySchema, page, paging, plan } from '../contract/schemas.ts';
import { machine as machineSchema, machineDetail } from '../contract/views.ts';
import { openDrift } from '../drift-on-resources.ts';
import { checkLinks, isDryRun, requireEnabledProvider, resolveTemplate } from './common.ts';
import { loadMachine, machineOperation, machineView, setSshKeys } from './machine-common.ts';
import { createRedfishMachineSchema, deprovisionBaremetalMachine, provisionBaremetal, provisionedSchema } from './host-provisioning.ts';

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

const listQuery = z.object({
  state: z.enum(MACHINE_STATES).optional(),
  provider: z.enum(PROVIDERS).optional(),
  network: z.uuid().optional(),
  name_prefix: safeFilter(63).optional(),
  ...paging,
});

const createMachineBody = createMachineSchema.meta({ id: 'CreateMachine' });
const updateMachineBody = machineMutableSchema.meta({ id: 'UpdateMachine' });
/** provider "redfish" claims a bare-metal host (api/routes/host-provisioning.ts); every other provider is a VM. */
const createAnyMachine = z.union([createMachineBody, createRedfishMachineSchema]);
type CreateAnyMachine = z.output<typeof createAnyMachine>;
type CreateRedfishMachine = z.output<typeof createRedfishMachineSchema>;
const isRedfish = (body: CreateAnyMachine): body is CreateRedfishMachine => body.provider === 'redfish';
/** Picks the schema by provider, so a bad field is named in the 400 instead of a union mismatch. */
const parseCreateMachine = (raw: Record<string, unknown>): CreateAnyMachine =>
  raw.provider === 'redfish' ? parseOrThrow(createRedfishMachineSchema, raw, 'request body') : parseOrThrow(createMachineBody, raw, 'request body');

const createdMachine = z
  .strictObject({
    machine: machineSchema,
    metadata_token: z.string().meta({ description: "the machine's metadata secret (shown here once)" }),
    operation: operationSummarySchema,
  })
  .meta({ id: 'CreatedMachine' });

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
        driftPolicy: body.drift_policy ?? null,
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
      const operation = await startOperationOrUndo(
        em,
        deps.temporal,
        deps.config,
        {
          kind: 'provision',
          workflow: 'provisionVm',
          workflowId: provisionWorkflowId(id),
          args: [spec],
          resourceType: 'machine',
          resourceId: id,
          requestedBy: req.actor!.name,
        },
        // No workflow, no machine: never leave a record that nothing will ever provision.
        () => deps.orm.em.fork().nativeDelete(Machine, { id }),
      );
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
      const view = await detailedView(em, machine);
      res.json({ ...view, ...(await openDrift(em, machine.id, view.conditions)), operations: ops.map((o) => operationSummary(deps.config, o)) });
    },
  });

  r.route({
    method: 'patch',
    path: '/:id',
    summary: 'Change a machine (SSH keys, network, domain, user-data extras, drift policy)',
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
      if (body.drift_policy !== undefined) change.driftPolicy = body.drift_policy;
      await em.transactional(async (tx) => {
        if (Object.keys(change).length) await tx.nativeUpdate(Machine, { id: machine.id }, { ...change, updatedAt: new Date() });
        if (body.ssh_key_ids !== undefined) await setSshKeys(tx, machine.id, body.ssh_key_ids);
      });
      res.locals.audit = { action: 'machines.update', resourceType: 'machine', resourceId: machine.id, detail: { fields: Object.keys(body) } };
      const fresh = await deps.orm.em.fork().findOneOrFail(Machine, { id: machine.id });
      res.json(await detailedView(deps.orm.em.fork(), fresh));
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

  return r;
}
