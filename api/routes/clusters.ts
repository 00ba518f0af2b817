// /api/v1/clusters: groups of machines (VMs or bare metal) with a role each. The control-plane
// endpoint and the `ready` condition are derived on every read from the control-plane machines'
// state and addresses (their live leases), or from an explicit VIP — never stored, so never stale.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { EntityManager } from '@mikro-orm/postgresql';
import { HangarError } from '../../domain/errors.ts';
import {
  clusterMemberSchema,
  createClusterSchema,
  deriveControlPlane,
  updateClusterSchema,
  type ClusterMemberView,
  type ClusterRole,
} from '../../domain/cluster.ts';
import { Cluster, ClusterMachine, Machine, type ICluster } from '../../db/entities/index.ts';
import { iso, sqlFor } from '../../db/sql.ts';
import type { ApiDeps } from '../context.ts';
import { pageOf, parsePage } from '../pagination.ts';
import { contractRouter, json, noContent, type ContractRouter } from '../contract/route.ts';
import { byRef, idParam, page, paging, refParam } from '../contract/schemas.ts';
import { cluster } from '../contract/views.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface MemberRow {
  cluster_id: string;
  machine_id: string;
  role: ClusterRole;
  name: string;
  state: string;
  updated_at: string | Date;
  addresses: string[];
}

/** Members of the given clusters with their live addresses (active leases first). One statement. */
async function membersOf(em: EntityManager, clusterIds: string[]): Promise<Map<string, MemberRow[]>> {
  const out = new Map<string, MemberRow[]>();
  if (!clusterIds.length) return out;
  const rows = await sqlFor(em)<MemberRow[]>(
    `select cm.cluster_id::text as cluster_id, cm.machine_id::text as machine_id, cm.role, m.name, m.state, m.updated_at,
       coalesce((select jsonb_agg(host(l.address) order by (l.state = 'active') desc, l.created_at, l.id)
                 from ip_lease l where l.machine_id = m.id and l.state in ('active', 'reserved')), '[]'::jsonb) as addresses
     from cluster_machine cm join machine m on m.id = cm.machine_id
     where cm.cluster_id = any(?::uuid[]) order by m.name`,
    [`{${clusterIds.join(',')}}`],
  );
  for (const r of rows) {
    const list = out.get(r.cluster_id) ?? [];
    list.push(r);
    out.set(r.cluster_id, list);
  }
  return out;
}

function clusterView(c: ICluster, rows: MemberRow[]) {
  const members: ClusterMemberView[] = rows.map((r) => ({ machine_id: r.machine_id, name: r.name, role: r.role, state: r.state, addresses: r.addresses }));
  const derived = deriveControlPlane(c.controlPlaneVip ?? null, c.controlPlanePort, members);
  // Derived, not stored: the last transition is the latest change among the inputs.
  const times = [c.updatedAt.toISOString(), ...rows.filter((r) => r.role === 'control-plane').map((r) => iso(r.updated_at) ?? '')].sort();
  return {
    id: c.id,
    name: c.name,
    description: c.description ?? null,
    control_plane_vip: c.controlPlaneVip ?? null,
    control_plane_port: c.controlPlanePort,
    control_plane_endpoint: derived.endpoint,
    conditions: [{ ...derived.ready, lastTransitionTime: times.at(-1)! }],
    ready: derived.ready.status === 'True',
    machines: members,
    created_at: c.createdAt,
    updated_at: c.updatedAt,
  };
}

async function loadCluster(em: EntityManager, ref: string): Promise<ICluster> {
  const c = await em.findOne(Cluster, UUID.test(ref) ? { id: ref } : { name: ref });
  if (!c) throw new HangarError('not_found', `cluster ${ref} not found`);
  return c;
}

async function view(em: EntityManager, c: ICluster) {
  return clusterView(c, (await membersOf(em, [c.id])).get(c.id) ?? []);
}

