import { randomBytes } from 'node:crypto';
import { Router } from 'express';
import { z } from 'zod';
import { HangarError } from '../../domain/errors.ts';
import {
  MACHINE_STATES, POWER_ACTIONS, PROVIDERS, cloneQueueFor, createDiskSchema, createMachineSchema,
  machineMutableSchema,
  type CreateMachineRequest, type DiskInput, type MachineSpec, type PowerAction,
} from '../../domain/machine.ts';
import { planAttachDisk, planDeprovision, planDetachDisk, planPower, planProvision } from '../../domain/plan.ts';
import { Disk, Machine, Network, type IDisk, type IMachine } from '../../db/entities/index.ts';
import type { EntityManager } from '@mikro-orm/postgresql';
import { leasesOfMachine } from '../../db/repositories/leases.ts';
import { sqlFor } from '../../db/sql.ts';
import type { ApiDeps } from '../context.ts';
import { describeOperation, operationSummary, startOperation } from '../operations.ts';
import { deprovisionWorkflowId, diskWorkflowId, powerWorkflowId, provisionWorkflowId } from '../../workflows/contracts.ts';
import { pageOf, parsePage } from '../pagination.ts';
import { parseOrThrow, validateBody } from '../middleware/validate.ts';
import { Operation } from '../../db/entities/index.ts';
import { checkLinks, isDryRun, loadById, requireEnabledProvider, resolveTemplate } from './common.ts';
import { createRedfishMachine, deprovisionBaremetalMachine } from './hosts.ts';

export function machineView(m: IMachine) {
  return {
    id: m.id, name: m.name, kind: m.kind, provider: m.provider, state: m.state,
    cpu: m.cpu, memory_mb: m.memoryMb, disk_gb: m.diskGb,
    provider_id: m.providerId ?? null, target_node: m.targetNode ?? null, template: m.template ?? null,
    vmid: m.vmid ?? null, clone_mode: m.cloneMode ?? null, cloud_init_mode: m.cloudInitMode ?? null,
    power_state: m.powerState ?? null, access: m.access ?? null,
    network_id: m.networkId ?? null, domain: m.domain ?? null, user_data_extras: m.userDataExtras ?? null,
    conditions: m.conditions, last_error: m.lastError ?? null, phoned_home_at: m.phonedHomeAt ?? null,
    created_at: m.createdAt, updated_at: m.updatedAt,
  };
}

/** The machine with its links: SSH key ids, live addresses and the metadata fetch record. */
async function detailedView(em: EntityManager, m: IMachine) {
  const keys = await em.getConnection().execute<{ ssh_key_id: string }[]>(
    `select k.ssh_key_id from machine_ssh_keys k join ssh_key s on s.id = k.ssh_key_id where k.machine_id = ? order by s.name`, [m.id]);
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
    await sql(`insert into machine_ssh_keys (machine_id, ssh_key_id) select ?, jsonb_array_elements_text(?::jsonb)::uuid on conflict do nothing`, [machineId, JSON.stringify([...new Set(ids)])]);
  }
}

const loadMachine = (deps: ApiDeps, id: unknown): Promise<IMachine> => loadById(deps.orm.em.fork(), Machine, String(id), 'machine');

export function diskView(d: IDisk) {
  return {
    id: d.id, machine_id: d.machineId, size_gb: d.sizeGb, storage: d.storage ?? null, slot: d.slot ?? null,
    volume: d.volume ?? null, state: d.state, last_error: d.lastError ?? null, created_at: d.createdAt, updated_at: d.updatedAt,
  };
}

/** Provider operations need a VM: the machine must be ready (or failed with a VM left) and have a provider id. */
function requireVm(machine: IMachine, what: string): string {
  if (machine.kind === 'baremetal') {
    throw new HangarError('unprocessable', `machine ${machine.name} is bare metal: ${what} is done on its host (POST /api/v1/hosts/${machine.providerId}/actions/power-on|power-off|reboot)`, { kind: 'baremetal' });
  }
  if (!machine.providerId || !['ready', 'failed'].includes(machine.state)) {
    throw new HangarError('invalid_state', `machine ${machine.name} is ${machine.state}${machine.providerId ? '' : ' without a VM'}; ${what} needs a provisioned machine`);
  }
  return machine.providerId;
}

