// The config diff behind `configure`: from a VM's current config and the wanted spec, the
// changes to write (cpu, memory, tags, NICs, the cloud-init seed as ISO or native drive, the
// SMBIOS seed URL), the drives to free first, the ISO to upload and the superseded ISOs to
// delete afterwards, and the root disk resize. Pure: no I/O, so every case is unit-tested.
import { HangarError } from '../../domain/errors.ts';
import type { Params } from './client.ts';
import type { VmSpec } from '../hypervisor.ts';
import { cidataHash, cidataIsoName, isCidataIsoOf, machineTags } from './markers.ts';
import { encodeSshKeys, isDiskKey, parsePropertyString, parseSize, safeDecode, sameProperties, smbiosWithSeed, volumeOf } from './properties.ts';

export type CurrentConfig = Record<string, string | number | undefined>;

export interface PlanSettings {
  /** Storage for Proxmox cloud-init drives. */
  storage: string;
  /** Storage the cidata ISOs live in. */
  isoStorage: string;
  /** Bridge for NICs that name none. */
  bridge: string;
}

export interface ConfigPlan {
  /** Values to set (one config write together with `delete`). */
  set: Params;
  /** Keys to delete in that write. */
  delete: string[];
  /** Drives to remove in a write of their own first (so their slot can take a different medium). */
  freeFirst: string[];
  /** The cidata ISO (volid) to build and upload before writing, when storage does not hold it yet. */
  uploadIso?: string;
  /** The machine's ISOs no drive will refer to any more: deleted after the writes. */
  staleIsos: string[];
  /** The config digest the writes are guarded with (a concurrent change fails them). */
  digest?: string;
}

/**
 * What `configure` must change. `isos` are the machine's cidata ISOs in storage now (any seed);
 * `vmid` only names the VM in errors.
 */
export function planConfig(cfg: CurrentConfig, spec: VmSpec, isos: string[], settings: PlanSettings, vmid: number | string): ConfigPlan {
  const set: Params = {};
  const del: string[] = [];
  const freeFirst: string[] = [];
  const staleIsos: string[] = [];
  let uploadIso: string | undefined;

  if (Number(cfg.cores ?? 1) !== spec.cpu) set.cores = spec.cpu;
  const memory = parsePropertyString(String(cfg.memory ?? '512'));
  if (Number(memory.current ?? memory._) !== spec.memoryMb) set.memory = spec.memoryMb;
  const tags = machineTags(cfg.tags);
  if (tags !== String(cfg.tags ?? '')) set.tags = tags;

  if (spec.nics) {
    spec.nics.forEach((nic, i) => {
      const key = `net${i}`;
      const current = cfg[key] === undefined ? undefined : parsePropertyString(String(cfg[key]));
      const currentMac = current ? (current.virtio ?? current.macaddr) : undefined;
      const mac = nic.mac ?? currentMac;
      const bridge = nic.bridge ?? settings.bridge;
      const wanted = [mac ? `virtio=${mac.toUpperCase()}` : 'virtio', `bridge=${bridge}`, ...(nic.vlan !== undefined ? [`tag=${nic.vlan}`] : [])].join(',');
      const same =
        current !== undefined &&
        (current.virtio !== undefined || current._ === 'virtio' || current.model === 'virtio') &&
        (mac === undefined || (currentMac ?? '').toLowerCase() === mac.toLowerCase()) &&
        current.bridge === bridge &&
        (current.tag ?? '') === (nic.vlan !== undefined ? String(nic.vlan) : '');
      if (!same) set[key] = wanted;
    });
    for (const key of Object.keys(cfg)) {
      const m = /^net(\d+)$/.exec(key);
      if (m && Number(m[1]) >= spec.nics.length) del.push(key);
    }
  }

  const ci = spec.cloudInit;
  if (ci) {
    const drives = Object.keys(cfg).filter(isDiskKey);
    const cloudinitSlots = drives.filter((k) => String(cfg[k]).includes('cloudinit'));
    const isoSlots = drives.filter((k) => isCidataIsoOf(spec.machineId, volumeOf(String(cfg[k]))));
    const freeIde = (taken: string[]) => ['ide2', 'ide0', 'ide1', 'ide3'].find((k) => cfg[k] === undefined || taken.includes(k));

    if (ci.mode === 'native') {
      // Our ISO and a Proxmox cloud-init drive would be two `cidata` sources: drop the ISO.
      freeFirst.push(...isoSlots);
      if (cloudinitSlots.length === 0) {
        const slot = freeIde(isoSlots);
        if (!slot) throw new HangarError('provider_rejected', `Proxmox VM ${vmid} has no free IDE slot for a cloud-init drive`);
        set[slot] = `${settings.storage}:cloudinit`;
      }
      const n = ci.native;
      if (n) {
        if (n.user !== undefined && cfg.ciuser !== n.user) set.ciuser = n.user;
        const keys = encodeSshKeys(n.sshKeys);
        if (safeDecode(String(cfg.sshkeys ?? '')) !== safeDecode(keys)) {
          if (n.sshKeys.length > 0) set.sshkeys = keys;
          else if (cfg.sshkeys !== undefined) del.push('sshkeys');
        }
        if (n.ipconfig0 !== undefined && cfg.ipconfig0 !== n.ipconfig0) set.ipconfig0 = n.ipconfig0;
        if (n.nameservers && n.nameservers.length > 0) {
          const v = n.nameservers.join(' ');
          if (cfg.nameserver !== v) set.nameserver = v;
        }
        if (n.searchDomains && n.searchDomains.length > 0) {
          const v = n.searchDomains.join(' ');
          if (cfg.searchdomain !== v) set.searchdomain = v;
        }
      }
      staleIsos.push(...isos);
    } else {
      // The ISO's name carries a hash of the seed it was built from: an unchanged seed costs
      // one listing, a changed one gets a new image, and a step retried after any failure
      // (even a lost upload reply) can tell at once whether its upload landed.
      const isoVolid = `${settings.isoStorage}:iso/${cidataIsoName(spec.machineId, cidataHash(ci))}`;
      if (!isos.includes(isoVolid)) uploadIso = isoVolid;
      staleIsos.push(...isos.filter((v) => v !== isoVolid));
      freeFirst.push(...cloudinitSlots);
      const attached = isoSlots.find((k) => volumeOf(String(cfg[k])) === isoVolid);
      if (!attached) {
        // Swapping the CD-ROM's medium in place; the old image is deleted once unreferenced.
        const slot = isoSlots[0] ?? freeIde(cloudinitSlots);
        if (!slot) throw new HangarError('provider_rejected', `Proxmox VM ${vmid} has no free IDE slot for the cidata ISO`);
        set[slot] = `${isoVolid},media=cdrom`;
      }
      del.push(...isoSlots.filter((k) => k !== (attached ?? isoSlots[0])));
    }
    if (ci.seedUrl) {
      const wanted = smbiosWithSeed(cfg.smbios1 === undefined ? undefined : String(cfg.smbios1), ci.seedUrl);
      if (cfg.smbios1 === undefined || !sameProperties(String(cfg.smbios1), wanted)) set.smbios1 = wanted;
    }
  }

  return {
    set,
    delete: del,
    freeFirst,
    staleIsos,
    ...(uploadIso ? { uploadIso } : {}),
    ...(typeof cfg.digest === 'string' ? { digest: cfg.digest } : {}),
  };
}

