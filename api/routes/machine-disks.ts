// /api/v1/machines/{id}/disks: a VM's data disks, attached and detached by their own workflows
// (one per disk id, so a detach waits for its attach).
import { z } from 'zod';
import type { EntityManager } from '@mikro-orm/postgresql';
import { HangarError } from '../../domain/errors.ts';
import { createDiskSchema, type DiskInput } from '../../domain/machine.ts';
import { diskWorkflowId } from '../../workflows/contracts.ts';
import { planAttachDisk, planDetachDisk } from '../../domain/plan.ts';
import { Disk, type IDisk, type IMachine } from '../../db/entities/index.ts';
import type { ApiDeps } from '../context.ts';
import { operationSummary, startOperation, startOperationOrUndo } from '../operations.ts';
import { contractRouter, json, type ContractRouter } from '../contract/route.ts';
import { byId, dryRun, idParam, operationSummary as operationSummarySchema, page, plan } from '../contract/schemas.ts';
import { disk as diskSchema } from '../contract/views.ts';
import { isDryRun, loadById } from './common.ts';
import { loadMachine, requireVm } from './machine-common.ts';

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

/** The disk, when it belongs to this machine (404 otherwise). */
async function loadDiskOf(em: EntityManager, machine: IMachine, diskId: string): Promise<IDisk> {
  const disk = await loadById(em, Disk, diskId, 'disk');
  if (disk.machineId !== machine.id) throw new HangarError('not_found', `disk ${disk.id} not found on machine ${machine.name}`);
  return disk;
}

const createDiskBody = createDiskSchema.meta({ id: 'CreateDisk' });
const diskOperation = z.strictObject({ disk: diskSchema, operation: operationSummarySchema }).meta({ id: 'DiskOperation' });
const machineAndDisk = z.object({ id: idParam('machine'), diskId: idParam('disk') });

export function machineDisksRouter(deps: ApiDeps): ContractRouter {
  const r = contractRouter({ tags: ['machines'] });

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
      const operation = await startOperationOrUndo(
        em,
        deps.temporal,
        deps.config,
        {
          kind: 'attach-disk',
          workflow: 'attachDisk',
          workflowId: diskWorkflowId(diskId),
          args: [input],
          resourceType: 'disk',
          resourceId: diskId,
          requestedBy: req.actor!.name,
        },
        () => deps.orm.em.fork().nativeDelete(Disk, { id: diskId }),
      );
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
      const disk = await loadDiskOf(deps.orm.em.fork(), machine, params.diskId);
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
      const disk = await loadDiskOf(em, machine, params.diskId);
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
