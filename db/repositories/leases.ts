// IP leases. The partial unique index ip_lease_live_unique is what makes double allocation
// impossible; the network row lock only keeps concurrent requests from racing for the same
// candidate and retrying in vain.
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { HangarError } from '../../domain/errors.ts';
import { formatAddress, formatCidr, parseCidr, type Cidr } from '../../domain/cidr.ts';
import { isNetworkOrBroadcast, leasableRange } from '../../domain/network.ts';
import type { INetwork } from '../entities/index.ts';
import { iso, sqlFor } from '../sql.ts';

export interface LeaseRow {
  id: string;
  network_id: string;
  address: string;
  machine_id: string | null;
  machine_name: string | null;
  mac: string | null;
  state: 'reserved' | 'active' | 'released';
  created_at: Date | string;
  updated_at: Date | string;
  released_at: Date | string | null;
}

const LEASE_COLUMNS = `l.id, l.network_id, host(l.address) as address, l.machine_id, m.name as machine_name, l.mac::text as mac,
  l.state, l.created_at, l.updated_at, l.released_at`;

export function networkCidr(n: INetwork): Cidr {
  return parseCidr(n.cidr);
}

export interface LeaseRequest {
  address?: bigint | null;
  machineId?: string | null;
  mac?: string | null;
  state?: 'reserved' | 'active';
}

interface PendingLease {
  id: string;
  machineId: string | null;
  mac: string | null;
  state: 'reserved' | 'active';
  resolve: (row: LeaseRow | null) => void;
  reject: (err: unknown) => void;
}

interface NetworkQueue {
  running: boolean;
  waiting: PendingLease[];
}

// Allocation in one network is serial (allocate_leases locks the network row), so requests that
// arrive while one call is running are queued here and sent together in the next call: one lock,
// one index walk and one commit for the whole batch. A lone request goes out at once.
const MAX_BATCH = 200;
const queues = new WeakMap<object, Map<string, NetworkQueue>>();

function queueFor(em: EntityManager, networkId: string): NetworkQueue {
  const key = em.getDriver();
  let byNetwork = queues.get(key);
  if (!byNetwork) queues.set(key, (byNetwork = new Map()));
  let queue = byNetwork.get(networkId);
  if (!queue) byNetwork.set(networkId, (queue = { running: false, waiting: [] }));
  return queue;
}

async function callAllocate(
  em: EntityManager,
  network: INetwork,
  cidr: Cidr,
  range: { lo: bigint; hi: bigint },
  batch: PendingLease[],
  fn: 'allocate_leases' | 'allocate_lease_run' = 'allocate_leases',
): Promise<LeaseRow[]> {
  const excluded = [network.gateway, ...network.reserved].filter((a): a is string => !!a);
  const requests = batch.map((r) => ({ id: r.id, machine_id: r.machineId, mac: r.mac, state: r.state }));
  return sqlFor(em)<LeaseRow[]>(
    `select ${LEASE_COLUMNS} from ${fn}(?::uuid, ?::inet, ?::inet, ?::jsonb, ?::jsonb) l
     left join machine m on m.id = l.machine_id`,
    // Arrays travel as JSON: MikroORM would expand a JS array into a parameter list.
    [network.id, formatAddress(cidr.version, range.lo), formatAddress(cidr.version, range.hi), JSON.stringify(excluded), JSON.stringify(requests)],
  );
}

async function drain(em: EntityManager, network: INetwork, cidr: Cidr, range: { lo: bigint; hi: bigint }, queue: NetworkQueue): Promise<void> {
  queue.running = true;
  try {
    while (queue.waiting.length) {
      const batch = queue.waiting.splice(0, MAX_BATCH);
      try {
        const rows = await callAllocate(em, network, cidr, range, batch);
        const byId = new Map(rows.map((r) => [r.id, r]));
        for (const r of batch) r.resolve(byId.get(r.id) ?? null);
      } catch (err) {
        if (batch.length === 1) {
          batch[0]!.reject(err);
          continue;
        }
        // One bad request (a machine deleted meanwhile) must not fail its neighbours: go one by one.
        for (const r of batch) {
          try {
            const [row] = await callAllocate(em, network, cidr, range, [r]);
            r.resolve(row ?? null);
          } catch (single) {
            r.reject(single);
          }
        }
      }
    }
  } finally {
    queue.running = false;
  }
}

