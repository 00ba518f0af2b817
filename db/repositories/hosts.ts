// Host state in PostgreSQL. Two rules keep hosts safe under concurrency:
//  - a claim is ONE conditional statement over the available hosts: the candidate row is picked
//    with FOR UPDATE SKIP LOCKED (concurrent claimers take different hosts, or none), and the
//    UPDATE re-checks state = 'available'; a host can never be claimed twice;
//  - every other change of state is a transition of domain/host.ts applied with
//    UPDATE ... WHERE id = ? AND state = <the state it was read in>, under a row lock.
import type { EntityManager } from '@mikro-orm/postgresql';
import { HangarError } from '../../domain/errors.ts';
import {
  HOST_TRANSITIONS,
  mergeConditions,
  transition,
  transitionConditions,
  transitionSources,
  type ConditionUpdate,
  type HostCondition,
  type HostEvent,
  type HostState,
} from '../../domain/host-state.ts';
import { Host, type IHost } from '../entities/index.ts';
import { sqlFor } from '../sql.ts';

interface LockedRow {
  id: string;
  name: string;
  state: HostState;
  claimed_by: string | null;
  conditions: HostCondition[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A host by id or name. */
export async function findHost(em: EntityManager, ref: string): Promise<IHost | null> {
  return em.fork().findOne(Host, UUID.test(ref) ? { id: ref } : { name: ref });
}

export async function loadHost(em: EntityManager, ref: string): Promise<IHost> {
  const host = await findHost(em, ref);
  if (!host) throw new HangarError('not_found', `host ${ref} not found`);
  return host;
}

async function lockHost(em: EntityManager, hostId: string): Promise<LockedRow> {
  const [row] = await sqlFor(em)<LockedRow[]>(`select id, name, state, claimed_by::text as claimed_by, conditions from host where id = ? for update`, [hostId]);
  if (!row) throw new HangarError('not_found', `host ${hostId} not found`);
  return row;
}

export interface TransitionOptions {
  message: string;
  /** The transition is refused unless the host is claimed by this machine (null: by none). */
  expectClaimedBy?: string | null;
  /** Set claimed_by (and claimed_at) with the change; null releases the claim. */
  claimedBy?: string | null;
  lastError?: string | null;
  /** Extra condition updates (e.g. bmc_reachable) applied with the transition. */
  conditions?: ConditionUpdate[];
  /** Already in the target state (with the expected claim): nothing to do. For retried activities. */
  idempotent?: boolean;
}

/**
 * Applies one transition of the host state machine atomically: the row is locked, the transition
 * checked against the table (409 invalid_state naming the current state), and the UPDATE is
 * conditional on the state it was read in. Returns the state before and after.
 */
export async function transitionHost(
  em: EntityManager,
  hostId: string,
  event: HostEvent,
  opts: TransitionOptions,
): Promise<{ from: HostState; to: HostState; changed: boolean }> {
  return em.fork().transactional(async (tx) => {
    const row = await lockHost(tx, hostId);
    const target: HostState = HOST_TRANSITIONS[event].to;
    const claimOk =
      opts.expectClaimedBy === undefined || row.claimed_by === opts.expectClaimedBy || (opts.claimedBy !== undefined && row.claimed_by === opts.claimedBy);
    if (opts.idempotent && row.state === target && claimOk) return { from: row.state, to: row.state, changed: false };
    if (opts.expectClaimedBy !== undefined && row.claimed_by !== opts.expectClaimedBy) {
      throw new HangarError(
        'invalid_state',
        `host ${row.name} is ${row.state} and ${row.claimed_by ? `claimed by machine ${row.claimed_by}` : 'not claimed'}, not by ${opts.expectClaimedBy ?? 'nobody'}`,
        { state: row.state },
      );
    }
    const to = transition(row.state, event, `host ${row.name}`);
    const conditions = mergeConditions(row.conditions, [...transitionConditions(event, opts.message), ...(opts.conditions ?? [])]);
    const sets = ['state = ?', 'conditions = ?::jsonb', 'updated_at = now()'];
    const params: unknown[] = [to, JSON.stringify(conditions)];
    if (opts.claimedBy !== undefined) {
      sets.push('claimed_by = ?', opts.claimedBy === null ? 'claimed_at = null' : 'claimed_at = now()');
      params.push(opts.claimedBy);
    }
    if (opts.lastError !== undefined) {
      sets.push('last_error = ?');
      params.push(opts.lastError);
    }
    const updated = await sqlFor(tx)<{ id: string }[]>(`update host set ${sets.join(', ')} where id = ? and state = ? returning id`, [
      ...params,
      hostId,
      row.state,
    ]);
    if (!updated.length) throw new HangarError('conflict', `host ${row.name} changed state concurrently; retry`);
    return { from: row.state, to, changed: true };
  });
}

/** Sets conditions (e.g. bmc_reachable) and other observed fields without a change of state. */
export async function updateHostObservation(
  em: EntityManager,
  hostId: string,
  updates: ConditionUpdate[],
  fields: { powerState?: string | null; lastError?: string | null } = {},
): Promise<void> {
  await em.fork().transactional(async (tx) => {
    const row = await lockHost(tx, hostId);
    const conditions = mergeConditions(row.conditions, updates);
    const sets = ['conditions = ?::jsonb'];
    const params: unknown[] = [JSON.stringify(conditions)];
    if (fields.powerState !== undefined) {
      sets.push('power_state = ?');
      params.push(fields.powerState);
    }
    if (fields.lastError !== undefined) {
      sets.push('last_error = ?');
      params.push(fields.lastError);
    }
    // A pure observation (same conditions, same power state) is not a change: updated_at stays.
    if (JSON.stringify(conditions) !== JSON.stringify(row.conditions) || fields.lastError !== undefined) sets.push('updated_at = now()');
    await sqlFor(tx)(`update host set ${sets.join(', ')} where id = ?`, [...params, hostId]);
  });
}

export interface InspectionRecord {
  vendor: string | null;
  model: string | null;
  serialNumber: string | null;
  powerState: string | null;
  bootModes: string[] | null;
  virtualMediaSupported: boolean;
  inventory: Record<string, unknown>;
}

export async function recordInspection(em: EntityManager, hostId: string, rec: InspectionRecord, condition: ConditionUpdate): Promise<void> {
  await em.fork().transactional(async (tx) => {
    const row = await lockHost(tx, hostId);
    const conditions = mergeConditions(row.conditions, [condition]);
    await sqlFor(tx)(
      `update host set vendor = ?, model = ?, serial_number = ?, power_state = ?, boot_modes = ?::jsonb, virtual_media_supported = ?,
         inventory = ?::jsonb, inspected_at = now(), conditions = ?::jsonb, updated_at = now() where id = ?`,
      [
        rec.vendor,
        rec.model,
        rec.serialNumber,
        rec.powerState,
        rec.bootModes ? JSON.stringify(rec.bootModes) : null,
        rec.virtualMediaSupported,
        JSON.stringify(rec.inventory),
        JSON.stringify(conditions),
        hostId,
      ],
    );
  });
}

export interface HostSelector {
  /** A host id or name. */
  host?: string;
  /** Every one of these tags. */
  tags?: string[];
}

export function describeSelector(s: HostSelector): string {
  if (s.host) return `host "${s.host}"`;
  if (s.tags?.length) return `an available host tagged ${s.tags.join(', ')}`;
  return 'any available host';
}

/**
 * Claims one available host matching the selector for a machine created in the same transaction
 * (`createMachine` runs after the host row is locked and before the claim is written, so the
 * claim's foreign key holds). With no match: 409 no_host_available, naming the named host's state.
 *
 *   update host set state = 'claimed', claimed_by = $machine ...
 *   where id = (select id from host where state = 'available' and <selector>
 *               order by name for update skip locked limit 1) and state = 'available'
 */
export async function claimHost(
  em: EntityManager,
  selector: HostSelector,
  message: (host: { id: string; name: string }) => string,
  createMachine: (tx: EntityManager, host: { id: string; name: string }) => Promise<string>,
): Promise<{ hostId: string; hostName: string; machineId: string }> {
  const where: string[] = [`state = 'available'`];
  const params: unknown[] = [];
  if (selector.host) {
    if (UUID.test(selector.host)) {
      where.push('id = ?');
      params.push(selector.host);
    } else {
      where.push('name = ?');
      params.push(selector.host);
    }
  }
  if (selector.tags?.length) {
    where.push('tags @> ?::jsonb');
    params.push(JSON.stringify(selector.tags));
  }
  const result = await em.fork().transactional(async (tx) => {
    const sql = sqlFor(tx);
    const [candidate] = await sql<LockedRow[]>(
      `select id, name, state, claimed_by::text as claimed_by, conditions from host where ${where.join(' and ')}
       order by name for update skip locked limit 1`,
      params,
    );
    if (!candidate) return null;
    const machineId = await createMachine(tx, candidate);
    const conditions = mergeConditions(candidate.conditions, transitionConditions('claim', message(candidate)));
    const claimed = await sql<{ id: string }[]>(
      `update host set state = ?, claimed_by = ?, claimed_at = now(), conditions = ?::jsonb, last_error = null, updated_at = now()
       where id = ? and state = any(?::text[]) returning id`,
      [transition('available', 'claim'), machineId, JSON.stringify(conditions), candidate.id, `{${transitionSources('claim').join(',')}}`],
    );
    if (!claimed.length) throw new HangarError('conflict', `host ${candidate.name} was claimed concurrently; retry`);
    return { hostId: candidate.id, hostName: candidate.name, machineId };
  });
  if (result) return result;
  if (selector.host) {
    const host = await findHost(em, selector.host);
    if (!host) throw new HangarError('not_found', `host ${selector.host} not found`, { host: 'not found' });
    throw new HangarError(
      'no_host_available',
      `host ${host.name} is ${host.state}${host.state === 'available' ? ' but being claimed by another request' : ''}; it cannot be claimed now`,
      { host: host.state },
    );
  }
  const counts = await sqlFor(em.fork())<{ state: string; n: string }[]>(
    `select state, count(*) as n from host ${selector.tags?.length ? 'where tags @> ?::jsonb' : ''} group by state order by state`,
    selector.tags?.length ? [JSON.stringify(selector.tags)] : [],
  );
  const summary = counts.length ? counts.map((c) => `${c.n} ${c.state}`).join(', ') : 'none registered';
  throw new HangarError('no_host_available', `no host available for ${describeSelector(selector)} (hosts: ${summary})`);
}
