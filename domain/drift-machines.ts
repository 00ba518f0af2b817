// The hypervisor observer's comparison: a provider's VM inventory against the machines the
// database says that provider runs. Pure; the activity (activities/machine-drift-activities.ts)
// gathers both sides, applies the report and carries out the remediation this module plans.
//
//   ready machine, VM listed        → power_mismatch / config_mismatch when they differ
//   ready machine, no VM            → missing (after two complete scans: the completeness guard)
//   ready machine, overlay gone     → config_mismatch {disk: present} vs {disk: missing}
//   VM without Hangar's marker      → unmanaged (never remediated, never deleted)
//   marked VM, machine gone         → orphan `instance` (remediate may delete it: Hangar made it)
//   Hangar leftover (ISO, disk)     → orphan `iso` / `disk`
// Machines in flight (pending, provisioning, deprovisioning) and failed machines are not judged:
// their VM may rightly be half-made or half-gone, and a workflow (or the user) owns it.
import {
  compareResources,
  effectivePolicy,
  remediationFor,
  type DesiredResource,
  type Difference,
  type DriftPolicy,
  type ObservedResource,
  type ResourceRef,
} from './drift.ts';
import type { MachineState } from './machine.ts';

/** One run of the hypervisor observer: one provider target (`qemu/local`, `proxmox/<cluster>`, `dryrun`). */
export interface ReconcileMachinesInput {
  provider: 'qemu' | 'proxmox' | 'dryrun';
  target: string;
  /** The provider's policy; a machine's own `drift_policy` overrides it. Default `observe`. */
  policy?: DriftPolicy;
}

/** At most this many fixes per scan: the rest wait for the next tick, so a mass outage never becomes a start storm. */
export const MAX_REMEDIATIONS_PER_SCAN = 20;

export type VmPowerState = 'running' | 'stopped' | 'paused' | 'absent';

/** A machine record of the provider being scanned, as the repository reads it. */
export interface MachineRecord {
  id: string;
  name: string;
  state: MachineState;
  /** Last power state a workflow recorded (`stopped` after a user's stop). */
  powerState: string | null;
  providerId: string | null;
  cpu: number;
  memoryMb: number;
  diskGb: number;
  /** Whether the machine has a network (then it has exactly one NIC Hangar configured). */
  hasNetwork: boolean;
  driftPolicy: DriftPolicy | null;
}

/** The provider listing, structurally the Hypervisor's VmInventory (domain does not import providers). */
export interface ListedVm {
  providerId: string;
  machineId: string | null;
  name: string;
  powerState: VmPowerState;
  config?: { cpu?: number; memory_mb?: number; disk_gb?: number; nics?: number };
  location?: string;
  diskMissing?: boolean;
}
export interface ListedLeftover {
  kind: 'iso' | 'disk' | 'instance';
  ref: string;
  name: string;
  machineId: string | null;
}
export interface ListedInventory {
  vms: ListedVm[];
  leftovers: ListedLeftover[];
  failures: string[];
}

/** One fix to carry out after the scan is recorded. */
export type PlannedRemediation =
  | { action: 'start_vm'; ref: ResourceRef; kind: 'power_mismatch'; machineId: string; providerId: string }
  | { action: 'delete_orphan'; ref: ResourceRef; kind: 'orphan'; leftover: ListedLeftover };

export interface MachineScan {
  complete: boolean;
  differences: Difference[];
  /** Resource keys (`type/id`) the listing judged: what a partial scan may still resolve. */
  judged: string[];
  remediations: PlannedRemediation[];
}

const JUDGED_STATES: readonly MachineState[] = ['ready'];
const IN_FLIGHT_STATES: readonly MachineState[] = ['pending', 'provisioning', 'deprovisioning', 'failed'];

/** What Hangar expects of a ready machine's VM: running unless a user stopped it. */
export function desiredPower(m: Pick<MachineRecord, 'powerState'>): 'running' | 'stopped' {
  return m.powerState === 'stopped' ? 'stopped' : 'running';
}

const machineRef = (m: { id: string; name: string }): ResourceRef => ({ type: 'machine', id: m.id, name: m.name });

/** Unmanaged VMs and leftovers have no Hangar id: their id is qualified by the target (one finding per target's VM). */
export const listedRef = (target: string, type: string, ref: string, name: string): ResourceRef => ({ type, id: `${target}/${ref}`, name });

