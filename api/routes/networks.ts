import { Router } from 'express';
import { z } from 'zod';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { HangarError } from '../../domain/errors.ts';
import { safeText } from '../../domain/text.ts';
import { containsAddress, formatCidr, parseAddress } from '../../domain/cidr.ts';
import { fmt, leasableRange, networkInputSchema, normalizeMac, validateNetwork, type NetworkInput } from '../../domain/network.ts';
import { Machine, Network, type INetwork } from '../../db/entities/index.ts';
import { allocateLease, leaseView, listLeases, networkCidr, releaseLease } from '../../db/repositories/leases.ts';
import type { ApiDeps } from '../context.ts';
import { cursorParts, isUuid, pageOf, parsePage } from '../pagination.ts';
import { parseOrThrow, validateBody } from '../middleware/validate.ts';
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
    id: n.id, name: n.name, cidr: formatCidr(cidr), version: cidr.version, gateway: n.gateway ?? null,
    dns_servers: n.dnsServers, search_domains: n.searchDomains, vlan: n.vlan ?? null, bridge: n.bridge ?? null,
    range_start: n.rangeStart ?? null, range_end: n.rangeEnd ?? null, reserved: n.reserved,
    created_at: n.createdAt, updated_at: n.updatedAt,
  };
}

export const leaseRequestSchema = z.strictObject({
  address: safeText(64).optional(),
  machine_id: z.uuid().optional(),
  mac: safeText(32).optional(),
  state: z.enum(['reserved', 'active']).optional(),
});

const updateSchema = networkInputSchema.omit({ name: true, cidr: true }).partial();

function toRow(v: ReturnType<typeof validateNetwork>) {
  const version = v.cidr.version;
  return {
    cidr: formatCidr(v.cidr), gateway: fmt(version, v.gateway), dnsServers: v.dnsServers, searchDomains: v.searchDomains,
    vlan: v.vlan, bridge: v.bridge, rangeStart: fmt(version, v.rangeStart), rangeEnd: fmt(version, v.rangeEnd),
    reserved: v.reserved.map((a) => fmt(version, a)!),
  };
}

