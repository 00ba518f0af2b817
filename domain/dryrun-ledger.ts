// What the dry-run provider stores: its pretend VMs and every call it received. The provider
// writes through this interface; db/ implements it in PostgreSQL (and tests in memory).

export interface DryRunVmRecord {
  id: string;
  machineId: string;
  powerState: 'running' | 'stopped';
}

export interface DryRunVmListing extends DryRunVmRecord {
  name: string;
  cpu: number | null;
  memoryMb: number | null;
  diskGb: number | null;
}

/** Storage for the dry-run provider's pretend world. Implementations must make `insertVm` atomic. */
export interface DryRunLedger {
  /** Inserts the VM unless one exists for the machine; returns the stored one and whether it was new. */
  insertVm(vm: { id: string; machineId: string; name: string }): Promise<{ vm: DryRunVmRecord; created: boolean }>;
  findVmByMachine(machineId: string): Promise<DryRunVmRecord | null>;
  findVm(id: string): Promise<DryRunVmRecord | null>;
  listVms(): Promise<(DryRunVmRecord & { name: string })[]>;
  /** One page of VMs in id order after `afterId` (null: from the start), with their settings (null before configure). */
  listVmPage(afterId: string | null, limit: number): Promise<DryRunVmListing[]>;
  /** Applies the change; returns false when nothing changed (already in that state). */
  updateVm(id: string, change: { cpu?: number; memoryMb?: number; diskGb?: number; powerState?: 'running' | 'stopped' }): Promise<boolean>;
  deleteVmByMachine(machineId: string): Promise<boolean>;
  recordCall(call: { machineId: string; method: string; args: Record<string, unknown>; effect: 'applied' | 'noop' }): Promise<void>;
}