/** Adds (or re-roles) members; a machine already in another cluster is a 409 naming it. */
async function addMembers(em: EntityManager, clusterId: string, members: { machine_id: string; role: ClusterRole }[]) {
  if (!members.length) return;
  const ids = [...new Set(members.map((m) => m.machine_id))];
  const found = new Set((await em.find(Machine, { id: { $in: ids } }, { fields: ['id'] })).map((m) => m.id));
  const missing = ids.filter((id) => !found.has(id));
  if (missing.length) throw new HangarError('unprocessable', `unknown machine id(s): ${missing.join(', ')}`, { machines: `unknown: ${missing.join(', ')}` });
  const sql = sqlFor(em);
  const elsewhere = await sql<{ machine_id: string; name: string }[]>(
    `select cm.machine_id::text as machine_id, c.name from cluster_machine cm join cluster c on c.id = cm.cluster_id
     where cm.machine_id = any(?::uuid[]) and cm.cluster_id <> ?`,
    [`{${ids.join(',')}}`, clusterId],
  );
  if (elsewhere.length) {
    throw new HangarError('conflict', `machine(s) already in another cluster: ${elsewhere.map((e) => `${e.machine_id} (${e.name})`).join(', ')}`, {
      machines: 'in another cluster',
    });
  }
  for (const m of members) {
    await sql(
      `insert into cluster_machine (machine_id, cluster_id, role, created_at) values (?, ?, ?, now())
               on conflict (machine_id) do update set role = excluded.role where cluster_machine.cluster_id = excluded.cluster_id`,
      [m.machine_id, clusterId, m.role],
    );
  }
}

const createClusterBody = createClusterSchema.meta({ id: 'CreateCluster' });
const updateClusterBody = updateClusterSchema.meta({ id: 'UpdateCluster' });
const clusterMemberBody = clusterMemberSchema.meta({ id: 'ClusterMember' });
const clusterAndMachine = z.object({ ref: refParam('cluster'), machineId: idParam('machine') });

