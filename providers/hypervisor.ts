// What every VM provider implements. Each call is idempotent: creating what exists returns it,
// deleting what is gone succeeds, so a retried or replayed activity never doubles a side effect.
import type { ProviderName } from '../domain/machine.ts';

export interface VmSpec {
  machineId: string;
  name: string;
  cpu: number;
  memoryMb: number;
  diskGb: number;
}

export type PowerState = 'running' | 'stopped' | 'absent';

export interface VmStatus {
  providerId: string | null;
  powerState: PowerState;
}

export interface Hypervisor {
  readonly name: ProviderName;
  /** Creates the VM for this machine, or returns the one that already exists. */
  create(spec: VmSpec): Promise<{ providerId: string; created: boolean }>;
  configure(providerId: string, spec: VmSpec): Promise<void>;
  start(providerId: string): Promise<void>;
  stop(providerId: string): Promise<void>;
  /** Deletes the machine's VM; "already gone" is success. */
  delete(machineId: string): Promise<{ deleted: boolean }>;
  status(machineId: string): Promise<VmStatus>;
}
