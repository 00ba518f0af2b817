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

/** Locks the network row and returns its allocation hint (see the lease_hint migration). */
async function lockNetwork(em: EntityManager, networkId: string): Promise<string | null> {
  const rows = await sqlFor(em)<{ hint: string | null }[]>(`select host(alloc_hint) as hint from network where id = ? for update`, [networkId]);
  if (!rows.length) throw new HangarError('not_found', `network ${networkId} not found`);
  return rows[0]!.hint;
}

/** The lowest free address in [lo, hi]: a gap search over what is taken, never the address space. */
async function lowestFree(em: EntityManager, network: INetwork, cidr: Cidr, lo: bigint, hi: bigint): Promise<string | null> {
  const excluded = [network.gateway, ...network.reserved].filter((a): a is string => !!a);
  const loText = formatAddress(cidr.version, lo);
  const hiText = formatAddress(cidr.version, hi);
  const rows = await sqlFor(em)<{ a: string }[]>(
    `with taken as materialized (
       select address as a from ip_lease where network_id = ? and state <> 'released' and address between ?::inet and ?::inet
       union select jsonb_array_elements_text(?::jsonb)::inet as a
     )
     select host(c.a) as a from (
       select ?::inet as a
       union all select a + 1 from taken where a < ?::inet
     ) c
     where c.a between ?::inet and ?::inet and not exists (select 1 from taken t where t.a = c.a)
     order by c.a limit 1`,
    // Arrays travel as JSON: MikroORM would expand a JS array into a parameter list.
    [network.id, loText, hiText, JSON.stringify(excluded), loText, hiText, loText, hiText],
  );
  return rows[0]?.a ?? null;
}

export async function allocateLease(em: EntityManager, network: INetwork, req: LeaseRequest): Promise<LeaseRow> {
  const cidr = networkCidr(network);
  return em.transactional(async (tx) => {
    let address: string;
    if (req.address !== null && req.address !== undefined) {
      const text = formatAddress(cidr.version, req.address);
      if (isNetworkOrBroadcast(cidr, req.address)) throw new HangarError('address_reserved', `${text} is the network or broadcast address of ${formatCidr(cidr)}`, { address: 'not assignable' });
      if (network.gateway === text || network.reserved.includes(text)) throw new HangarError('address_reserved', `${text} is reserved in network ${network.name}`, { address: 'reserved' });
      address = text;
    } else {
      const hint = await lockNetwork(tx, network.id);
      const range = leasableRange({ cidr, rangeStart: network.rangeStart ? toBig(cidr, network.rangeStart) : null, rangeEnd: network.rangeEnd ? toBig(cidr, network.rangeEnd) : null });
      // Everything below the hint is taken: start the gap search there (O(leases above it)).
      const start = range && hint ? (toBig(cidr, hint) > range.lo ? toBig(cidr, hint) : range.lo) : range?.lo;
      const free = range && start !== undefined && start <= range.hi ? await lowestFree(tx, network, cidr, start, range.hi) : null;
      if (!free) throw new HangarError('network_exhausted', `network ${network.name} (${formatCidr(cidr)}) has no free address left`);
      address = free;
      const hi = formatAddress(cidr.version, range!.hi);
      await sqlFor(tx)(`update network set alloc_hint = case when ?::inet < ?::inet then ?::inet + 1 else ?::inet end where id = ?`, [address, hi, address, hi, network.id]);
    }
    try {
      const rows = await sqlFor(tx)<LeaseRow[]>(
        `with l as (
           insert into ip_lease (id, network_id, address, machine_id, mac, state, created_at, updated_at)
           values (?, ?, ?::inet, ?, ?::macaddr, ?, now(), now()) returning *
         ) select ${LEASE_COLUMNS} from l left join machine m on m.id = l.machine_id`,
        [crypto.randomUUID(), network.id, address, req.machineId ?? null, req.mac ?? null, req.state ?? 'reserved'],
      );
      return rows[0]!;
    } catch (err) {
      if (err instanceof UniqueConstraintViolationException) {
        throw new HangarError('address_in_use', `${address} is already leased in network ${network.name}`, { address: 'in use' });
      }
      throw err;
    }
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

export async function listLeases(em: EntityManager, networkId: string, opts: { state?: string; after?: [string, string] | null; limit: number }): Promise<LeaseRow[]> {
  const params: unknown[] = [networkId];
  let where = 'l.network_id = ?';
  if (opts.state) { where += ' and l.state = ?'; params.push(opts.state); }
  else where += ` and l.state <> 'released'`;
  if (opts.after) { where += ' and (l.address, l.id) > (?::inet, ?::uuid)'; params.push(...opts.after); }
  params.push(opts.limit);
  return em.getConnection().execute<LeaseRow[]>(
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
  id: l.id, network_id: l.network_id, address: l.address, state: l.state,
  machine_id: l.machine_id, machine_name: l.machine_name, mac: l.mac,
  created_at: iso(l.created_at), updated_at: iso(l.updated_at), released_at: iso(l.released_at),
});
