// Which findings can be adopted and what machine they make (domain/drift-adopt.ts), and the pure
// Proxmox parsing the observer relies on: cidata ISO names and the settings read from a config.
import { describe, expect, it } from '@jest/globals';
import { adoptionOf, machineNameFor, type AdoptableFinding } from '../../domain/drift-adopt.ts';
import { HangarError } from '../../domain/errors.ts';
import { observedConfig } from '../../providers/proxmox/inventory.ts';
import { driveVolumes } from '../../providers/proxmox/leftovers.ts';
import { cidataIsoMachine, cidataIsoName } from '../../providers/proxmox/markers.ts';

const finding = (extra: Partial<AdoptableFinding> = {}): AdoptableFinding => ({
  id: 'f-1',
  provider: 'proxmox',
  resource_type: 'vm',
  resource_name: 'Legacy DB',
  kind: 'unmanaged',
  state: 'open',
  observed: { exists: true, power: 'running', provider_id: '4100', location: 'pve2', cpu: 3, memory_mb: 1536, disk_gb: 6, nics: 1 },
  ...extra,
});

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return err instanceof HangarError ? err.code : 'other';
  }
  return undefined;
};

describe('adoptionOf', () => {
  it("takes the VM's observed size, power, node and provider id", () => {
    expect(adoptionOf(finding())).toEqual({
      findingId: 'f-1',
      provider: 'proxmox',
      providerId: '4100',
      node: 'pve2',
      name: 'legacy-db',
      cpu: 3,
      memoryMb: 1536,
      diskGb: 6,
      power: 'running',
    });
    expect(adoptionOf(finding(), 'db-1').name).toBe('db-1');
  });

  it('keeps record values valid when the VM reports odd or no sizes', () => {
    const a = adoptionOf(finding({ observed: { provider_id: '7', power: 'stopped', disk_gb: 2.5 } }));
    expect({ cpu: a.cpu, memoryMb: a.memoryMb, diskGb: a.diskGb, power: a.power, node: a.node }).toEqual({
      cpu: 1,
      memoryMb: 512,
      diskGb: 3,
      power: 'stopped',
      node: null,
    });
  });

  it('refuses anything but an open unmanaged VM finding of a provider that can adopt', () => {
    expect(code(() => adoptionOf(finding({ kind: 'orphan' })))).toBe('invalid_state');
    expect(code(() => adoptionOf(finding({ resource_type: 'iso' })))).toBe('invalid_state');
    expect(code(() => adoptionOf(finding({ state: 'resolved' })))).toBe('invalid_state');
    expect(code(() => adoptionOf(finding({ state: 'ignored' })))).toBe('invalid_state');
    expect(code(() => adoptionOf(finding({ provider: 'qemu' })))).toBe('invalid_state');
    expect(code(() => adoptionOf(finding({ observed: { power: 'running' } })))).toBe('invalid_state');
  });

  it('makes a hostname label of any VM name', () => {
    expect(machineNameFor('Web Server #1', '101')).toBe('web-server-1');
    expect(machineNameFor('--', '101')).toBe('vm-101');
    expect(machineNameFor('x'.repeat(80), '101')).toHaveLength(63);
  });
});

describe('Proxmox observer parsing', () => {
  it("recognises only Hangar's cidata ISO names", () => {
    const id = '3f0c3a52-1c1e-4d59-9a55-0b7d0f6b8f11';
    expect(cidataIsoMachine(`local:iso/${cidataIsoName(id, '0123456789abcdef')}`)).toBe(id);
    expect(cidataIsoMachine(cidataIsoName(id))).toBe(id);
    expect(cidataIsoMachine('local:iso/ubuntu-24.04.iso')).toBeUndefined();
    expect(cidataIsoMachine('local:iso/hangar-tools.iso')).toBeUndefined();
    expect(cidataIsoMachine(`local:iso/hangar-${id}-cidata-xyz.iso`)).toBeUndefined();
  });

  it('reads vCPUs, memory, root disk and NICs from a config', () => {
    expect(
      observedConfig({
        cores: 2,
        sockets: 2,
        memory: 'current=3072',
        boot: 'order=virtio0;ide2',
        ide2: 'local:iso/x.iso,media=cdrom',
        scsi0: 'local-lvm:vm-1-disk-1,size=2G',
        virtio0: 'local-lvm:vm-1-disk-0,size=10G',
        net0: 'virtio=AA:BB:CC:DD:EE:FF,bridge=vmbr0',
        net3: 'virtio,bridge=vmbr1',
      }),
    ).toEqual({ cpu: 4, memory_mb: 3072, disk_gb: 10, nics: 2 });
    expect(observedConfig({ scsi0: 'local-lvm:vm-1-disk-0,size=1536M' })).toEqual({ cpu: 1, memory_mb: 512, disk_gb: 1.5, nics: 0 });
  });

  it('counts drives as users of a volume, not unused entries', () => {
    expect(
      driveVolumes({
        scsi0: 'local-lvm:vm-1-disk-0,size=4G',
        ide2: 'local:iso/a.iso,media=cdrom',
        unused0: 'local-lvm:vm-1-disk-1',
        efidisk0: 'local-lvm:vm-1-disk-2',
      }).sort(),
    ).toEqual(['local-lvm:vm-1-disk-0', 'local-lvm:vm-1-disk-2', 'local:iso/a.iso'].sort());
  });
});