const listQuery = z.object({
  state: z.enum(MACHINE_STATES).optional(),
  provider: z.enum(PROVIDERS).optional(),
  network: z.uuid().optional(),
  name_prefix: z.string().max(63).optional(),
  page_size: z.unknown().optional(),
  cursor: z.unknown().optional(),
});

export function machinesRouter(deps: ApiDeps): Router {
  const router = Router();

  // provider: redfish claims a bare-metal host (api/routes/hosts.ts); every other provider is a VM.
  router.post('/', createRedfishMachine(deps), validateBody(createMachineSchema), async (req, res) => {
    const body = res.locals.body as CreateMachineRequest;
    const em = deps.orm.em.fork();
    requireEnabledProvider(deps.config, body.provider);
    const real = body.provider !== 'dryrun';
    if (real && !body.template) throw new HangarError('validation_failed', `provider ${body.provider} clones from a template: give "template"`, { template: 'required' });
    if (body.provider !== 'proxmox') {
      for (const field of ['vmid', 'node', 'clone_mode'] as const) {
        if (body[field] !== undefined) throw new HangarError('validation_failed', `"${field}" applies to proxmox machines only`, { [field]: 'proxmox only' });
      }
      if (body.cloud_init_mode === 'native') throw new HangarError('validation_failed', 'cloud_init_mode "native" is Proxmox\'s cloud-init drive: proxmox only', { cloud_init_mode: 'proxmox only' });
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
      machineId: id, name: body.name, provider: body.provider, cpu: body.cpu, memoryMb: body.memory_mb, diskGb: body.disk_gb,
      ...(waitForPhoneHome ? { phoneHomeTimeout: deps.config.provision.phoneHomeTimeout } : {}),
      ...(template ? { template: template.providerRef! } : {}),
      ...(node ? { node } : {}),
      ...(body.vmid !== undefined ? { vmid: body.vmid } : {}),
      ...(body.clone_mode ? { cloneMode: body.clone_mode } : {}),
      ...(real ? { cloudInitMode: body.cloud_init_mode ?? 'iso' } : {}),
      ...(real && body.network_id ? { networkId: body.network_id } : {}),
      ...(body.mac ? { mac: body.mac.toLowerCase() } : {}),
      ...(body.bridge ?? network?.bridge ?? (body.provider === 'proxmox' ? deps.config.proxmox.bridge : undefined) ? { bridge: (body.bridge ?? network?.bridge ?? deps.config.proxmox.bridge)! } : {}),
      ...(body.vlan ?? network?.vlan ? { vlan: (body.vlan ?? network?.vlan)! } : {}),
      ...(cloneQueueFor(deps.config.temporal.taskQueue, body.provider, node) ? { cloneQueue: cloneQueueFor(deps.config.temporal.taskQueue, body.provider, node)! } : {}),
    };
    if (isDryRun(req.query)) {
      res.status(200).json(planProvision(spec, provisionWorkflowId(id)));
      return;
    }
    const machine = em.create(Machine, {
      id, name: body.name, provider: body.provider, cpu: body.cpu, memoryMb: body.memory_mb, diskGb: body.disk_gb,
      metadataToken: token, networkId: body.network_id ?? null, domain: body.domain ?? null, userDataExtras: body.user_data_extras ?? null,
      template: template?.name ?? null, targetNode: node ?? null, vmid: body.vmid ?? null, cloneMode: body.clone_mode ?? null,
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
        kind: 'provision', workflow: 'provisionVm', workflowId: provisionWorkflowId(id), args: [spec],
        resourceType: 'machine', resourceId: id, requestedBy: req.actor!.name,
      });
    } catch (err) {
      // No workflow, no machine: never leave a record that nothing will ever provision.
      await deps.orm.em.fork().nativeDelete(Machine, { id });
      throw err;
    }
    res.locals.audit = { action: 'machines.create', resourceType: 'machine', resourceId: id, detail: { name: body.name, provider: body.provider, template: template?.name ?? null } };
    res.status(202).location(`/api/v1/machines/${id}`).json({
      machine: machineView(machine),
      metadata_token: token,
      operation: operationSummary(deps.config, operation),
    });
  });

  router.get('/', async (req, res) => {
    const q = parseOrThrow(listQuery, req.query, 'query');
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
  });

  router.get('/:id', async (req, res) => {
    const machine = await loadMachine(deps, req.params.id);
    const em = deps.orm.em.fork();
    const ops = await em.find(Operation, { resourceType: 'machine', resourceId: machine.id }, { orderBy: { createdAt: 'desc' }, limit: 10 });
    res.json({ ...(await detailedView(em, machine)), operations: ops.map((o) => operationSummary(deps.config, o)) });
  });

  router.patch('/:id', validateBody(machineMutableSchema), async (req, res) => {
    const body = res.locals.body as z.infer<typeof machineMutableSchema>;
    const em = deps.orm.em.fork();
    const machine = await loadMachine(deps, String(req.params.id));
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
  });

  /** The NoCloud seed URL (it carries the machine's metadata token): operators only. */
  router.get('/:id/seed-url', async (req, res) => {
    if (req.actor!.role === 'viewer') throw new HangarError('forbidden', 'the seed URL carries a secret token; it needs the operator role');
    // `hidden` only keeps the token out of serialisation; the loaded entity has it.
    const machine = await loadMachine(deps, req.params.id);
    const base = deps.config.api.publicUrl.replace(/\/$/, '');
    res.json({ url: `${base}/cloud-init/${machine.id}/${machine.metadataToken}/` });
  });

  router.get('/:id/operations/latest', async (req, res) => {
    const machine = await loadMachine(deps, req.params.id);
    const op = await deps.orm.em.fork().findOne(Operation, { resourceType: 'machine', resourceId: machine.id }, { orderBy: { createdAt: 'desc' } });
    if (!op) throw new HangarError('not_found', `machine ${machine.id} has no operations`);
    res.json(await describeOperation(deps.temporal, deps.config, op));
  });

  router.delete('/:id', async (req, res) => {
    const machine = await loadMachine(deps, req.params.id);
    if (machine.kind === 'baremetal') {
      const out = (await deprovisionBaremetalMachine(deps, machine, req.actor!.name))!;
      res.locals.audit = { action: 'machines.delete', resourceType: 'machine', resourceId: machine.id, detail: { name: machine.name, provider: 'redfish' } };
      if (!out.operation) { res.status(204).end(); return; }
      res.status(202).json({ machine: machineView(machine), operation: operationSummary(deps.config, out.operation) });
      return;
    }
    const em = deps.orm.em.fork();
    const input = { machineId: machine.id, provider: machine.provider, shutdownTimeoutSec: deps.config.provision.shutdownTimeoutSec };
    if (isDryRun(req.query)) {
      res.status(200).json(planDeprovision(input, deprovisionWorkflowId(machine.id)));
      return;
    }
    const operation = await startOperation(em, deps.temporal, deps.config, {
      kind: 'deprovision', workflow: 'deprovisionVm', workflowId: deprovisionWorkflowId(machine.id),
      args: [input],
      resourceType: 'machine', resourceId: machine.id, requestedBy: req.actor!.name,
    });
    res.locals.audit = { action: 'machines.delete', resourceType: 'machine', resourceId: machine.id, detail: { name: machine.name } };
    res.status(202).json({ machine: machineView(machine), operation: operationSummary(deps.config, operation) });
  });

  router.post('/:id/actions/:action', async (req, res) => {
    const action = String(req.params.action);
    if (!(POWER_ACTIONS as readonly string[]).includes(action)) {
      throw new HangarError('not_found', `unknown action "${action}"; one of ${POWER_ACTIONS.join(', ')}`);
    }
    const machine = await loadMachine(deps, req.params.id);
    const providerId = requireVm(machine, action);
    const input = {
      machineId: machine.id, provider: machine.provider, providerId, action: action as PowerAction,
      shutdownTimeoutSec: deps.config.provision.shutdownTimeoutSec,
    };
    if (isDryRun(req.query)) {
      res.status(200).json(planPower(input.action, machine.provider, providerId, input.shutdownTimeoutSec, powerWorkflowId(machine.id)));
      return;
    }
    // One power workflow per machine at a time: a second one is refused, never interleaved.
    const operation = await startOperation(deps.orm.em.fork(), deps.temporal, deps.config, {
      kind: action, workflow: 'vmPower', workflowId: powerWorkflowId(machine.id), args: [input],
      resourceType: 'machine', resourceId: machine.id, requestedBy: req.actor!.name, onConflict: 'fail',
    });
    res.locals.audit = { action: `machines.${action}`, resourceType: 'machine', resourceId: machine.id, detail: { name: machine.name } };
    res.status(202).json({ machine: machineView(machine), operation: operationSummary(deps.config, operation) });
  });

  router.get('/:id/disks', async (req, res) => {
    const machine = await loadMachine(deps, req.params.id);
    const disks = await deps.orm.em.fork().find(Disk, { machineId: machine.id }, { orderBy: { createdAt: 'asc', id: 'asc' } });
    res.json({ items: disks.map(diskView), next_cursor: null });
  });

  router.post('/:id/disks', validateBody(createDiskSchema), async (req, res) => {
    const body = res.locals.body as z.infer<typeof createDiskSchema>;
    const machine = await loadMachine(deps, req.params.id);
    const providerId = requireVm(machine, 'attaching a disk');
    const em = deps.orm.em.fork();
    if ((await em.count(Disk, { machineId: machine.id, state: { $ne: 'detached' } })) >= 16) {
      throw new HangarError('unprocessable', `machine ${machine.name} already has 16 data disks`, { size_gb: 'too many disks' });
    }
    const diskId = crypto.randomUUID();
    const input: DiskInput = { machineId: machine.id, provider: machine.provider, providerId, diskId, sizeGb: body.size_gb, ...(body.storage ? { storage: body.storage } : {}) };
    if (isDryRun(req.query)) {
      res.status(200).json(planAttachDisk(input, diskWorkflowId(diskId)));
      return;
    }
    const disk = em.create(Disk, { id: diskId, machineId: machine.id, sizeGb: body.size_gb, storage: body.storage ?? null, state: 'attaching' });
    await em.flush();
    let operation;
    try {
      operation = await startOperation(em, deps.temporal, deps.config, {
        kind: 'attach-disk', workflow: 'attachDisk', workflowId: diskWorkflowId(diskId), args: [input],
        resourceType: 'disk', resourceId: diskId, requestedBy: req.actor!.name,
      });
    } catch (err) {
      await deps.orm.em.fork().nativeDelete(Disk, { id: diskId });
      throw err;
    }
    res.locals.audit = { action: 'disks.attach', resourceType: 'disk', resourceId: diskId, detail: { machine: machine.name, size_gb: body.size_gb } };
    res.status(202).location(`/api/v1/machines/${machine.id}/disks/${diskId}`).json({ disk: diskView(disk), operation: operationSummary(deps.config, operation) });
  });

  router.get('/:id/disks/:diskId', async (req, res) => {
    const machine = await loadMachine(deps, req.params.id);
    const disk = await loadById(deps.orm.em.fork(), Disk, String(req.params.diskId), 'disk');
    if (disk.machineId !== machine.id) throw new HangarError('not_found', `disk ${disk.id} not found on machine ${machine.name}`);
    res.json(diskView(disk));
  });

  router.delete('/:id/disks/:diskId', async (req, res) => {
    const machine = await loadMachine(deps, req.params.id);
    const em = deps.orm.em.fork();
    const disk = await loadById(em, Disk, String(req.params.diskId), 'disk');
    if (disk.machineId !== machine.id) throw new HangarError('not_found', `disk ${disk.id} not found on machine ${machine.name}`);
    const providerId = requireVm(machine, 'detaching a disk');
    if (isDryRun(req.query)) {
      res.status(200).json(planDetachDisk(machine.provider, providerId, disk.id, diskWorkflowId(disk.id)));
      return;
    }
    // The attach must have finished (or failed) before its detach: same workflow id, one at a time.
    const operation = await startOperation(em, deps.temporal, deps.config, {
      kind: 'detach-disk', workflow: 'detachDisk', workflowId: diskWorkflowId(disk.id),
      args: [{ machineId: machine.id, provider: machine.provider, providerId, diskId: disk.id }],
      resourceType: 'disk', resourceId: disk.id, requestedBy: req.actor!.name, onConflict: 'fail',
    });
    res.locals.audit = { action: 'disks.detach', resourceType: 'disk', resourceId: disk.id, detail: { machine: machine.name } };
    res.status(202).json({ disk: diskView(disk), operation: operationSummary(deps.config, operation) });
  });

  return router;
}
