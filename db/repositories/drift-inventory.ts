// The inventory observer's reads: Hangar's own records that contradict each other. Each query is
// one statement over indexed columns; nothing here writes.
import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlFor } from '../sql.ts';

export interface LeakedLease {
  lease_id: string;
  address: string;
  network_id: string;
  machine_id: string | null;
  machine_state: string | null;
}

/** Live leases held by a machine that is failed or deleted (a deleted record's leases are released by a trigger). */
export async function leakedLeases(em: EntityManager): Promise<LeakedLease[]> {
  return sqlFor(em.fork())<LeakedLease[]>(
    `select l.id as lease_id, host(l.address) as address, l.network_id, l.machine_id, m.state as machine_state
     from ip_lease l join machine m on m.id = l.machine_id
     where l.state <> 'released' and m.state in ('failed', 'deleted')
     order by l.id`,
  );
}

export interface LeaselessMachine {
  machine_id: string;
  name: string;
  network_id: string;
}

/** Ready machines on a network that hold no live lease there. */
export async function readyMachinesWithoutLease(em: EntityManager): Promise<LeaselessMachine[]> {
  return sqlFor(em.fork())<LeaselessMachine[]>(
    `select m.id as machine_id, m.name, m.network_id from machine m
     where m.state = 'ready' and m.network_id is not null
       and not exists (select 1 from ip_lease l where l.machine_id = m.id and l.network_id = m.network_id and l.state <> 'released')
     order by m.id`,
  );
}

export interface ClaimedHost {
  host_id: string;
  name: string;
  state: string;
  claimed_by: string | null;
}

/**
 * Hosts in a state some workflow must be driving (claimed, provisioning, deprovisioning) and that
 * have stayed there for `graceSec`: a host is claimed a moment before its workflow starts, and a
 * scan in between must not report it.
 */
export async function hostsAwaitingWorkflow(em: EntityManager, graceSec = 120): Promise<ClaimedHost[]> {
  return sqlFor(em.fork())<ClaimedHost[]>(
    `select id as host_id, name, state, claimed_by from host
     where state in ('claimed', 'provisioning', 'deprovisioning') and updated_at < now() - make_interval(secs => ?)
     order by id`,
    [graceSec],
  );
}

/** Releases a leaked lease (only a live one held by a failed or deleted machine) and notes it on its finding. */
export async function releaseLeakedLease(em: EntityManager, leaseId: string): Promise<boolean> {
  return em.fork().transactional(async (tx) => {
    const sql = sqlFor(tx);
    const released = await sql<{ id: string }[]>(
      `update ip_lease l set state = 'released', released_at = now(), updated_at = now()
       from machine m where l.id = ? and m.id = l.machine_id and l.state <> 'released' and m.state in ('failed', 'deleted')
       returning l.id`,
      [leaseId],
    );
    if (!released.length) return false;
    await sql(
      `update drift_finding set action_taken = 'release_lease' where resource_type = 'lease' and resource_id = ? and kind = 'orphan' and state <> 'resolved'`,
      [leaseId],
    );
    await sql(
      `insert into audit_event (at, actor, action, resource_type, resource_id, request_id, status_code, detail)
       values (now(), 'observer:inventory', 'drift.release_lease', 'lease', ?, 'remediation:inventory', 200, null)`,
      [leaseId],
    );
    return true;
  });
}
