// Parsing and comparing Proxmox config values (property strings such as
// `virtio=AA:..,bridge=vmbr0`, sizes such as `2G`, drive keys, power states). Pure functions.
import type { PowerState } from '../hypervisor.ts';

/** Splits a Proxmox property string: `virtio=AA:..,bridge=vmbr0` → { virtio: 'AA:..', bridge: 'vmbr0' }; a bare first part is `_`. */
export function parsePropertyString(value: string): Record<string, string> {
  const out: Record<string, string> = {};
  value.split(',').forEach((part, i) => {
    const eq = part.indexOf('=');
    if (eq < 0) {
      if (i === 0) out._ = part;
      else out[part] = '';
    } else {
      out[part.slice(0, eq)] = part.slice(eq + 1);
    }
  });
  return out;
}

/** `2G` / `512M` / `10737418240` → bytes. */
export function parseSize(size: string | undefined): number | undefined {
  if (!size) return undefined;
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)$/i.exec(size.trim());
  if (!m) return undefined;
  const mult = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[(m[2] ?? '').toUpperCase() as '' | 'K' | 'M' | 'G' | 'T'];
  return Math.round(Number(m[1]) * mult);
}

export function sameProperties(a: string, b: string): boolean {
  const pa = parsePropertyString(a);
  const pb = parsePropertyString(b);
  const keys = new Set([...Object.keys(pa), ...Object.keys(pb)]);
  return [...keys].every((k) => pa[k] === pb[k]);
}

export function isDiskKey(key: string): boolean {
  return /^(ide|sata|scsi|virtio)\d+$/.test(key);
}

/** The volume a drive value refers to (`local-lvm:vm-100-disk-0,size=4G` → `local-lvm:vm-100-disk-0`). */
export function volumeOf(driveValue: string): string {
  return parsePropertyString(driveValue)._ ?? parsePropertyString(driveValue).file ?? driveValue;
}

/** Proxmox's `sshkeys` takes the URL-encoded key list (spaces as %20, one key per line). */
export function encodeSshKeys(keys: string[]): string {
  return encodeURIComponent(
    keys
      .map((k) => k.trim())
      .filter(Boolean)
      .join('\n'),
  );
}

export function safeDecode(v: string): string {
  try {
    return decodeURIComponent(v.replace(/\+/g, '%20'));
  } catch {
    return v;
  }
}

/** SMBIOS type 1 value that hands cloud-init its NoCloud seed URL; keeps an existing uuid. */
export function smbiosWithSeed(current: string | undefined, seedUrl: string): string {
  const serial = Buffer.from(`ds=nocloud;s=${seedUrl}`, 'utf8').toString('base64');
  const uuid = current ? parsePropertyString(current).uuid : undefined;
  return [`base64=1`, `serial=${serial}`, ...(uuid ? [`uuid=${uuid}`] : [])].join(',');
}

export function powerState(status: string | undefined, qmpstatus?: string): PowerState {
  if (status === 'running') return qmpstatus === 'paused' || qmpstatus === 'suspended' ? 'paused' : 'running';
  return 'stopped';
}
