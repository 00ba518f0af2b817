// Queries behind the NoCloud metadata service (api/metadata/). That service is on a
// hot path (≥ 5,000 req/s), so a document costs one lookup — machine, SSH keys, lease and
// network in a single statement — plus at most one write to record the fetch.
import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlFor } from '../sql.ts';
import type { CloudInitMachine } from '../../domain/cloud-init.ts';

export interface SeedMachineRow {
  id: string;
  name: string;
  domain: string | null;
  user_data_extras: Record<string, unknown> | null;
  /** The secret the caller must present; compared by the caller in constant time. */
  metadata_token: string;
  /** authorized_keys lines ordered by key name; [] unless keys were asked for. */
  ssh_keys: string[];
  lease_address: string | null;
  lease_mac: string | null;
  /** Prefix length and family of the lease's network; null without a lease. */
  prefix: number | null;
  family: number | null;
  gateway: string | null;
  dns_servers: string[] | null;
  search_domains: string[] | null;
  /** Base URL the machine reaches Hangar at (machine.access.metadata_url), when it differs from api.publicUrl. */
  metadata_base: string | null;
  /** Source-address lookups only: how many machines hold an active lease on the address (capped at 2). */
  matches?: string | number;
}

export interface SeedParts {
  keys: boolean;
  network: boolean;
}

/**
 * The lease a machine's network-config describes: a live lease in the machine's own network
 * (any network when the machine names none), active before reserved, then oldest first.
 */
function columns(parts: SeedParts): string {
  const keys = parts.keys
    ? `coalesce((select jsonb_agg(k.public_key order by k.name, k.id) from machine_ssh_keys mk join ssh_key k on k.id = mk.ssh_key_id
         where mk.machine_id = m.id), '[]'::jsonb) as ssh_keys`
    : `'[]'::jsonb as ssh_keys`;
  const net = parts.network
    ? `host(l.address) as lease_address, l.mac::text as lease_mac, masklen(n.cidr) as prefix, family(n.cidr) as family,
       host(n.gateway) as gateway, n.dns_servers, n.search_domains`
    : `null as lease_address, null as lease_mac, null as prefix, null as family, null as gateway, null as dns_servers, null as search_domains`;
  return `m.id, m.name, m.domain, m.user_data_extras, m.metadata_token, m.access->>'metadata_url' as metadata_base, ${keys}, ${net}`;
}

function joins(parts: SeedParts): string {
  if (!parts.network) return '';
  return `left join lateral (
      select l.address, l.mac, l.network_id from ip_lease l
      where l.machine_id = m.id and l.state in ('active', 'reserved') and (m.network_id is null or l.network_id = m.network_id)
      order by (l.state = 'active') desc, l.created_at, l.id limit 1
    ) l on true
    left join network n on n.id = l.network_id`;
}

/** One statement: the machine by id with what the requested document needs. */
export async function seedMachineById(em: EntityManager, id: string, parts: SeedParts): Promise<SeedMachineRow | null> {
  const rows = await sqlFor(em)<SeedMachineRow[]>(`select ${columns(parts)} from machine m ${joins(parts)} where m.id = ?`, [id]);
  return rows[0] ?? null;
}

/**
 * One statement: the machine whose ACTIVE lease has this address, with `matches` = how many
 * distinct machines hold such a lease (capped at 2). The caller must refuse anything but 1:
 * overlapping networks can give two machines the same address.
 * (An index on ip_lease (address) where state = 'active' would keep this O(log n); the live
 * unique index leads with network_id and cannot serve an address-only lookup.)
 */
export async function seedMachineByAddress(em: EntityManager, address: string, parts: SeedParts): Promise<SeedMachineRow | null> {
  const rows = await sqlFor(em)<SeedMachineRow[]>(
    `with hit as materialized (
       select distinct machine_id from ip_lease
       where state = 'active' and address = ?::inet and machine_id is not null limit 2
     )
     select ${columns(parts)}, (select count(*) from hit) as matches
     from machine m ${joins(parts)}
     where m.id = (select machine_id from hit order by machine_id limit 1)`,
    [address],
  );
  return rows[0] ?? null;
}

