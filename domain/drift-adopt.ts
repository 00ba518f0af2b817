// Adopting an unmanaged VM: which findings can be adopted and the machine record a finding's
// observed values make. Pure; the route (api/routes/drift-adopt.ts) and the adoptVm workflow do the
// writing. Adopt imports a VM as it is: the record takes the VM's own size and power, nothing
// about the VM is changed except Hangar's marker (docs/decisions/0020-proxmox-adopt-and-orphans.md).
import { HangarError } from './errors.ts';
import type { DriftKind, DriftState } from './drift.ts';
import type { ProviderName } from './machine.ts';

/** Providers whose VMs can be adopted (their Hypervisor implements `adopt`). */
export const ADOPTABLE_PROVIDERS: readonly ProviderName[] = ['proxmox'];

export interface AdoptableFinding {
  id: string;
  provider: string;
  resource_type: string;
  resource_name: string;
  kind: DriftKind;
  state: DriftState;
  observed: Record<string, unknown> | null;
}

/** The machine an adopted VM becomes, and what the workflow needs to mark the VM. */
export interface Adoption {
  findingId: string;
  provider: ProviderName;
  providerId: string;
  node: string | null;
  name: string;
  cpu: number;
  memoryMb: number;
  diskGb: number;
  power: 'running' | 'stopped';
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** A hostname label from a VM name (`Web Server 1` → `web-server-1`); `vm-<id>` when nothing is left. */
export function machineNameFor(vmName: string, providerId: string): string {
  const label = vmName
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .slice(0, 63)
    .replace(/^-+|-+$/g, '');
  return label || `vm-${providerId.replace(/[^a-z0-9]/gi, '').toLowerCase()}`.slice(0, 63);
}

/** What adopting this finding makes; 409 unless it is an open `unmanaged` VM finding of a provider that can adopt. */
export function adoptionOf(f: AdoptableFinding, name?: string): Adoption {
  if (f.kind !== 'unmanaged' || f.resource_type !== 'vm') {
    throw new HangarError('invalid_state', `only an unmanaged VM can be adopted; finding ${f.id} is ${f.kind} on a ${f.resource_type}`);
  }
  if (f.state !== 'open')
    throw new HangarError('invalid_state', `drift finding ${f.id} is ${f.state}; only an open finding can be adopted`, { state: f.state });
  if (!(ADOPTABLE_PROVIDERS as readonly string[]).includes(f.provider)) {
    throw new HangarError('invalid_state', `provider ${f.provider} cannot adopt VMs (only ${ADOPTABLE_PROVIDERS.join(', ')})`);
  }
  const o = f.observed ?? {};
  const providerId = typeof o.provider_id === 'string' ? o.provider_id : undefined;
  if (!providerId) throw new HangarError('invalid_state', `drift finding ${f.id} does not name the VM's provider id`);
  const disk = num(o.disk_gb);
  return {
    findingId: f.id,
    provider: f.provider as ProviderName,
    providerId,
    node: typeof o.location === 'string' ? o.location : null,
    name: name ?? machineNameFor(f.resource_name, providerId),
    cpu: Math.max(1, Math.round(num(o.cpu) ?? 1)),
    memoryMb: Math.max(64, Math.round(num(o.memory_mb) ?? 512)),
    // A VM without a disk Hangar can size still needs a positive record; the observer compares only what it sees.
    diskGb: Math.max(1, Math.round(disk ?? 1)),
    power: o.power === 'running' ? 'running' : 'stopped',
  };
}
