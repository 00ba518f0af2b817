// A QEMU VM's files and records: the instance directory and its paths, instance.json and
// template.json shapes, ids that are safe as directory names, derived MACs and NIC records.
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HangarError } from '../../domain/errors.ts';
import type { NicSpec, PowerState, ProviderHooks } from '../hypervisor.ts';
import type { Logger } from 'pino';
import type { AccelMode } from './accel.ts';
import { readJson, writeJsonAtomic } from './tools.ts';

export type QemuNetwork = { mode: 'user' } | { mode: 'bridge'; bridge: string };

export interface QemuProviderOptions {
  /** Hangar's data folder; the provider keeps everything under `<dataDir>/qemu/`. */
  dataDir: string;
  /** Default `qemu-system-x86_64` (from PATH). */
  qemuBinary?: string;
  /** Default `qemu-img`. */
  qemuImg?: string;
  /** `auto` (default): KVM when /dev/kvm works and is not slower than TCG (probed once). */
  accel?: AccelMode;
  /** `-cpu` model; default `host` under KVM (with fallbacks the probe finds), `max` under TCG. */
  cpuModel?: string;
  /** Default network of NICs that name no bridge: user-mode (SSH forwarded from 127.0.0.1) or a bridge. */
  network: QemuNetwork;
  hooks: ProviderHooks;
  logger: Logger;
  /** pcie-root-ports per VM for data disks (hot-plug slots). Default 8. */
  hotplugPorts?: number;
  /** How long `detachDisk` waits for the guest to release a hot-plugged disk. Default 30 s. */
  unplugTimeoutSec?: number;
  /** Bus of the cidata CD-ROM: `virtio-scsi` (default; works with cloud kernels that lack AHCI) or `sata`. */
  cidataBus?: 'virtio-scsi' | 'sata';
}

/** What every QEMU module needs: where things live, which binaries, hooks and logger. */
export interface QemuContext {
  readonly root: string;
  readonly instancesDir: string;
  readonly templatesDir: string;
  readonly qemuBinary: string;
  readonly qemuImg: string;
  readonly opts: QemuProviderOptions;
  readonly logger: Logger;
}

export interface DiskRecord {
  diskId: string;
  file: string;
  sizeGb: number;
  nodeName: string;
  deviceId: string;
  port: string;
  /** `detaching`: unplug requested but the guest has not released it yet; never re-attached at start. */
  state: 'attached' | 'detaching';
}

export interface InstanceRecord {
  format: 1;
  machineId: string;
  providerId: string;
  name: string;
  template: string;
  templateDisk: string;
  /** `linked` (default): overlay backed by the template disk; `full`: standalone copy. */
  cloneMode?: 'linked' | 'full';
  kernel?: { kernel: string; initrd?: string; cmdline?: string };
  uuid: string;
  createdAt: string;
  cpu: number;
  memoryMb: number;
  diskGb: number;
  nics: { mac: string; bridge?: string }[];
  cloudInit?: { hash: string; iso: boolean; seedUrl?: string };
  disks: DiskRecord[];
  runtime?: { accel: string; cpuModel: string; accelReason?: string; sshPort?: number; startedAt: string };
}

export interface TemplateRecord {
  format: 1;
  templateId: string;
  name: string;
  disk: string;
  kernel?: string;
  initrd?: string;
  cmdline?: string;
  source: string;
  checksum?: string;
  virtualSize: number;
  importedAt: string;
}

/** The manifest.json that scripts/build-image.sh writes next to the image files. */
export interface ImageManifest {
  format?: string;
  name?: string;
  version?: string;
  disk: string;
  diskFormat?: string;
  kernel?: string;
  initrd?: string;
  cmdline?: string;
  checksums?: { disk?: string; kernel?: string; initrd?: string };
}

/** What the provider knows about a VM beyond `VmStatus` (paths, pid, forwarded SSH port). */
export interface QemuInstanceInfo {
  machineId: string;
  dir: string;
  pid: number | null;
  powerState: PowerState;
  sshPort: number | null;
  accel: string | null;
  serialLog: string;
  qmpSocket: string;
  disk: string;
  cidataIso: string | null;
}

export const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
export const GiB = 1024 ** 3;
const SOCKET_PATH_MAX = 100; // sun_path is 108 bytes

export function checkId(kind: string, id: string): void {
  if (!SAFE_ID.test(id) || id.includes('..')) throw new HangarError('provider_rejected', `qemu: invalid ${kind} ${JSON.stringify(id)}`);
}

export function shortHash(value: string, len = 12): string {
  return createHash('sha256').update(value).digest('hex').slice(0, len);
}

export function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function instanceDir(ctx: QemuContext, machineId: string): string {
  checkId('machine id', machineId);
  return join(ctx.instancesDir, machineId);
}

export function instancePaths(dir: string) {
  let qmpSocket = join(dir, 'qmp.sock');
  // Unix socket paths are limited to ~108 bytes; long data dirs get a stable short path.
  if (Buffer.byteLength(qmpSocket) > SOCKET_PATH_MAX) qmpSocket = join(tmpdir(), `hangar-qmp-${shortHash(dir, 16)}.sock`);
  return {
    record: join(dir, 'instance.json'),
    disk: join(dir, 'disk.qcow2'),
    iso: join(dir, 'cidata.iso'),
    smbios: join(dir, 'smbios-type1.bin'),
    serialLog: join(dir, 'serial.log'),
    pidFile: join(dir, 'qemu.pid'),
    qmpSocket,
    disksDir: join(dir, 'disks'),
  };
}

export function loadInstance(ctx: QemuContext, machineId: string): Promise<InstanceRecord | null> {
  return readJson<InstanceRecord>(instancePaths(instanceDir(ctx, machineId)).record);
}

export async function requireInstance(ctx: QemuContext, providerId: string): Promise<InstanceRecord> {
  const rec = await loadInstance(ctx, providerId);
  if (!rec) throw new HangarError('not_found', `qemu: VM ${providerId} does not exist`);
  return rec;
}

export async function saveInstance(ctx: QemuContext, rec: InstanceRecord): Promise<void> {
  await writeJsonAtomic(instancePaths(instanceDir(ctx, rec.machineId)).record, rec);
}

/** A locally administered, stable MAC in QEMU's 52:54:00 range. */
function derivedMac(machineId: string, index: number): string {
  const h = createHash('sha256').update(`${machineId}/nic${index}`).digest();
  return `52:54:00:${[h[0], h[1], h[2]].map((b) => b!.toString(16).padStart(2, '0')).join(':')}`;
}

export function nicRecords(machineId: string, nics: NicSpec[] | undefined): InstanceRecord['nics'] {
  const list = nics && nics.length > 0 ? nics : [{}];
  return list.map((n: NicSpec, i) => {
    if (n.vlan !== undefined)
      throw new HangarError('provider_rejected', 'qemu: VLAN tags on NICs are not supported by the QEMU provider (use a bridge per VLAN)');
    const mac = (n.mac ?? derivedMac(machineId, i)).toLowerCase();
    if (!MAC.test(mac)) throw new HangarError('provider_rejected', `qemu: invalid MAC ${JSON.stringify(n.mac)}`);
    if (n.bridge !== undefined && !/^[A-Za-z0-9_.-]{1,15}$/.test(n.bridge))
      throw new HangarError('provider_rejected', `qemu: invalid bridge ${JSON.stringify(n.bridge)}`);
    return n.bridge ? { mac, bridge: n.bridge } : { mac };
  });
}
