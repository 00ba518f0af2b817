import { randomBytes } from 'node:crypto';
import { Router } from 'express';
import { z } from 'zod';
import { HangarError } from '../../domain/errors.ts';
import {
  MACHINE_STATES, PROVIDERS, createMachineSchema, deprovisionWorkflowId, provisionWorkflowId,
  type CreateMachineRequest, type MachineSpec,
} from '../../domain/machine.ts';
import { Machine, type IMachine } from '../../db/entities/index.ts';
import type { ApiDeps } from '../context.ts';
import { describeOperation, operationSummary, startOperation } from '../operations.ts';
import { pageOf, parsePage } from '../pagination.ts';
import { parseOrThrow, validateBody } from '../middleware/validate.ts';
import { Operation } from '../../db/entities/index.ts';

export function machineView(m: IMachine) {
  return {
    id: m.id, name: m.name, kind: m.kind, provider: m.provider, state: m.state,
    cpu: m.cpu, memory_mb: m.memoryMb, disk_gb: m.diskGb,
    provider_id: m.providerId ?? null, target_node: m.targetNode ?? null, template: m.template ?? null,
    conditions: m.conditions, last_error: m.lastError ?? null,
    created_at: m.createdAt, updated_at: m.updatedAt,
  };
}

const UUID = z.uuid();

async function loadMachine(deps: ApiDeps, id: string): Promise<IMachine> {
  const notFound = new HangarError('not_found', `machine ${id} not found`);
  if (!UUID.safeParse(id).success) throw notFound;
  const machine = await deps.orm.em.fork().findOne(Machine, { id });
  if (!machine) throw notFound;
  return machine;
}

const listQuery = z.object({
  state: z.enum(MACHINE_STATES).optional(),
  provider: z.enum(PROVIDERS).optional(),
  name_prefix: z.string().max(63).optional(),
  page_size: z.unknown().optional(),
  cursor: z.unknown().optional(),
});

export function machinesRouter(deps: ApiDeps): Router {
  const router = Router();

  router.post('/', validateBody(createMachineSchema), async (req, res) => {
    const body = res.locals.body as CreateMachineRequest;
    const em = deps.orm.em.fork();
    const id = crypto.randomUUID();
    const token = randomBytes(24).toString('base64url');
    if (await em.count(Machine, { name: body.name })) {
      throw new HangarError('already_exists', `a machine named "${body.name}" already exists`, { name: 'already exists' });
    }
    const machine = em.create(Machine, {
      id, name: body.name, provider: body.provider, cpu: body.cpu, memoryMb: body.memory_mb, diskGb: body.disk_gb,
      metadataToken: token,
    });
    await em.flush();
    const spec: MachineSpec = { machineId: id, name: body.name, provider: body.provider, cpu: body.cpu, memoryMb: body.memory_mb, diskGb: body.disk_gb };
    let operation;
    try {
      operation = await startOperation(em, deps.temporal, deps.config, {
        kind: 'provision', workflowType: 'provisionVm', workflowId: provisionWorkflowId(id), args: [spec],
        resourceType: 'machine', resourceId: id, requestedBy: req.actor!.name,
      });
    } catch (err) {
      // No workflow, no machine: never leave a record that nothing will ever provision.
      await deps.orm.em.fork().nativeDelete(Machine, { id });
      throw err;
    }
    res.locals.audit = { action: 'machines.create', resourceType: 'machine', resourceId: id, detail: { name: body.name, provider: body.provider } };
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
    const ops = await deps.orm.em.fork().find(Operation, { resourceType: 'machine', resourceId: machine.id }, { orderBy: { createdAt: 'desc' }, limit: 10 });
    res.json({ ...machineView(machine), operations: ops.map((o) => operationSummary(deps.config, o)) });
  });

  router.get('/:id/operations/latest', async (req, res) => {
    const machine = await loadMachine(deps, req.params.id);
    const op = await deps.orm.em.fork().findOne(Operation, { resourceType: 'machine', resourceId: machine.id }, { orderBy: { createdAt: 'desc' } });
    if (!op) throw new HangarError('not_found', `machine ${machine.id} has no operations`);
    res.json(await describeOperation(deps.temporal, deps.config, op));
  });

  router.delete('/:id', async (req, res) => {
    const machine = await loadMachine(deps, req.params.id);
    const em = deps.orm.em.fork();
    const operation = await startOperation(em, deps.temporal, deps.config, {
      kind: 'deprovision', workflowType: 'deprovisionVm', workflowId: deprovisionWorkflowId(machine.id),
      args: [{ machineId: machine.id, provider: machine.provider }],
      resourceType: 'machine', resourceId: machine.id, requestedBy: req.actor!.name,
    });
    res.locals.audit = { action: 'machines.delete', resourceType: 'machine', resourceId: machine.id, detail: { name: machine.name } };
    res.status(202).json({ machine: machineView(machine), operation: operationSummary(deps.config, operation) });
  });

  return router;
}