export function compareMachines(target: string, machines: readonly MachineRecord[], inventory: ListedInventory, providerPolicy: DriftPolicy): MachineScan {
  const byId = new Map(machines.map((m) => [m.id, m]));
  const judgedMachines = machines.filter((m) => JUDGED_STATES.includes(m.state));
  const desired: DesiredResource[] = judgedMachines.map((m) => ({
    ref: machineRef(m),
    power: desiredPower(m),
    config: { cpu: m.cpu, memory_mb: m.memoryMb, disk_gb: m.diskGb, ...(m.hasNetwork ? { nics: 1 } : {}) },
  }));
  const observed: ObservedResource[] = [];
  const differences: Difference[] = [];
  const remediations: PlannedRemediation[] = [];
  const judged: string[] = [];
  const orphanLeftovers: ListedLeftover[] = [...inventory.leftovers];

  for (const vm of inventory.vms) {
    const machine = vm.machineId ? byId.get(vm.machineId) : undefined;
    if (vm.machineId && !machine) {
      // Hangar's marker, no record: a VM Hangar made and lost track of.
      orphanLeftovers.push({ kind: 'instance', ref: vm.providerId, name: vm.name, machineId: vm.machineId });
      continue;
    }
    if (!vm.machineId) {
      // A folder named after a machine Hangar is still making (its record not yet written).
      if (byId.has(vm.providerId)) continue;
      const ref = listedRef(target, 'vm', vm.providerId, vm.name);
      judged.push(`${ref.type}/${ref.id}`);
      observed.push({
        ref,
        managed: false,
        power: observedPower(vm.powerState),
        config: { provider_id: vm.providerId, ...(vm.location ? { location: vm.location } : {}), ...(vm.config ?? {}) },
      });
      continue;
    }
    if (!machine || IN_FLIGHT_STATES.includes(machine.state)) continue;
    const ref = machineRef(machine);
    judged.push(`machine/${machine.id}`);
    observed.push({ ref, managed: true, power: observedPower(vm.powerState), ...(vm.config ? { config: { ...vm.config } } : {}) });
    if (vm.diskMissing) {
      differences.push({ ref, kind: 'config_mismatch', desired: { disk: 'present' }, observed: { disk: 'missing' }, createdByHangar: true });
    }
  }

  for (const diff of compareResources(desired, observed)) {
    // A missing overlay and differing settings are one finding per (machine, kind): merge them.
    const merged = diff.kind === 'config_mismatch' ? differences.find((d) => d.kind === 'config_mismatch' && d.ref.id === diff.ref.id) : undefined;
    if (merged) {
      merged.desired = { ...merged.desired, ...diff.desired };
      merged.observed = { ...merged.observed, ...diff.observed };
      continue;
    }
    differences.push(diff);
    if (diff.kind !== 'power_mismatch' || diff.observed?.power !== 'stopped' || diff.desired?.power !== 'running') continue;
    const machine = byId.get(diff.ref.id)!;
    if (remediationFor(diff, effectivePolicy(providerPolicy, machine.driftPolicy)) === 'start_vm' && machine.providerId) {
      remediations.push({ action: 'start_vm', ref: diff.ref, kind: 'power_mismatch', machineId: machine.id, providerId: machine.providerId });
    }
  }

  for (const leftover of orphanLeftovers) {
    const ref = listedRef(target, leftover.kind, leftover.ref, leftover.name);
    judged.push(`${ref.type}/${ref.id}`);
    const diff: Difference = { ref, kind: 'orphan', desired: null, observed: { ref: leftover.ref, machine_id: leftover.machineId }, createdByHangar: true };
    differences.push(diff);
    // Orphans belong to no machine, so only the provider's policy applies.
    if (remediationFor(diff, providerPolicy) === 'delete_orphan') remediations.push({ action: 'delete_orphan', ref, kind: 'orphan', leftover });
  }
  return { complete: inventory.failures.length === 0, differences, judged, remediations };
}

/** A paused VM is not running; the drift vocabulary has two power states. */
function observedPower(state: VmPowerState): 'running' | 'stopped' {
  return state === 'running' ? 'running' : 'stopped';
}
