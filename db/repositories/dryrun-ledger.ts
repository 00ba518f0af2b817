// PostgreSQL-backed ledger for the dry-run provider. Single statements keep each step atomic.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { DryRunLedger, DryRunVmListing, DryRunVmRecord } from '../../domain/dryrun-ledger.ts';

interface VmRow {
  id: string;
  machine_id: string;
  power_state: 'running' | 'stopped';
}
const toRecord = (r: VmRow): DryRunVmRecord => ({ id: r.id, machineId: r.machine_id, powerState: r.power_state });

export class PgDryRunLedger implements DryRunLedger {
  private readonly em: EntityManager;
  constructor(em: EntityManager) {
    this.em = em;
  }

  private get conn() {
    return this.em.getConnection();
  }

  async insertVm(vm: { id: string; machineId: string; name: string }) {
    const inserted = await this.conn.execute<VmRow[]>(
      `insert into dryrun_vm (id, machine_id, name, power_state, created_at) values (?, ?, ?, 'stopped', now())
       on conflict (machine_id) do nothing returning id, machine_id, power_state`,
      [vm.id, vm.machineId, vm.name],
    );
    if (inserted[0]) return { vm: toRecord(inserted[0]), created: true };
    const existing = await this.findVmByMachine(vm.machineId);
    if (!existing) throw new Error(`dry-run ledger: VM for ${vm.machineId} vanished during insert`);
    return { vm: existing, created: false };
  }

  async findVmByMachine(machineId: string) {
    const rows = await this.conn.execute<VmRow[]>(`select id, machine_id, power_state from dryrun_vm where machine_id = ?`, [machineId]);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async findVm(id: string) {
    const rows = await this.conn.execute<VmRow[]>(`select id, machine_id, power_state from dryrun_vm where id = ?`, [id]);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async listVms() {
    const rows = await this.conn.execute<(VmRow & { name: string })[]>(`select id, machine_id, name, power_state from dryrun_vm order by created_at`);
    return rows.map((r) => ({ ...toRecord(r), name: r.name }));
  }

  async listVmPage(afterId: string | null, limit: number): Promise<DryRunVmListing[]> {
    const rows = await this.conn.execute<(VmRow & { name: string; cpu: number | null; memory_mb: number | null; disk_gb: number | null })[]>(
      `select id, machine_id, name, power_state, cpu, memory_mb, disk_gb from dryrun_vm where id > coalesce(?, '') order by id limit ?`,
      [afterId, limit],
    );
    return rows.map((r) => ({ ...toRecord(r), name: r.name, cpu: r.cpu, memoryMb: r.memory_mb, diskGb: r.disk_gb }));
  }

  async updateVm(id: string, change: { cpu?: number; memoryMb?: number; diskGb?: number; powerState?: 'running' | 'stopped' }) {
    const res = await this.conn.execute(
      `update dryrun_vm set cpu = coalesce(?, cpu), memory_mb = coalesce(?, memory_mb), disk_gb = coalesce(?, disk_gb),
         power_state = coalesce(?, power_state)
       where id = ? and (cpu is distinct from coalesce(?, cpu) or memory_mb is distinct from coalesce(?, memory_mb)
         or disk_gb is distinct from coalesce(?, disk_gb) or power_state is distinct from coalesce(?, power_state))`,
      [
        change.cpu ?? null,
        change.memoryMb ?? null,
        change.diskGb ?? null,
        change.powerState ?? null,
        id,
        change.cpu ?? null,
        change.memoryMb ?? null,
        change.diskGb ?? null,
        change.powerState ?? null,
      ],
      'run',
    );
    return (res as unknown as { affectedRows: number }).affectedRows > 0;
  }

  async deleteVmByMachine(machineId: string) {
    const res = await this.conn.execute(`delete from dryrun_vm where machine_id = ?`, [machineId], 'run');
    return (res as unknown as { affectedRows: number }).affectedRows > 0;
  }

  async recordCall(call: { machineId: string; method: string; args: Record<string, unknown>; effect: 'applied' | 'noop' }) {
    await this.conn.execute(
      `insert into dryrun_call (machine_id, method, args, effect, at) values (?, ?, ?, ?, now())`,
      [call.machineId, call.method, JSON.stringify(call.args), call.effect],
      'run',
    );
  }
}