/** The lowest free address of the network's range, allocated through the per-network batch queue. */
function allocateLowestFree(em: EntityManager, network: INetwork, cidr: Cidr, req: LeaseRequest): Promise<LeaseRow | null> {
  const range = leasableRange({
    cidr,
    rangeStart: network.rangeStart ? toBig(cidr, network.rangeStart) : null,
    rangeEnd: network.rangeEnd ? toBig(cidr, network.rangeEnd) : null,
  });
  if (!range) return Promise.resolve(null);
  // Inside a caller's transaction the allocation must join it; batching would leave it.
  if (em.getTransactionContext()) {
    return callAllocate(em, network, cidr, range, [
      { id: crypto.randomUUID(), machineId: req.machineId ?? null, mac: req.mac ?? null, state: req.state ?? 'reserved', resolve: () => {}, reject: () => {} },
    ]).then((rows) => rows[0] ?? null);
  }
  const queue = queueFor(em, network.id);
  return new Promise<LeaseRow | null>((resolve, reject) => {
    queue.waiting.push({ id: crypto.randomUUID(), machineId: req.machineId ?? null, mac: req.mac ?? null, state: req.state ?? 'reserved', resolve, reject });
    if (!queue.running) void drain(em, network, cidr, range, queue);
  });
}

export async function allocateLease(em: EntityManager, network: INetwork, req: LeaseRequest): Promise<LeaseRow> {
  const cidr = networkCidr(network);
  if (req.address === null || req.address === undefined) {
    let row: LeaseRow | null;
    try {
      row = await allocateLowestFree(em, network, cidr, req);
    } catch (err) {
      if ((err as { code?: string }).code === 'P0002' || /network .* not found/.test(String((err as Error).message))) {
        throw new HangarError('not_found', `network ${network.id} not found`);
      }
      throw err;
    }
    if (!row) throw new HangarError('network_exhausted', `network ${network.name} (${formatCidr(cidr)}) has no free address left`);
    return row;
  }
  const text = formatAddress(cidr.version, req.address);
  if (isNetworkOrBroadcast(cidr, req.address))
    throw new HangarError('address_reserved', `${text} is the network or broadcast address of ${formatCidr(cidr)}`, { address: 'not assignable' });
  if (network.gateway === text || network.reserved.includes(text))
    throw new HangarError('address_reserved', `${text} is reserved in network ${network.name}`, { address: 'reserved' });
  try {
    const rows = await sqlFor(em)<LeaseRow[]>(
      `with l as (
         insert into ip_lease (id, network_id, address, machine_id, mac, state, created_at, updated_at)
         values (?, ?, ?::inet, ?, ?::macaddr, ?, now(), now()) returning *
       ) select ${LEASE_COLUMNS} from l left join machine m on m.id = l.machine_id`,
      [crypto.randomUUID(), network.id, text, req.machineId ?? null, req.mac ?? null, req.state ?? 'reserved'],
    );
    return rows[0]!;
  } catch (err) {
    if (err instanceof UniqueConstraintViolationException) {
      throw new HangarError('address_in_use', `${text} is already leased in network ${network.name}`, { address: 'in use' });
    }
    throw err;
  }
}

/** Most addresses one bulk request may take (the API's limit). */
export const MAX_BULK_LEASES = 1024;

/**
 * Several leases in one transaction, all or nothing: the addresses asked for by value first, then
 * the rest from the lowest free up in one allocate_leases call. A request that cannot be met in
 * full (an address in use or reserved, too few free) allocates nothing. Rows come in request order.
 */
