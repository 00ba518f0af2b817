import { z } from 'zod';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { HangarError } from '../../domain/errors.ts';
import { safeText } from '../../domain/text.ts';
import { containsAddress, formatCidr, parseAddress } from '../../domain/cidr.ts';
import { fmt, leasableRange, networkInputSchema, normalizeMac, validateNetwork } from '../../domain/network.ts';
import { Machine, Network, type INetwork } from '../../db/entities/index.ts';
import {
  allocateLease,
  allocateLeases,
  leaseView,
  listLeases,
  MAX_BULK_LEASES,
  networkCidr,
  releaseLease,
  type LeaseRequest,
} from '../../db/repositories/leases.ts';
import type { ApiDeps } from '../context.ts';
import { cursorParts, isUuid, pageOf, parsePage } from '../pagination.ts';
import { parseOrThrow } from '../middleware/validate.ts';
import { contractRouter, json, noContent, type ContractRouter } from '../contract/route.ts';
import { byId, idParam, page, paging } from '../contract/schemas.ts';
import { lease, leaseBatch, network, networkDetail } from '../contract/ipam-views.ts';
import { loadById } from './common.ts';

const isAddress = (s: string) => {
  try {
    parseAddress(s);
    return true;
  } catch {
    return false;
  }
};

export function networkView(n: INetwork) {
  const cidr = networkCidr(n);
  return {
    id: n.id,
    name: n.name,
    cidr: formatCidr(cidr),
    version: cidr.version,
    gateway: n.gateway ?? null,
    dns_servers: n.dnsServers,
    search_domains: n.searchDomains,
    vlan: n.vlan ?? null,
    bridge: n.bridge ?? null,
    range_start: n.rangeStart ?? null,
    range_end: n.rangeEnd ?? null,
    reserved: n.reserved,
    created_at: n.createdAt,
    updated_at: n.updatedAt,
  };
}

export const leaseRequestSchema = z
  .strictObject({
    address: safeText(64).optional(),
    machine_id: z.uuid().optional(),
    mac: safeText(32).optional(),
    state: z.enum(['reserved', 'active']).optional(),
  })
  .meta({ id: 'LeaseRequest', description: 'Every field optional: no address takes the lowest free one.' });

/** Many leases in one all-or-nothing transaction: `count` lowest free addresses, or a list of requests. */
const bulkLeaseCount = z
  .strictObject({
    count: z.number().int().min(1).max(MAX_BULK_LEASES).meta({ description: 'how many addresses, lowest free first' }),
    state: z.enum(['reserved', 'active']).optional(),
  })
  .meta({ id: 'BulkLeaseCount' });
const bulkLeaseList = z
  .strictObject({ leases: z.array(leaseRequestSchema).min(1).max(MAX_BULK_LEASES).meta({ description: 'one request per lease' }) })
  .meta({ id: 'BulkLeaseList' });
const anyLeaseRequest = z.union([leaseRequestSchema, bulkLeaseCount, bulkLeaseList]);
type AnyLeaseRequest = z.output<typeof anyLeaseRequest>;
type SingleLeaseRequest = z.output<typeof leaseRequestSchema>;
/** Picks the schema by its key field, so a bad field is named in the 400 instead of a union mismatch. */
const parseLeaseRequest = (raw: Record<string, unknown>): AnyLeaseRequest =>
  'count' in raw
    ? parseOrThrow(bulkLeaseCount, raw, 'request body')
    : 'leases' in raw
      ? parseOrThrow(bulkLeaseList, raw, 'request body')
      : parseOrThrow(leaseRequestSchema, raw, 'request body');

const createNetworkBody = networkInputSchema.meta({ id: 'CreateNetwork' });
/** name and cidr are fixed once leases may exist: PATCH refuses them as unknown fields. */
const updateSchema = networkInputSchema.omit({ name: true, cidr: true }).partial().meta({ id: 'UpdateNetwork' });
const networkAndAddress = z.object({ id: idParam('network'), address: z.string().meta({ description: 'the leased IP address' }) });

function toRow(v: ReturnType<typeof validateNetwork>) {
  const version = v.cidr.version;
  return {
    cidr: formatCidr(v.cidr),
    gateway: fmt(version, v.gateway),
    dnsServers: v.dnsServers,
    searchDomains: v.searchDomains,
    vlan: v.vlan,
    bridge: v.bridge,
    rangeStart: fmt(version, v.rangeStart),
    rangeEnd: fmt(version, v.rangeEnd),
    reserved: v.reserved.map((a) => fmt(version, a)!),
  };
}