/** The config writes a plan makes, in order (none when nothing changes). */
export function planWrites(plan: ConfigPlan): Params[] {
  const writes: Params[] = [];
  if (plan.freeFirst.length > 0) writes.push({ delete: plan.freeFirst.join(','), digest: plan.digest });
  if (Object.keys(plan.set).length + plan.delete.length > 0) {
    // After the first write the digest has changed: only the first write is guarded.
    writes.push({
      ...plan.set,
      ...(plan.delete.length ? { delete: plan.delete.join(',') } : {}),
      ...(plan.freeFirst.length ? {} : { digest: plan.digest }),
    });
  }
  return writes;
}

export type RootDiskPlan = { action: 'none' } | { action: 'larger'; disk: string; currentBytes: number } | { action: 'resize'; disk: string; size: string };

/** The root disk's key: the first boot disk that is not a CD-ROM, else scsi0, else the first disk. */
export function rootDiskKey(cfg: CurrentConfig): string | undefined {
  const order = /order=([^,]+)/.exec(String(cfg.boot ?? ''))?.[1]?.split(';') ?? [];
  return (
    order.find((k) => isDiskKey(k) && cfg[k] !== undefined && !String(cfg[k]).includes('media=cdrom')) ??
    (cfg.scsi0 !== undefined ? 'scsi0' : Object.keys(cfg).find((k) => isDiskKey(k) && !String(cfg[k]).includes('media=cdrom')))
  );
}

/** Whether the root disk (first boot disk that is not a CD-ROM) must grow to `diskGb`; disks never shrink. */
export function planRootDisk(cfg: CurrentConfig, diskGb: number, vmid: number | string): RootDiskPlan {
  const root = rootDiskKey(cfg);
  if (!root || cfg[root] === undefined) {
    throw new HangarError('provider_rejected', `Proxmox VM ${vmid} has no root disk to size`);
  }
  const current = parseSize(parsePropertyString(String(cfg[root])).size);
  const wanted = diskGb * 1024 ** 3;
  if (current !== undefined && current >= wanted) {
    return current > wanted ? { action: 'larger', disk: root, currentBytes: current } : { action: 'none' };
  }
  // An absolute size (never `+NG`) makes a repeated resize a no-op.
  return { action: 'resize', disk: root, size: `${diskGb}G` };
}