export function networksRouter(deps: ApiDeps): Router {
  const router = Router();
  const load = (id: unknown) => loadById(deps.orm.em.fork(), Network, String(id), 'network');

  router.post('/', validateBody(networkInputSchema), async (req, res) => {
    const valid = validateNetwork(res.locals.body as NetworkInput);
    const em = deps.orm.em.fork();
    const network = em.create(Network, { id: crypto.randomUUID(), name: valid.name, ...toRow(valid) });
    try {
      await em.flush();
    } catch (err) {
      if (err instanceof UniqueConstraintViolationException) throw new HangarError('already_exists', `a network named "${valid.name}" already exists`, { name: 'already exists' });
      throw err;
    }
    res.locals.audit = { action: 'networks.create', resourceType: 'network', resourceId: network.id, detail: { name: network.name, cidr: network.cidr } };
    res.status(201).location(`/api/v1/networks/${network.id}`).json(networkView(network));
  });

  router.get('/', async (req, res) => {
    const page = parsePage(req.query, deps.config.api.maxPageSize);
    const where = page.after !== null ? { name: { $gt: page.after } } : {};
    const rows = await deps.orm.em.fork().find(Network, where, { orderBy: { name: 'asc' }, limit: page.pageSize + 1 });
    const { items, next_cursor } = pageOf(rows, page.pageSize, (n) => n.name);
    res.json({ items: items.map(networkView), next_cursor });
  });

  router.get('/:id', async (req, res) => {
    const network = await load(req.params.id);
    const [counts] = await deps.orm.em.getConnection().execute<{ live: string }[]>(
      `select count(*) as live from ip_lease where network_id = ? and state <> 'released'`, [network.id]);
    const range = leasableRange({ cidr: networkCidr(network), rangeStart: null, rangeEnd: null });
    res.json({ ...networkView(network), leases: { live: Number(counts?.live ?? 0), addresses: range ? String(range.hi - range.lo + 1n) : '0' } });
  });

  router.patch('/:id', validateBody(updateSchema), async (req, res) => {
    const em = deps.orm.em.fork();
    const network = await loadById(em, Network, String(req.params.id), 'network');
    const current = networkView(network);
    const merged = { ...current, ...(res.locals.body as Partial<NetworkInput>), name: network.name, cidr: current.cidr };
    const valid = validateNetwork(parseOrThrow(networkInputSchema, {
      name: merged.name, cidr: merged.cidr, gateway: merged.gateway, dns_servers: merged.dns_servers, search_domains: merged.search_domains,
      vlan: merged.vlan, bridge: merged.bridge, range_start: merged.range_start, range_end: merged.range_end, reserved: merged.reserved,
    }, 'request body'));
    // Exclusions or the range may have changed: the lowest-free hint starts over.
    em.assign(network, { ...toRow(valid), allocHint: null });
    await em.flush();
    res.locals.audit = { action: 'networks.update', resourceType: 'network', resourceId: network.id };
    res.json(networkView(network));
  });

  router.delete('/:id', async (req, res) => {
    const em = deps.orm.em.fork();
    const network = await loadById(em, Network, String(req.params.id), 'network');
    const [row] = await em.getConnection().execute<{ live: string }[]>(`select count(*) as live from ip_lease where network_id = ? and state <> 'released'`, [network.id]);
    if (Number(row?.live ?? 0) > 0 && req.query.force !== 'true') {
      throw new HangarError('has_dependents', `network ${network.name} still has ${row?.live} live lease(s); release them or pass ?force=true`);
    }
    await em.nativeDelete(Network, { id: network.id });
    res.locals.audit = { action: 'networks.delete', resourceType: 'network', resourceId: network.id, detail: { name: network.name, forced: req.query.force === 'true' } };
    res.status(204).end();
  });

  router.post('/:id/leases', validateBody(leaseRequestSchema), async (req, res) => {
    const network = await load(req.params.id);
    const body = res.locals.body as z.infer<typeof leaseRequestSchema>;
    const cidr = networkCidr(network);
    let address: bigint | null = null;
    if (body.address !== undefined) {
      let parsed;
      try {
        parsed = parseAddress(body.address);
      } catch {
        throw new HangarError('invalid_address', `${body.address} is not an IP address`, { address: 'not an IP address' });
      }
      if (!containsAddress(cidr, parsed)) {
        throw new HangarError('outside_network', `${body.address} is outside ${formatCidr(cidr)}`, { address: 'outside the network' });
      }
      address = parsed.value;
    }
    if (body.machine_id && !(await deps.orm.em.fork().count(Machine, { id: body.machine_id }))) {
      throw new HangarError('unprocessable', `machine ${body.machine_id} does not exist`, { machine_id: 'not found' });
    }
    const mac = body.mac !== undefined ? normalizeMac(body.mac) : null;
    const lease = await allocateLease(deps.orm.em.fork(), network, { address, machineId: body.machine_id ?? null, mac, state: body.state });
    res.locals.audit = { action: 'leases.create', resourceType: 'ip_lease', resourceId: lease.id, detail: { network: network.name, address: lease.address } };
    res.status(201).json(leaseView(lease));
  });

  router.get('/:id/leases', async (req, res) => {
    const network = await load(req.params.id);
    const q = parseOrThrow(z.object({ state: z.enum(['reserved', 'active', 'released']).optional() }).loose(), req.query, 'query');
    const page = parsePage(req.query, deps.config.api.maxPageSize);
    const after = page.after === null ? null : cursorParts(page.after, [isAddress, isUuid]) as [string, string];
    const rows = await listLeases(deps.orm.em.fork(), network.id, { state: q.state, after, limit: page.pageSize + 1 });
    const { items, next_cursor } = pageOf(rows, page.pageSize, (l) => `${l.address}|${l.id}`);
    res.json({ items: items.map(leaseView), next_cursor });
  });

  router.delete('/:id/leases/:address', async (req, res) => {
    const network = await load(req.params.id);
    let text: string;
    try {
      const a = parseAddress(String(req.params.address));
      text = fmt(a.version, a.value)!;
    } catch {
      throw new HangarError('invalid_address', `${String(req.params.address)} is not an IP address`, { address: 'not an IP address' });
    }
    const lease = await releaseLease(deps.orm.em.fork(), network.id, text);
    if (!lease) throw new HangarError('not_found', `no live lease for ${text} in network ${network.name}`);
    res.locals.audit = { action: 'leases.release', resourceType: 'ip_lease', resourceId: lease.id, detail: { network: network.name, address: text } };
    res.json(leaseView(lease));
  });

  return router;
}
