// Builds a raw SMBIOS type 1 (System Information) structure for `-smbios file=<blob>`.
// Passing the NoCloud seed URL this way keeps it (and the metadata token inside it) out of
// QEMU's argv, which any local user can read in `ps`; `-smbios type=1,serial=...` would put it
// there. QEMU skips its own type 1 table when a blob of that type is given. In the guest the
// serial is readable by root only (/sys/class/dmi/id/product_serial).
import { createHash } from 'node:crypto';

export interface SmbiosSystemInfo {
  manufacturer?: string;
  product?: string;
  version?: string;
  serial?: string;
  /** RFC 4122 text form; absent: all zeroes ("not present"). */
  uuid?: string;
  sku?: string;
  family?: string;
}

const TYPE1_LENGTH = 0x1b; // SMBIOS 2.4+ layout, with SKU number and family
const TYPE1_HANDLE = 0x0100;

/** SMBIOS stores the first three UUID fields little-endian (SMBIOS 2.6+). */
function uuidBytes(uuid: string | undefined): Buffer {
  const out = Buffer.alloc(16);
  if (!uuid) return out;
  const hex = uuid.replaceAll('-', '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new Error(`invalid UUID ${JSON.stringify(uuid)}`);
  const raw = Buffer.from(hex, 'hex');
  raw.copy(out);
  out.writeUInt32LE(raw.readUInt32BE(0), 0);
  out.writeUInt16LE(raw.readUInt16BE(4), 4);
  out.writeUInt16LE(raw.readUInt16BE(6), 6);
  return out;
}

export function smbiosType1(info: SmbiosSystemInfo): Buffer {
  const strings: string[] = [];
  const index = (value: string | undefined): number => {
    if (!value) return 0;
    // Strings are NUL-terminated: an embedded NUL would end the string early.
    if (value.includes('\0')) throw new Error('SMBIOS strings cannot contain NUL');
    strings.push(value);
    return strings.length;
  };
  const head = Buffer.alloc(TYPE1_LENGTH);
  head.writeUInt8(1, 0);
  head.writeUInt8(TYPE1_LENGTH, 1);
  head.writeUInt16LE(TYPE1_HANDLE, 2);
  head.writeUInt8(index(info.manufacturer), 4);
  head.writeUInt8(index(info.product), 5);
  head.writeUInt8(index(info.version), 6);
  head.writeUInt8(index(info.serial), 7);
  uuidBytes(info.uuid).copy(head, 8);
  head.writeUInt8(0x06, 0x18); // wake-up type: power switch
  head.writeUInt8(index(info.sku), 0x19);
  head.writeUInt8(index(info.family), 0x1a);
  // The string set ends with an extra NUL; a structure without strings ends with two.
  const tail = strings.length === 0 ? Buffer.from([0, 0]) : Buffer.concat([...strings.map((s) => Buffer.from(`${s}\0`, 'utf8')), Buffer.from([0])]);
  return Buffer.concat([head, tail]);
}

/** A stable UUID for a machine: its own id when that is a UUID, otherwise one derived from it. */
export function machineUuid(machineId: string): string {
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(machineId)) return machineId.toLowerCase();
  const h = createHash('sha256').update(`hangar-machine:${machineId}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x50; // version 5-style (name based)
  h[8] = (h[8]! & 0x3f) | 0x80; // RFC 4122 variant
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * The NoCloud serial string cloud-init looks for. An http(s) seed needs `ds=nocloud-net`: with
 * `ds=nocloud` cloud-init before 24.1 (Debian 12 ships 22.4) pins the datasource to its local
 * stage, which cannot fetch URLs, and falls back to no datasource at all. Newer releases accept
 * `nocloud-net` as an alias. Local seeds (`/path`, `file://`) keep `ds=nocloud`.
 */
export function noCloudSerial(seedUrl: string): string {
  const net = /^https?:\/\//i.test(seedUrl);
  return `ds=${net ? 'nocloud-net' : 'nocloud'};s=${seedUrl}`;
}
