// Adoption's writes: the finding resolved as `adopted` (with an audit entry, like the scans'
// resolutions) once the VM carries Hangar's marker and its machine is ready.
import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlFor } from '../sql.ts';

/** Resolves the finding with action `adopted`; a scan that resolved it meanwhile (the VM now carries the marker) keeps its time. */
export async function resolveAdoptedFinding(em: EntityManager, findingId: string, machineId: string): Promise<void> {
  await em.fork().transactional(async (tx) => {
    const sql = sqlFor(tx);
    const rows = await sql<{ id: string }[]>(
      `update drift_finding set state = 'resolved', resolved_at = coalesce(resolved_at, now()), action_taken = 'adopted'
       where id = ? and action_taken is distinct from 'adopted' returning id`,
      [findingId],
    );
    if (!rows.length) return;
    await sql(
      `insert into audit_event (at, actor, action, resource_type, resource_id, request_id, status_code, detail)
       select now(), 'workflow:adoptVm', 'drift.resolve', 'drift_finding', f.id::text, ?, 200,
              jsonb_build_object('resource_type', f.resource_type, 'resource_id', f.resource_id, 'kind', f.kind, 'action_taken', 'adopted', 'machine_id', ?::text)
       from drift_finding f where f.id = ?`,
      [`adopt:${findingId}`, machineId, findingId],
    );
  });
}