export async function allocateLeases(em: EntityManager, network: INetwork, reqs: LeaseRequest[]): Promise<LeaseRow[]> {
  const cidr = networkCidr(network);
  const range = leasableRange({
    cidr,
    rangeStart: network.rangeStart ? toBig(cidr, network.rangeStart) : null,
    rangeEnd: network.rangeEnd ? toBig(cidr, network.rangeEnd) : null,
  });
  const seen = new Set<bigint>();
  for (const r of reqs) {
    if (r.address === null || r.address === undefined) continue;
    if (seen.has(r.address)) {
      throw new HangarError('address_in_use', `${formatAddress(cidr.version, r.address)} is asked for twice`, { leases: 'duplicate address' });
    }
    seen.add(r.address);
  }
  return em.transactional(async (tx) => {
    const out: LeaseRow[] = new Array(reqs.length);
    // By value first (each checked as a single request is), so the lowest-free walk goes around them.
    for (const [i, r] of reqs.entries()) if (r.address !== null && r.address !== undefined) out[i] = await allocateLease(tx, network, r);
    const free = reqs.flatMap((r, i) => (r.address === null || r.address === undefined ? [{ i, r, id: crypto.randomUUID() }] : []));
    if (free.length > 0) {
      const pending = free.map(({ r, id }) => ({
        id,
        machineId: r.machineId ?? null,
        mac: r.mac ?? null,
        state: r.state ?? 'reserved',
        resolve() {},
        reject() {},
      }));
      // One set-based statement for the run; the address-by-address walk tops up what a
      // concurrent by-value lease took from under it.
      const rows = range ? await callAllocate(tx, network, cidr, range, pending, 'allocate_lease_run') : [];
      const got = new Set(rows.map((row) => row.id));
      const missing = pending.filter((p) => !got.has(p.id));
      if (range && missing.length > 0) rows.push(...(await callAllocate(tx, network, cidr, range, missing)));
      if (rows.length < free.length) {
        throw new HangarError(
          'network_exhausted',
          `network ${network.name} (${formatCidr(cidr)}) has ${rows.length} free address(es), ${free.length} asked for; nothing was allocated`,
        );
      }
      const byId = new Map(rows.map((row) => [row.id, row]));
      for (const { i, id } of free) out[i] = byId.get(id)!;
    }
    return out;
  });
}

function toBig(cidr: Cidr, text: string): bigint {
  // Stored values were validated on write; parse with the network's family.
  return parseCidr(`${text}/${cidr.version === 4 ? 32 : 128}`).network;
}

export async function releaseLease(em: EntityManager, networkId: string, address: string): Promise<LeaseRow | null> {
  const rows = await em.getConnection().execute<LeaseRow[]>(
    `with l as (
       update ip_lease set state = 'released', released_at = now(), updated_at = now()
       where network_id = ? and address = ?::inet and state <> 'released' returning *
     ) select ${LEASE_COLUMNS} from l left join machine m on m.id = l.machine_id`,
    [networkId, address],
  );
  return rows[0] ?? null;
}

export async function listLeases(
  em: EntityManager,
  networkId: string,
  opts: { state?: string; after?: [string, string] | null; limit: number },
): Promise<LeaseRow[]> {
  const params: unknown[] = [networkId];
  let where = 'l.network_id = ?';
  if (opts.state) {
    where += ' and l.state = ?';
    params.push(opts.state);
  } else where += ` and l.state <> 'released'`;
  if (opts.after) {
    where += ' and (l.address, l.id) > (?::inet, ?::uuid)';
    params.push(...opts.after);
  }
  params.push(opts.limit);
  return em
    .getConnection()
    .execute<LeaseRow[]>(
      `select ${LEASE_COLUMNS} from ip_lease l left join machine m on m.id = l.machine_id where ${where} order by l.address, l.id limit ?`,
      params,
    );
}

export async function leasesOfMachine(em: EntityManager, machineId: string): Promise<LeaseRow[]> {
  return em.getConnection().execute<LeaseRow[]>(
    `select ${LEASE_COLUMNS} from ip_lease l left join machine m on m.id = l.machine_id
     where l.machine_id = ? and l.state <> 'released' order by l.address`,
    [machineId],
  );
}

export const leaseView = (l: LeaseRow) => ({
  id: l.id,
  network_id: l.network_id,
  address: l.address,
  state: l.state,
  machine_id: l.machine_id,
  machine_name: l.machine_name,
  mac: l.mac,
  created_at: iso(l.created_at),
  updated_at: iso(l.updated_at),
  released_at: iso(l.released_at),
});