export function clustersRouter(deps: ApiDeps): ContractRouter {
  const r = contractRouter({ tags: ['clusters'] });

  r.route({
    method: 'post',
    path: '/',
    summary: 'Create a cluster, optionally with members',
    body: createClusterBody,
    responses: { 201: json(cluster, 'the cluster') },
    errors: [409, 422],
    handler: async ({ body }, _req, res) => {
      const em = deps.orm.em.fork();
      if (await em.count(Cluster, { name: body.name }))
        throw new HangarError('already_exists', `a cluster named "${body.name}" already exists`, { name: 'already exists' });
      const id = randomUUID();
      await em.transactional(async (tx) => {
        tx.create(Cluster, {
          id,
          name: body.name,
          description: body.description ?? null,
          controlPlaneVip: body.control_plane_vip ?? null,
          controlPlanePort: body.control_plane_port ?? 6443,
        });
        await tx.flush();
        await addMembers(tx, id, body.machines ?? []);
      });
      res.locals.audit = { action: 'clusters.create', resourceType: 'cluster', resourceId: id, detail: { name: body.name } };
      const fresh = deps.orm.em.fork();
      res
        .status(201)
        .location(`/api/v1/clusters/${id}`)
        .json(await view(fresh, await loadCluster(fresh, id)));
    },
  });

  r.route({
    method: 'get',
    path: '/',
    summary: 'List clusters (by name)',
    query: z.object(paging),
    responses: { 200: json(page(cluster), 'a page of clusters') },
    handler: async (_input, req, res) => {
      const pg = parsePage(req.query, deps.config.api.maxPageSize);
      const em = deps.orm.em.fork();
      const rows = await em.find(Cluster, pg.after !== null ? { name: { $gt: pg.after } } : {}, { orderBy: { name: 'asc' }, limit: pg.pageSize + 1 });
      const { items, next_cursor } = pageOf(rows, pg.pageSize, (c) => c.name);
      const members = await membersOf(
        em,
        items.map((c) => c.id),
      );
      res.json({ items: items.map((c) => clusterView(c, members.get(c.id) ?? [])), next_cursor });
    },
  });

  r.route({
    method: 'get',
    path: '/:ref',
    summary: 'Get a cluster with its derived endpoint and readiness',
    params: byRef('cluster'),
    responses: { 200: json(cluster, 'the cluster') },
    errors: [404],
    handler: async ({ params }, _req, res) => {
      const em = deps.orm.em.fork();
      res.json(await view(em, await loadCluster(em, params.ref)));
    },
  });

  r.route({
    method: 'patch',
    path: '/:ref',
    summary: 'Change a cluster (VIP, port, description)',
    params: byRef('cluster'),
    body: updateClusterBody,
    responses: { 200: json(cluster, 'the cluster') },
    errors: [404],
    handler: async ({ params, body }, _req, res) => {
      const em = deps.orm.em.fork();
      const c = await loadCluster(em, params.ref);
      const change: Partial<ICluster> = {};
      if (body.control_plane_vip !== undefined) change.controlPlaneVip = body.control_plane_vip;
      if (body.control_plane_port !== undefined) change.controlPlanePort = body.control_plane_port;
      if (body.description !== undefined) change.description = body.description;
      if (Object.keys(change).length) await em.nativeUpdate(Cluster, { id: c.id }, { ...change, updatedAt: new Date() });
      res.locals.audit = { action: 'clusters.update', resourceType: 'cluster', resourceId: c.id, detail: { fields: Object.keys(body) } };
      const fresh = deps.orm.em.fork();
      res.json(await view(fresh, await loadCluster(fresh, c.id)));
    },
  });

  r.route({
    method: 'delete',
    path: '/:ref',
    summary: 'Delete a cluster (its machines stay)',
    params: byRef('cluster'),
    responses: { 204: noContent('deleted') },
    errors: [404],
    handler: async ({ params }, _req, res) => {
      const em = deps.orm.em.fork();
      const c = await loadCluster(em, params.ref);
      // Memberships go with the cluster; the machines stay.
      await em.nativeDelete(Cluster, { id: c.id });
      res.locals.audit = { action: 'clusters.delete', resourceType: 'cluster', resourceId: c.id, detail: { name: c.name } };
      res.status(204).end();
    },
  });

  r.route({
    method: 'post',
    path: '/:ref/machines',
    summary: 'Add a machine with a role (or change its role)',
    params: byRef('cluster'),
    body: clusterMemberBody,
    responses: { 200: json(cluster, 'the cluster') },
    errors: [404, 409, 422],
    handler: async ({ params, body }, _req, res) => {
      const em = deps.orm.em.fork();
      const c = await loadCluster(em, params.ref);
      await addMembers(em, c.id, [body]);
      await em.nativeUpdate(Cluster, { id: c.id }, { updatedAt: new Date() });
      res.locals.audit = {
        action: 'clusters.add-machine',
        resourceType: 'cluster',
        resourceId: c.id,
        detail: { machine_id: body.machine_id, role: body.role },
      };
      const fresh = deps.orm.em.fork();
      res.json(await view(fresh, await loadCluster(fresh, c.id)));
    },
  });

  r.route({
    method: 'delete',
    path: '/:ref/machines/:machineId',
    summary: 'Remove a machine from the cluster (answers with the cluster)',
    params: clusterAndMachine,
    responses: { 200: json(cluster, 'the cluster') },
    errors: [404],
    handler: async ({ params }, _req, res) => {
      const em = deps.orm.em.fork();
      const c = await loadCluster(em, params.ref);
      const machineId = params.machineId;
      const removed = UUID.test(machineId) ? await em.nativeDelete(ClusterMachine, { machineId, clusterId: c.id }) : 0;
      if (!removed) throw new HangarError('not_found', `machine ${machineId} is not in cluster ${c.name}`);
      await em.nativeUpdate(Cluster, { id: c.id }, { updatedAt: new Date() });
      res.locals.audit = { action: 'clusters.remove-machine', resourceType: 'cluster', resourceId: c.id, detail: { machine_id: machineId } };
      const fresh = deps.orm.em.fork();
      res.json(await view(fresh, await loadCluster(fresh, c.id)));
    },
  });

  return r;
}