/** The token check for phone-home needs nothing else. */
export async function machineTokenById(em: EntityManager, id: string): Promise<{ id: string; metadata_token: string } | null> {
  const rows = await sqlFor(em)<{ id: string; metadata_token: string }[]>(`select id, metadata_token from machine where id = ?`, [id]);
  return rows[0] ?? null;
}

/**
 * Adds `count` fetches of `doc` to machine.metadata_fetches in ONE statement. The new count is
 * computed from the row inside the UPDATE, which PostgreSQL re-evaluates on the latest row
 * version after waiting for a concurrent writer, so concurrent fetches never lose counts.
 * lastAt/from are last-writer-wins. updated_at is left alone: a fetch is not a change to the machine.
 */
export interface FetchCount {
  machineId: string;
  doc: string;
  count: number;
  lastAt: string;
  from: string;
}

/**
 * Adds fetch counts to machine.metadata_fetches in one statement per round trip. An UPDATE …
 * FROM applies one source row per target row, so several documents of one machine go in
 * successive rounds (at most four: one per seed document).
 */
export async function recordFetches(em: EntityManager, counts: FetchCount[]): Promise<void> {
  let rest = counts;
  while (rest.length > 0) {
    const seen = new Set<string>();
    const round: FetchCount[] = [];
    const later: FetchCount[] = [];
    for (const c of rest) {
      if (seen.has(c.machineId)) later.push(c);
      else {
        seen.add(c.machineId);
        round.push(c);
      }
    }
    await sqlFor(em)(
      `update machine m set metadata_fetches = jsonb_set(
         coalesce(m.metadata_fetches, '{}'::jsonb), array[v.doc],
         jsonb_build_object(
           'count', coalesce((m.metadata_fetches -> v.doc ->> 'count')::bigint, 0) + v.count,
           'lastAt', v.last_at,
           'from', v.src),
         true)
       from jsonb_to_recordset(?::jsonb) as v(id uuid, doc text, count int, last_at text, src text)
       where m.id = v.id`,
      [JSON.stringify(round.map((c) => ({ id: c.machineId, doc: c.doc, count: c.count, last_at: c.lastAt, src: c.from })))],
    );
    rest = later;
  }
}

/** Records a phone-home; false when the machine vanished in between. */
export async function recordPhoneHome(em: EntityManager, machineId: string, payload: Record<string, string>): Promise<boolean> {
  const rows = await sqlFor(em)<{ id: string }[]>(`update machine set phoned_home_at = now(), phone_home_payload = ?::jsonb where id = ? returning id`, [
    JSON.stringify(payload),
    machineId,
  ]);
  return rows.length > 0;
}

/** The renderer's view of a seed row. */
export function cloudInitMachineFromRow(row: SeedMachineRow): CloudInitMachine {
  const hasLease = row.lease_address !== null && row.prefix !== null;
  return {
    id: row.id,
    name: row.name,
    domain: row.domain,
    sshKeys: row.ssh_keys,
    userDataExtras: row.user_data_extras,
    network: hasLease
      ? {
          address: row.lease_address!,
          prefix: Number(row.prefix),
          version: Number(row.family) === 6 ? 6 : 4,
          mac: row.lease_mac,
          gateway: row.gateway,
          dns: row.dns_servers ?? [],
          searchDomains: row.search_domains ?? [],
        }
      : null,
  };
}

/** Where a machine's phone_home posts: the base it reaches Hangar at, else the public URL. */
export function phoneHomeUrlFor(row: Pick<SeedMachineRow, 'id' | 'metadata_token' | 'metadata_base'>, publicBase: string): string {
  const base = (row.metadata_base ?? publicBase).replace(/\/+$/, '');
  return `${base}/cloud-init/${row.id}/${row.metadata_token}/phone-home`;
}
