// The hypervisor observer's comparison: ready machines against the listed VMs (power, settings,
// a missing overlay), unmanaged VMs, Hangar-marked VMs without a machine, leftovers, machines in
// flight left alone, and which fixes each policy plans (never one for an unmanaged VM).
import { describe, expect, it } from '@jest/globals';
import { compareMachines, MAX_REMEDIATIONS_PER_SCAN, type ListedInventory, type ListedVm, type MachineRecord } from '../../domain/drift-machines.ts';

const machine = (id: string, extra: Partial<MachineRecord> = {}): MachineRecord => ({
  id,
  name: `vm-${id}`,
  state: 'ready',
  powerState: 'running',
  providerId: `p-${id}`,
  cpu: 2,
  memoryMb: 1024,
  diskGb: 10,
  hasNetwork: false,
  driftPolicy: null,
  ...extra,
});
const vm = (id: string, extra: Partial<ListedVm> = {}): ListedVm => ({
  providerId: `p-${id}`,
  machineId: id,
  name: `vm-${id}`,
  powerState: 'running',
  config: { cpu: 2, memory_mb: 1024, disk_gb: 10, nics: 1 },
  ...extra,
});
const listing = (vms: ListedVm[], extra: Partial<ListedInventory> = {}): ListedInventory => ({ vms, leftovers: [], failures: [], ...extra });
const kinds = (scan: ReturnType<typeof compareMachines>) => scan.differences.map((d) => `${d.ref.type}/${d.ref.id}:${d.kind}`).sort();

describe('compareMachines', () => {
  it('finds nothing when every ready machine has its VM as recorded', () => {
    const scan = compareMachines(
      'qemu/local',
      [machine('a'), machine('b', { powerState: 'stopped' })],
      listing([vm('a'), vm('b', { powerState: 'stopped' })]),
      'remediate',
    );
    expect(scan).toEqual({ complete: true, differences: [], judged: ['machine/a', 'machine/b'], remediations: [] });
  });

  it('reports a stopped VM that should run, changed settings and a missing overlay (merged into one config finding)', () => {
    const scan = compareMachines(
      'qemu/local',
      [machine('a'), machine('b', { hasNetwork: true }), machine('c')],
      listing([
        vm('a', { powerState: 'stopped' }),
        vm('b', { config: { cpu: 4, memory_mb: 1024, nics: 2 }, diskMissing: true }),
        vm('c', { powerState: 'paused' }),
      ]),
      'observe',
    );
    expect(kinds(scan)).toEqual(['machine/a:power_mismatch', 'machine/b:config_mismatch', 'machine/c:power_mismatch']);
    const config = scan.differences.find((d) => d.ref.id === 'b')!;
    expect(config.desired).toEqual({ disk: 'present', cpu: 2, nics: 1 });
    expect(config.observed).toEqual({ disk: 'missing', cpu: 4, nics: 2 });
    // observe plans nothing.
    expect(scan.remediations).toEqual([]);
  });

  it('plans a start under remediate, by the provider policy or the machine override; a machine set to observe is only reported', () => {
    const machines = [machine('a'), machine('b', { driftPolicy: 'observe' }), machine('c', { driftPolicy: 'remediate' })];
    const vms = [vm('a', { powerState: 'stopped' }), vm('b', { powerState: 'stopped' }), vm('c', { powerState: 'stopped' })];
    const underRemediate = compareMachines('t', machines, listing(vms), 'remediate');
    expect(underRemediate.remediations.map((r) => `${r.action}:${r.ref.id}`)).toEqual(['start_vm:a', 'start_vm:c']);
    const underObserve = compareMachines('t', machines, listing(vms), 'observe');
    expect(underObserve.remediations).toEqual([expect.objectContaining({ action: 'start_vm', machineId: 'c', providerId: 'p-c' })]);
    // A VM running that the user stopped is a mismatch too, but no start is planned for it.
    const running = compareMachines('t', [machine('d', { powerState: 'stopped' })], listing([vm('d')]), 'remediate');
    expect(kinds(running)).toEqual(['machine/d:power_mismatch']);
    expect(running.remediations).toEqual([]);
  });

  it('reports unmanaged VMs (never remediated) and Hangar-marked VMs without a machine as orphans (deleted only under remediate)', () => {
    const inventory = listing([vm('gone'), { providerId: 'hand-made', machineId: null, name: 'hand-made', powerState: 'running' }], {
      leftovers: [{ kind: 'iso', ref: 'local:iso/x.iso', name: 'x.iso', machineId: null }],
    });
    const scan = compareMachines('pve', [], inventory, 'remediate');
    expect(kinds(scan)).toEqual(['instance/pve/p-gone:orphan', 'iso/pve/local:iso/x.iso:orphan', 'vm/pve/hand-made:unmanaged']);
    const unmanaged = scan.differences.find((d) => d.kind === 'unmanaged')!;
    expect(unmanaged.createdByHangar).toBe(false);
    expect(scan.remediations.map((r) => `${r.action}:${r.ref.id}`).sort()).toEqual(['delete_orphan:pve/local:iso/x.iso', 'delete_orphan:pve/p-gone']);
    expect(compareMachines('pve', [], inventory, 'observe').remediations).toEqual([]);
  });

  it('leaves machines in flight and failed ones alone, and a folder named after a machine being made', () => {
    const machines = [
      machine('p', { state: 'provisioning' }),
      machine('f', { state: 'failed' }),
      machine('d', { state: 'deprovisioning' }),
      machine('n', { state: 'pending' }),
    ];
    const vms = [
      vm('p', { powerState: 'stopped' }),
      vm('f', { powerState: 'stopped' }),
      { providerId: 'n', machineId: null, name: 'n', powerState: 'stopped' as const },
    ];
    expect(compareMachines('t', machines, listing(vms), 'remediate').differences).toEqual([]);
  });

  it('says missing (subject to the guard) for a ready machine without a VM, and marks a listing with failures partial', () => {
    const scan = compareMachines('t', [machine('a')], listing([], { failures: ['node pve2: 500'] }), 'remediate');
    expect(kinds(scan)).toEqual(['machine/a:missing']);
    expect(scan.complete).toBe(false);
    expect(scan.remediations).toEqual([]);
  });

  it('plans no more fixes than the cap allows per scan (the activity trims the rest)', () => {
    expect(MAX_REMEDIATIONS_PER_SCAN).toBeGreaterThan(0);
    const many = Array.from({ length: MAX_REMEDIATIONS_PER_SCAN + 5 }, (_, i) => `m${i}`);
    const scan = compareMachines(
      't',
      many.map((id) => machine(id)),
      listing(many.map((id) => vm(id, { powerState: 'stopped' }))),
      'remediate',
    );
    expect(scan.remediations).toHaveLength(MAX_REMEDIATIONS_PER_SCAN + 5);
  });
});
