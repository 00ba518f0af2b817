// Extra disks: attached in a free SCSI slot together with a `hangar-disk=<id>:<slot>` marker
// (one config write, so a retry sees both or neither), detached by the marker.
import { HangarError } from '../../domain/errors.ts';
import type { AttachedDisk, DiskSpec } from '../hypervisor.ts';
import { pvePut, setConfig, vmConfig, vmPath, type ProxmoxCall } from './context.ts';
import type { VmRef } from './locator.ts';
import { diskMarkers, withDiskMarker } from './markers.ts';
import { volumeOf } from './properties.ts';
import { settledConfig } from './tasks.ts';

const MAX_SCSI = 30;

export async function attachDisk(c: ProxmoxCall, ref: VmRef, disk: DiskSpec): Promise<AttachedDisk> {
  const cfg = await settledConfig(c, ref);
  const markers = diskMarkers(String(cfg.description ?? ''));
  const known = markers.get(disk.diskId);
  if (known && cfg[known] !== undefined) {
    return { diskId: disk.diskId, slot: known, volume: volumeOf(String(cfg[known])) };
  }
  if (!Number.isInteger(disk.sizeGb) || disk.sizeGb < 1) {
    throw new HangarError('provider_rejected', `disk size must be a whole number of GiB ≥ 1 (got ${disk.sizeGb})`);
  }
  const taken = new Set([...Object.keys(cfg), ...[...markers.values()]]);
  let slot = known;
  if (!slot) {
    for (let n = 1; n <= MAX_SCSI; n++) {
      if (!taken.has(`scsi${n}`)) {
        slot = `scsi${n}`;
        break;
      }
    }
  }
  if (!slot) throw new HangarError('provider_rejected', `Proxmox VM ${ref.vmid} has no free SCSI slot`);
  const storage = disk.storage ?? c.settings.storage;
  await setConfig(c, ref, {
    [slot]: `${storage}:${disk.sizeGb}`,
    description: withDiskMarker(String(cfg.description ?? ''), disk.diskId, slot),
    ...(typeof cfg.digest === 'string' ? { digest: cfg.digest } : {}),
  });
  const after = await vmConfig(c, ref);
  const value = after[slot];
  if (value === undefined) {
    throw new HangarError('provider_error', `Proxmox VM ${ref.vmid}: ${slot} is not in the config after attaching (pending hot-plug?)`);
  }
  return { diskId: disk.diskId, slot, volume: volumeOf(String(value)) };
}

export async function detachDisk(c: ProxmoxCall, ref: VmRef, diskId: string): Promise<{ detached: boolean }> {
  const cfg = await settledConfig(c, ref);
  const slot = diskMarkers(String(cfg.description ?? '')).get(diskId);
  if (!slot) return { detached: false };
  if (cfg[slot] !== undefined) {
    await pvePut(c, vmPath(ref, '/unlink'), { idlist: slot, force: true });
  }
  const after = await vmConfig(c, ref);
  await setConfig(c, ref, { description: withDiskMarker(String(after.description ?? ''), diskId, null) });
  return { detached: true };
}
