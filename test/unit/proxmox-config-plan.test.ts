// The Proxmox configure diff as a pure function: what it writes, frees, uploads and deletes for
// a given current config and spec. No services.
import { describe, expect, it } from '@jest/globals';
import { planConfig, planRootDisk, planWrites, type CurrentConfig } from '../../providers/proxmox/config-plan.ts';
import { cidataHash, cidataIsoName } from '../../providers/proxmox/markers.ts';
import type { CloudInitSeed, VmSpec } from '../../providers/hypervisor.ts';

const settings = { storage: 'local-lvm', isoStorage: 'local', bridge: 'vmbr0' };
const M = 'm-1';
const seed: CloudInitSeed = { mode: 'iso', metaData: 'instance-id: hangar-m-1\n', userData: '#cloud-config\n', seedUrl: 'http://api/cloud-init/m-1/t/' };
const spec = (extra: Partial<VmSpec> = {}): VmSpec => ({ machineId: M, name: 'web', cpu: 2, memoryMb: 1024, diskGb: 4, ...extra });
const isoVolid = (ci: CloudInitSeed) => `local:iso/${cidataIsoName(M, cidataHash(ci))}`;
const base: CurrentConfig = { cores: 2, memory: '1024', tags: 'hangar', scsi0: 'local-lvm:vm-100-disk-0,size=4G', boot: 'order=scsi0', digest: 'd1' };

describe('planConfig', () => {
  it('changes nothing when the VM already matches', () => {
    const plan = planConfig(base, spec(), [], settings, 100);
    expect(plan).toEqual({ set: {}, delete: [], freeFirst: [], staleIsos: [], digest: 'd1' });
    expect(planWrites(plan)).toEqual([]);
  });

  it('sets cpu, memory (also the `current=` form) and Hangar tags without the inherited `template` tag', () => {
    const plan = planConfig({ ...base, cores: 1, memory: 'current=512', tags: 'template;team-a' }, spec(), [], settings, 100);
    expect(plan.set).toEqual({ cores: 2, memory: 1024, tags: 'hangar;team-a' });
    expect(planWrites(plan)).toEqual([{ cores: 2, memory: 1024, tags: 'hangar;team-a', digest: 'd1' }]);
  });

  it('rewrites a NIC whose MAC, bridge or VLAN differ and deletes NICs beyond the spec', () => {
    const cfg = { ...base, net0: 'virtio=52:54:00:AA:BB:CC,bridge=vmbr0', net1: 'virtio=52:54:00:00:00:01,bridge=vmbr1' };
    const same = planConfig(cfg, spec({ nics: [{ mac: '52:54:00:aa:bb:cc' }, {}] }), [], settings, 100);
    expect(same.set).toEqual({ net1: 'virtio=52:54:00:00:00:01,bridge=vmbr0' });
    const vlan = planConfig(cfg, spec({ nics: [{ vlan: 7 }] }), [], settings, 100);
    expect(vlan.set).toEqual({ net0: 'virtio=52:54:00:AA:BB:CC,bridge=vmbr0,tag=7' });
    expect(vlan.delete).toEqual(['net1']);
  });

  it('uploads and attaches the seed ISO in a free IDE slot, with the seed URL in SMBIOS', () => {
    const plan = planConfig(base, spec({ cloudInit: seed }), [], settings, 100);
    expect(plan.uploadIso).toBe(isoVolid(seed));
    expect(plan.set.ide2).toBe(`${isoVolid(seed)},media=cdrom`);
    expect(Buffer.from(/serial=([^,]+)/.exec(String(plan.set.smbios1))![1]!, 'base64').toString()).toBe('ds=nocloud;s=http://api/cloud-init/m-1/t/');
    expect(plan.staleIsos).toEqual([]);
  });

  it('swaps a changed seed in place and deletes the superseded ISO only afterwards', () => {
    const old = `local:iso/${cidataIsoName(M, 'ffffffffffffffff')}`;
    const cfg = { ...base, ide2: `${old},media=cdrom` };
    const plan = planConfig(cfg, spec({ cloudInit: { ...seed, seedUrl: undefined } }), [old], settings, 100);
    expect(plan.uploadIso).toBe(isoVolid(seed));
    expect(plan.set).toEqual({ ide2: `${isoVolid(seed)},media=cdrom` });
    expect(plan.staleIsos).toEqual([old]);
    // The ISO already in storage and attached: no upload, no write.
    const again = planConfig(
      { ...base, ide2: `${isoVolid(seed)},media=cdrom` },
      spec({ cloudInit: { ...seed, seedUrl: undefined } }),
      [isoVolid(seed)],
      settings,
      100,
    );
    expect(again.uploadIso).toBeUndefined();
    expect(planWrites(again)).toEqual([]);
  });

  it('native mode frees the ISO drive first, adds a cloud-init drive and the native fields, and drops all ISOs', () => {
    const iso = isoVolid(seed);
    const cfg = { ...base, ide2: `${iso},media=cdrom` };
    const plan = planConfig(
      cfg,
      spec({
        cloudInit: {
          ...seed,
          mode: 'native',
          seedUrl: undefined,
          native: { user: 'ops', sshKeys: ['ssh-ed25519 AAA a@b'], ipconfig0: 'ip=dhcp', nameservers: ['1.1.1.1'] },
        },
      }),
      [iso],
      settings,
      100,
    );
    expect(plan.freeFirst).toEqual(['ide2']);
    expect(plan.set).toEqual({ ide2: 'local-lvm:cloudinit', ciuser: 'ops', sshkeys: 'ssh-ed25519%20AAA%20a%40b', ipconfig0: 'ip=dhcp', nameserver: '1.1.1.1' });
    expect(plan.staleIsos).toEqual([iso]);
    // Freed in its own guarded write; the second write is unguarded (the digest changed).
    expect(planWrites(plan)).toEqual([{ delete: 'ide2', digest: 'd1' }, plan.set]);
  });

  it('refuses a seed when no IDE slot is free', () => {
    const full = { ...base, ide0: 'a', ide1: 'b', ide2: 'c', ide3: 'd' };
    expect(() => planConfig(full, spec({ cloudInit: seed }), [], settings, 100)).toThrow(/no free IDE slot/);
  });
});

describe('planRootDisk', () => {
  it('grows the boot disk to an absolute size, never shrinks, and refuses a VM without one', () => {
    expect(planRootDisk(base, 10, 100)).toEqual({ action: 'resize', disk: 'scsi0', size: '10G' });
    expect(planRootDisk(base, 4, 100)).toEqual({ action: 'none' });
    expect(planRootDisk(base, 2, 100)).toEqual({ action: 'larger', disk: 'scsi0', currentBytes: 4 * 1024 ** 3 });
    expect(planRootDisk({ ide2: 'x,media=cdrom', boot: 'order=ide2;virtio0', virtio0: 'local-lvm:d,size=1G' }, 2, 100)).toEqual({
      action: 'resize',
      disk: 'virtio0',
      size: '2G',
    });
    expect(() => planRootDisk({ ide2: 'x,media=cdrom' }, 2, 100)).toThrow(/no root disk/);
  });
});