export function networksRouter(deps: ApiDeps): ContractRouter {
  const r = contractRouter({ tags: ['networks'] });
  const load = (id: string) => loadById(deps.orm.em.fork(), Network, id, 'network');

  r.route({
    method: 'post',
    path: '/',
    summary: 'Create a network',
    body: createNetworkBody,
    responses: { 201: json(network, 'the network') },
    errors: [409, 422],
    handler: async ({ body }, _req, res) => {
      const valid = validateNetwork(body);
      const em = deps.orm.em.fork();
      const created = em.create(Network, { id: crypto.randomUUID(), name: valid.name, ...toRow(valid) });
      try {
        await em.flush();
      } catch (err) {
        if (err instanceof UniqueConstraintViolationException)
          throw new HangarError('already_exists', `a network named "${valid.name}" already exists`, { name: 'already exists' });
        throw err;
      }
      res.locals.audit = { action: 'networks.create', resourceType: 'network', resourceId: created.id, detail: { name: created.name, cidr: created.cidr } };
      res.status(201).location(`/api/v1/networks/${created.id}`).json(networkView(created));
    },
  });

  r.route({
    method: 'get',
    path: '/',
    summary: 'List networks (by name)',
    query: z.object(paging),
    responses: { 200: json(page(network), 'a page of networks') },
    handler: async (_input, req, res) => {
      const pg = parsePage(req.query, deps.config.api.maxPageSize);
      const where = pg.after !== null ? { name: { $gt: pg.after } } : {};
      const rows = await deps.orm.em.fork().find(Network, where, { orderBy: { name: 'asc' }, limit: pg.pageSize + 1 });
      const { items, next_cursor } = pageOf(rows, pg.pageSize, (n) => n.name);
      res.json({ items: items.map(networkView), next_cursor });
    },
  });

  r.route({
    method: 'get',
    path: '/:id',
    summary: 'Get a network with its lease counts',
    params: byId('network'),
    responses: { 200: json(networkDetail, 'the network') },
    errors: [404],
    handler: async ({ params }, _req, res) => {
      const found = await load(params.id);
      const [counts] = await deps.orm.em
        .getConnection()
        .execute<{ live: string }[]>(`select count(*) as live from ip_lease where network_id = ? and state <> 'released'`, [found.id]);
      const range = leasableRange({ cidr: networkCidr(found), rangeStart: null, rangeEnd: null });
      res.json({ ...networkView(found), leases: { live: Number(counts?.live ?? 0), addresses: range ? String(range.hi - range.lo + 1n) : '0' } });
    },
  });

  r.route({
    method: 'patch',
    path: '/:id',
    summary: 'Change a network (not its name or CIDR)',
    params: byId('network'),
    body: updateSchema,
    responses: { 200: json(network, 'the network') },
    errors: [404, 409, 422],
    handler: async ({ params, body }, _req, res) => {
      const em = deps.orm.em.fork();
      const found = await loadById(em, Network, params.id, 'network');
      const current = networkView(found);
      const merged = { ...current, ...body, name: found.name, cidr: current.cidr };
      const valid = validateNetwork(
        parseOrThrow(
          networkInputSchema,
          {
            name: merged.name,
            cidr: merged.cidr,
            gateway: merged.gateway,
            dns_servers: merged.dns_servers,
            search_domains: merged.search_domains,
            vlan: merged.vlan,
            bridge: merged.bridge,
            range_start: merged.range_start,
            range_end: merged.range_end,
            reserved: merged.reserved,
          },
          'request body',
        ),
      );
      // Exclusions or the range may have changed: the lowest-free hint starts over.
      em.assign(found, { ...toRow(valid), allocHint: null });
      await em.flush();
      res.locals.audit = { action: 'networks.update', resourceType: 'network', resourceId: found.id };
      res.json(networkView(found));
    },
  });

  r.route({
    method: 'delete',
    path: '/:id',
    summary: 'Delete a network (409 while it has live leases, unless force=true)',
    params: byId('network'),
    query: z.object({ force: z.enum(['true', 'false']).optional().meta({ description: 'true: delete even with live leases' }) }),
    responses: { 204: noContent('deleted') },
    errors: [404, 409],
    handler: async ({ params, query }, _req, res) => {
      const em = deps.orm.em.fork();
      const found = await loadById(em, Network, params.id, 'network');
      const forced = query.force === 'true';
      const [row] = await em
        .getConnection()
        .execute<{ live: string }[]>(`select count(*) as live from ip_lease where network_id = ? and state <> 'released'`, [found.id]);
      if (Number(row?.live ?? 0) > 0 && !forced) {
        throw new HangarError('has_dependents', `network ${found.name} still has ${row?.live} live lease(s); release them or pass ?force=true`);
      }
      await em.nativeDelete(Network, { id: found.id });
      res.locals.audit = { action: 'networks.delete', resourceType: 'network', resourceId: found.id, detail: { name: found.name, forced } };
      res.status(204).end();
    },
  });

  /** One lease request checked against the network (the field names point into the body). */
  const toLeaseRequest = (cidr: ReturnType<typeof networkCidr>, body: SingleLeaseRequest, at = ''): LeaseRequest => {
    let address: bigint | null = null;
    if (body.address !== undefined) {
      let parsed;
      try {
        parsed = parseAddress(body.address);
      } catch {
        throw new HangarError('invalid_address', `${body.address} is not an IP address`, { [`${at}address`]: 'not an IP address' });
      }
      if (!containsAddress(cidr, parsed)) {
        throw new HangarError('outside_network', `${body.address} is outside ${formatCidr(cidr)}`, { [`${at}address`]: 'outside the network' });
      }
      address = parsed.value;
    }
    const mac = body.mac !== undefined ? normalizeMac(body.mac) : null;
    return { address, machineId: body.machine_id ?? null, mac, ...(body.state ? { state: body.state } : {}) };
  };
  const mustExistMachines = async (ids: (string | null | undefined)[]) => {
    const wanted = [...new Set(ids.filter((id): id is string => !!id))];
    if (wanted.length === 0) return;
    const found = new Set((await deps.orm.em.fork().find(Machine, { id: { $in: wanted } }, { fields: ['id'] })).map((m) => m.id));
    const missing = wanted.find((id) => !found.has(id));
    if (missing) throw new HangarError('unprocessable', `machine ${missing} does not exist`, { machine_id: 'not found' });
  };

  r.route({
    method: 'post',
    path: '/:id/leases',
    summary: 'Lease an address (the lowest free one, or the one asked for), or many at once (count, or a list: all or nothing)',
    params: byId('network'),
    body: anyLeaseRequest,
    parseBody: parseLeaseRequest,
    responses: { 201: json(z.union([lease, leaseBatch]), 'the lease; for count or leases, every lease in request order') },
    errors: [404, 409, 422],
    handler: async ({ params, body }, _req, res) => {
      const found = await load(params.id);
      const cidr = networkCidr(found);
      if ('count' in body || 'leases' in body) {
        const reqs =
          'count' in body
            ? Array.from({ length: body.count }, (): LeaseRequest => ({ ...(body.state ? { state: body.state } : {}) }))
            : body.leases.map((one, i) => toLeaseRequest(cidr, one, `leases.${i}.`));
        await mustExistMachines(reqs.map((q) => q.machineId));
        const rows = await allocateLeases(deps.orm.em.fork(), found, reqs);
        res.locals.audit = {
          action: 'leases.create',
          resourceType: 'network',
          resourceId: found.id,
          detail: { network: found.name, count: rows.length, first: rows[0]?.address, last: rows.at(-1)?.address },
        };
        res.status(201).json({ items: rows.map(leaseView) });
        return;
      }
      const one = toLeaseRequest(cidr, body);
      await mustExistMachines([one.machineId]);
      const created = await allocateLease(deps.orm.em.fork(), found, one);
      res.locals.audit = {
        action: 'leases.create',
        resourceType: 'ip_lease',
        resourceId: created.id,
        detail: { network: found.name, address: created.address },
      };
      res.status(201).json(leaseView(created));
    },
  });

  r.route({
    method: 'get',
    path: '/:id/leases',
    summary: "The network's leases (by address)",
    params: byId('network'),
    query: z.object({ state: z.enum(['reserved', 'active', 'released']).optional(), ...paging }),
    responses: { 200: json(page(lease), 'a page of leases') },
    errors: [404],
    handler: async ({ params, query }, req, res) => {
      const found = await load(params.id);
      const pg = parsePage(req.query, deps.config.api.maxPageSize);
      const after = pg.after === null ? null : (cursorParts(pg.after, [isAddress, isUuid]) as [string, string]);
      const rows = await listLeases(deps.orm.em.fork(), found.id, { state: query.state, after, limit: pg.pageSize + 1 });
      const { items, next_cursor } = pageOf(rows, pg.pageSize, (l) => `${l.address}|${l.id}`);
      res.json({ items: items.map(leaseView), next_cursor });
    },
  });

  r.route({
    method: 'delete',
    path: '/:id/leases/:address',
    summary: 'Release a lease (answers with the released lease)',
    params: networkAndAddress,
    responses: { 200: json(lease, 'the released lease') },
    errors: [404, 422],
    handler: async ({ params }, _req, res) => {
      const found = await load(params.id);
      let text: string;
      try {
        const a = parseAddress(params.address);
        text = fmt(a.version, a.value)!;
      } catch {
        throw new HangarError('invalid_address', `${params.address} is not an IP address`, { address: 'not an IP address' });
      }
      const released = await releaseLease(deps.orm.em.fork(), found.id, text);
      if (!released) throw new HangarError('not_found', `no live lease for ${text} in network ${found.name}`);
      res.locals.audit = { action: 'leases.release', resourceType: 'ip_lease', resourceId: released.id, detail: { network: found.name, address: text } };
      res.json(leaseView(released));
    },
  });

  return r;
}
