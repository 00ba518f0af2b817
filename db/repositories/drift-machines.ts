// The hypervisor observer's reads and writes: the machines one provider should be running, the
// action remediation took on a finding, and the operation record of a fix it started (so the fix
// shows under GET /machines/{id}/operations like any user's operation).
import type { EntityManager } from '@mikro-orm/postgresql';
import type { DriftKind, DriftPolicy, ResourceRef } from '../../domain/drift.ts';
import type { MachineRecord } from '../../domain/drift-machines.ts';
import type { MachineState } from '../../domain/machine.ts';
import { sqlFor } from '../sql.ts';

interface MachineRow {
  id: string;
  name: string;
  state: MachineState;
  power_state: string | null;
  provider_id: string | null;
  cpu: number;
  memory_mb: number;
  disk_gb: number;
  has_network: boolean;
  drift_policy: DriftPolicy | null;
}

const COLUMNS = `id, name, state, power_state, provider_id, cpu, memory_mb, disk_gb, network_id is not null as has_network, drift_policy`;

const toRecord = (r: MachineRow): MachineRecord => ({
  id: r.id,
  name: r.name,
  state: r.state,
  powerState: r.power_state,
  providerId: r.provider_id,
  cpu: r.cpu,
  memoryMb: r.memory_mb,
  diskGb: r.disk_gb,
  hasNetwork: r.has_network,
  driftPolicy: r.drift_policy,
});

/** Every machine record of the provider that is not deleted: the scan judges ready ones and leaves the rest alone. One statement. */
export async function machinesOfProvider(em: EntityManager, provider: string): Promise<MachineRecord[]> {
  const rows = await sqlFor(em.fork())<MachineRow[]>(`select ${COLUMNS} from machine where provider = ? and state <> 'deleted'`, [provider]);
  return rows.map(toRecord);
}

/** Re-read just before a fix: the machine must still be ready, on this provider, and (for a start) not stopped by a user. */
export async function machineForRemediation(em: EntityManager, machineId: string): Promise<MachineRecord | null> {
  const rows = await sqlFor(em.fork())<MachineRow[]>(`select ${COLUMNS} from machine where id = ?`, [machineId]);
  return rows[0] ? toRecord(rows[0]) : null;
}

/** Whether a machine record that is not `deleted` carries this id: such a machine's VM is never an orphan. */
export async function liveMachineRecordExists(em: EntityManager, machineId: string): Promise<boolean> {
  const rows = await sqlFor(em.fork())<{ n: number }[]>(`select 1 as n from machine where id = ? and state <> 'deleted'`, [machineId]);
  return rows.length > 0;
}

/** Sets `action_taken` on the unresolved finding of (resource, kind); returns its id, or null when none is unresolved. */
export async function recordActionOn(em: EntityManager, ref: Pick<ResourceRef, 'type' | 'id'>, kind: DriftKind, action: string): Promise<string | null> {
  const rows = await sqlFor(em.fork())<{ id: string }[]>(
    `update drift_finding set action_taken = ? where resource_type = ? and resource_id = ? and kind = ? and state <> 'resolved' returning id`,
    [action, ref.type, ref.id, kind],
  );
  return rows[0]?.id ?? null;
}

/** The operation row of a workflow run an observer started (the API writes the same for a user's request). */
export async function recordObserverOperation(
  em: EntityManager,
  op: { kind: string; workflowId: string; runId: string; resourceType: string; resourceId: string; requestedBy: string },
): Promise<string> {
  const rows = await sqlFor(em.fork())<{ id: string }[]>(
    `insert into operation (id, kind, workflow_id, run_id, resource_type, resource_id, requested_by, created_at)
     values (gen_random_uuid(), ?, ?, ?, ?, ?, ?, now()) returning id`,
    [op.kind, op.workflowId, op.runId, op.resourceType, op.resourceId, op.requestedBy],
  );
  return rows[0]!.id;
}
