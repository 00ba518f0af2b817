// The local QEMU provider (Hangar's embedded default). Each VM is a directory:
//   <dataDir>/qemu/instances/<machineId>/
//     instance.json     spec + state (cpu, memory, NICs, disks, seed); applied at the next start
//     disk.qcow2        overlay whose backing file is the template's disk
//     cidata.iso        NoCloud seed (volume id `cidata`), 0600
//     smbios-type1.bin  SMBIOS type 1 blob whose serial is `ds=nocloud-net;s=<seedUrl>`; QEMU reads
//                       it with `-smbios file=`, so the seed URL's metadata token is not in argv
//     disks/<id>.qcow2  data disks
//     serial.log, qmp.sock, qemu.pid
// Templates: <dataDir>/qemu/templates/<name>/{template.json, disk.qcow2[, vmlinuz, initrd.img]}.
// QEMU runs daemonised (it outlives the worker); state is always read back from the process
// (pid + QMP), never guessed from files. Every call is idempotent.
import { randomBytes, createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { HangarError } from '../../domain/errors.ts';
import { writeCidataIso } from '../cloud-init/cidata-iso.ts';
import type {
  AttachedDisk, DiskSpec, Hypervisor, NicSpec, ProviderHooks, TemplateRef, TemplateSpec, VmSpec, VmStatus, VmSummary, PowerState,
} from '../hypervisor.ts';
import type { Logger } from 'pino';
import { chooseAccel, type AccelChoice, type AccelMode } from './accel.ts';
import { buildQemuArgs, hotplugPortIds, ROOT_NODE, type NicArg } from './command-line.ts';
import { QmpClient, QmpCommandError, withQmp } from './qmp.ts';
import { machineUuid, noCloudSerial, smbiosType1 } from './smbios.ts';
import { exists, freeLoopbackPort, imageInfo, processAlive, readJson, runTool, sha256File, ToolError, writeJsonAtomic } from './tools.ts';

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

interface DiskRecord {
  diskId: string;
  file: string;
  sizeGb: number;
  nodeName: string;
  deviceId: string;
  port: string;
  /** `detaching`: unplug requested but the guest has not released it yet; never re-attached at start. */
  state: 'attached' | 'detaching';
}

interface InstanceRecord {
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
  runtime?: { accel: string; cpuModel: string; sshPort?: number; startedAt: string };
}

interface TemplateRecord {
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

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const GiB = 1024 ** 3;
const SOCKET_PATH_MAX = 100; // sun_path is 108 bytes

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function checkId(kind: string, id: string): void {
  if (!SAFE_ID.test(id) || id.includes('..')) throw new HangarError('provider_rejected', `qemu: invalid ${kind} ${JSON.stringify(id)}`);
}

function shortHash(value: string, len = 12): string {
  return createHash('sha256').update(value).digest('hex').slice(0, len);
}

/** A locally administered, stable MAC in QEMU's 52:54:00 range. */
function derivedMac(machineId: string, index: number): string {
  const h = createHash('sha256').update(`${machineId}/nic${index}`).digest();
  return `52:54:00:${[h[0], h[1], h[2]].map((b) => b!.toString(16).padStart(2, '0')).join(':')}`;
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class QemuProvider implements Hypervisor {
  readonly name = 'qemu' as const;
  private readonly root: string;
  private readonly instancesDir: string;
  private readonly templatesDir: string;
  private readonly qemuBinary: string;
  private readonly qemuImg: string;
  private readonly opts: QemuProviderOptions;
  private readonly logger: Logger;
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(opts: QemuProviderOptions) {
    this.opts = opts;
    this.root = join(resolve(opts.dataDir), 'qemu');
    this.instancesDir = join(this.root, 'instances');
    this.templatesDir = join(this.root, 'templates');
    this.qemuBinary = opts.qemuBinary ?? 'qemu-system-x86_64';
    this.qemuImg = opts.qemuImg ?? 'qemu-img';
    this.logger = opts.logger;
    if (opts.network.mode === 'bridge' && !opts.network.bridge) throw new Error('qemu: network.bridge is required in bridge mode');
  }

  // ---------------------------------------------------------------- helpers

  /** Serialises operations on one key inside this process (QMP serves one client at a time). */
  private async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.then(() => undefined, () => undefined);
    this.locks.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    }
  }

  private sleep(ms: number): Promise<void> {
    return (this.opts.hooks.sleep ?? defaultSleep)(ms);
  }

  private onWait(): void {
    this.opts.hooks.onWait?.();
  }

  private instanceDir(machineId: string): string {
    checkId('machine id', machineId);
    return join(this.instancesDir, machineId);
  }

  private paths(dir: string) {
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

  private async loadInstance(machineId: string): Promise<InstanceRecord | null> {
    return readJson<InstanceRecord>(this.paths(this.instanceDir(machineId)).record);
  }

  private async requireInstance(providerId: string): Promise<InstanceRecord> {
    const rec = await this.loadInstance(providerId);
    if (!rec) throw new HangarError('not_found', `qemu: VM ${providerId} does not exist`);
    return rec;
  }

  private async saveInstance(rec: InstanceRecord): Promise<void> {
    await writeJsonAtomic(this.paths(this.instanceDir(rec.machineId)).record, rec);
  }

  /** The live QEMU pid of an instance, or null (no pid file, dead, zombie or recycled pid). */
  private async livePid(dir: string): Promise<number | null> {
    const p = this.paths(dir);
    let text: string;
    try {
      text = await readFile(p.pidFile, 'utf8');
    } catch {
      return null;
    }
    const pid = Number.parseInt(text.trim(), 10);
    if (!Number.isInteger(pid) || pid <= 1) return null;
    // The pid file path is in QEMU's argv verbatim (QemuOpts values are escaped, so not those).
    return (await processAlive(pid, p.pidFile)) ? pid : null;
  }

  private async qmp<T>(dir: string, fn: (q: QmpClient) => Promise<T>): Promise<T> {
    try {
      return await withQmp(this.paths(dir).qmpSocket, fn);
    } catch (err) {
      if (err instanceof HangarError) throw err;
      throw new HangarError('provider_error', `qemu: QMP on ${basename(dir)}: ${errMessage(err)}`);
    }
  }

  private async powerState(dir: string): Promise<{ pid: number | null; state: PowerState }> {
    const pid = await this.livePid(dir);
    if (!pid) return { pid: null, state: 'stopped' };
    const st = await this.qmp(dir, (q) => q.execute<{ status: string; running: boolean }>('query-status'));
    if (st.status === 'running') return { pid, state: 'running' };
    if (st.status === 'shutdown') return { pid, state: 'stopped' };
    return { pid, state: 'paused' };
  }

  private async waitExit(dir: string, pid: number, timeoutMs: number): Promise<boolean> {
    const marker = this.paths(dir).pidFile;
    const deadline = Date.now() + timeoutMs;
    let lastBeat = 0;
    for (;;) {
      if (!(await processAlive(pid, marker))) return true;
      if (Date.now() >= deadline) return false;
      if (Date.now() - lastBeat >= 1000) { this.onWait(); lastBeat = Date.now(); }
      await this.sleep(Math.min(250, Math.max(1, deadline - Date.now())));
    }
  }

  private async cleanRuntimeFiles(dir: string): Promise<void> {
    const p = this.paths(dir);
    await rm(p.pidFile, { force: true });
    await rm(p.qmpSocket, { force: true });
  }

  /** `quit` over QMP, then SIGKILL as the last resort. */
  private async hardStop(dir: string, pid: number): Promise<void> {
    try {
      await withQmp(this.paths(dir).qmpSocket, (q) => q.execute('quit'), { timeoutMs: 3000 });
    } catch (err) {
      this.logger.warn({ vm: basename(dir), err: errMessage(err) }, 'qemu: QMP quit failed; killing the process');
    }
    if (!(await this.waitExit(dir, pid, 10_000))) {
      this.logger.warn({ vm: basename(dir), pid }, 'qemu: process did not exit after quit; sending SIGKILL');
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone meanwhile */ }
      if (!(await this.waitExit(dir, pid, 10_000))) {
        throw new HangarError('provider_error', `qemu: process ${pid} of ${basename(dir)} survives SIGKILL`);
      }
    }
    await this.cleanRuntimeFiles(dir);
  }

  // ---------------------------------------------------------------- templates

  private async listTemplates(): Promise<{ dir: string; rec: TemplateRecord }[]> {
    let names: string[];
    try {
      names = await readdir(this.templatesDir);
    } catch {
      return [];
    }
    const out: { dir: string; rec: TemplateRecord }[] = [];
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const dir = join(this.templatesDir, name);
      const rec = await readJson<TemplateRecord>(join(dir, 'template.json')).catch(() => null);
      if (rec) out.push({ dir, rec });
    }
    return out;
  }

  /** Resolves `spec.image` (a disk image, an image dir with manifest.json, or the manifest itself). */
  private async resolveImage(image: string): Promise<{ disk: string; kernel?: string; initrd?: string; cmdline?: string; checksums?: ImageManifest['checksums'] }> {
    if (!isAbsolute(image)) throw new HangarError('provider_rejected', `qemu: template image must be an absolute local path, got ${JSON.stringify(image)}`);
    let st;
    try {
      st = await stat(image);
    } catch {
      throw new HangarError('provider_rejected', `qemu: template image ${image} does not exist`);
    }
    let manifestPath: string | null = null;
    if (st.isDirectory()) manifestPath = join(image, 'manifest.json');
    else if (image.endsWith('.json')) manifestPath = image;
    if (!manifestPath) return { disk: image };
    const m = await readJson<ImageManifest>(manifestPath);
    if (!m || typeof m.disk !== 'string') throw new HangarError('provider_rejected', `qemu: ${manifestPath} is not an image manifest (no "disk")`);
    const base = dirname(manifestPath);
    const inside = (f: string | undefined) => {
      if (f === undefined) return undefined;
      const p = resolve(base, f);
      if (dirname(p) !== base) throw new HangarError('provider_rejected', `qemu: manifest file ${JSON.stringify(f)} is outside ${base}`);
      return p;
    };
    return { disk: inside(m.disk)!, kernel: inside(m.kernel), initrd: inside(m.initrd), cmdline: m.cmdline, checksums: m.checksums };
  }

  private async verifyChecksum(file: string, expected: string, what: string): Promise<void> {
    const m = /^sha256:([0-9a-fA-F]{64})$/.exec(expected);
    if (!m) throw new HangarError('provider_rejected', `qemu: unsupported checksum ${JSON.stringify(expected)} (want sha256:<hex>)`);
    const actual = await sha256File(file, () => this.onWait());
    if (actual !== m[1]!.toLowerCase()) {
      throw new HangarError('provider_rejected', `qemu: checksum mismatch for ${what} ${file}: expected sha256:${m[1]!.toLowerCase()}, got sha256:${actual}`);
    }
  }

  async importTemplate(spec: TemplateSpec): Promise<TemplateRef> {
    checkId('template name', spec.name);
    return this.withLock(`template:${spec.name}`, async () => {
      const all = await this.listTemplates();
      const same = all.find((t) => t.rec.templateId === spec.templateId);
      if (same) return { ref: same.rec.name, created: false };
      const finalDir = join(this.templatesDir, spec.name);
      const other = all.find((t) => t.rec.name === spec.name);
      if (other) throw new HangarError('already_exists', `qemu: template ${spec.name} exists for another template id (${other.rec.templateId})`);
      // A directory without template.json is a half-made import from a crash: redo it.
      await rm(finalDir, { recursive: true, force: true });

      const src = await this.resolveImage(spec.image);
      if (spec.checksum) await this.verifyChecksum(src.disk, spec.checksum, 'image');
      for (const [what, file] of [['disk', src.disk], ['kernel', src.kernel], ['initrd', src.initrd]] as const) {
        const sum = src.checksums?.[what];
        if (file && sum && sum !== spec.checksum) await this.verifyChecksum(file, sum, what);
      }
      const info = await imageInfo(this.qemuImg, src.disk);

      await mkdir(this.templatesDir, { recursive: true });
      const partial = join(this.templatesDir, `.${spec.name}.partial-${randomBytes(4).toString('hex')}`);
      await mkdir(partial, { recursive: true, mode: 0o755 });
      const beat = setInterval(() => this.onWait(), 2000);
      try {
        const disk = join(partial, 'disk.qcow2');
        if (info.format === 'qcow2' && !info.backingFilename) {
          await copyFile(src.disk, disk, constants.COPYFILE_FICLONE);
        } else {
          await runTool(this.qemuImg, ['convert', '-f', info.format, '-O', 'qcow2', src.disk, disk], { timeoutMs: 3_600_000 });
        }
        const rec: TemplateRecord = {
          format: 1,
          templateId: spec.templateId,
          name: spec.name,
          disk: 'disk.qcow2',
          source: spec.image,
          virtualSize: info.virtualSize,
          importedAt: new Date().toISOString(),
        };
        if (spec.checksum) rec.checksum = spec.checksum;
        if (src.kernel) { await copyFile(src.kernel, join(partial, 'vmlinuz')); rec.kernel = 'vmlinuz'; }
        if (src.initrd) { await copyFile(src.initrd, join(partial, 'initrd.img')); rec.initrd = 'initrd.img'; }
        if (src.cmdline) rec.cmdline = src.cmdline;
        // Overlays point at this file: make it read-only so nothing changes it under them.
        await chmod(disk, 0o444);
        await writeJsonAtomic(join(partial, 'template.json'), rec, 0o644);
        await rename(partial, finalDir);
      } catch (err) {
        await rm(partial, { recursive: true, force: true });
        throw err;
      } finally {
        clearInterval(beat);
      }
      this.logger.info({ template: spec.name, templateId: spec.templateId }, 'qemu: template imported');
      return { ref: spec.name, created: true };
    });
  }

  async deleteTemplate(templateId: string): Promise<{ deleted: boolean }> {
    const found = (await this.listTemplates()).find((t) => t.rec.templateId === templateId);
    if (!found) return { deleted: false };
    return this.withLock(`template:${found.rec.name}`, async () => {
      const users: string[] = [];
      for (const machineId of await this.instanceIds()) {
        const rec = await readJson<InstanceRecord>(this.paths(join(this.instancesDir, machineId)).record).catch(() => null);
        if (!rec) continue;
        const fromTemplate = rec.template === found.rec.name || rec.templateDisk.startsWith(`${found.dir}/`);
        // A full clone owns its disk, but direct kernel boot still reads the template's kernel/initrd.
        const needsDisk = rec.cloneMode !== 'full';
        const needsKernel = Boolean(rec.kernel?.kernel.startsWith(`${found.dir}/`));
        if (fromTemplate && (needsDisk || needsKernel)) users.push(machineId);
      }
      if (users.length > 0) {
        throw new HangarError('invalid_state', `qemu: template ${found.rec.name} is the backing image of ${users.length} VM(s): ${users.slice(0, 10).join(', ')}`);
      }
      await rm(found.dir, { recursive: true, force: true });
      this.logger.info({ template: found.rec.name, templateId }, 'qemu: template deleted');
      return { deleted: true };
    });
  }

  // ---------------------------------------------------------------- lifecycle

  private async instanceIds(): Promise<string[]> {
    try {
      return (await readdir(this.instancesDir)).filter((n) => !n.startsWith('.') && SAFE_ID.test(n));
    } catch {
      return [];
    }
  }

  async create(spec: VmSpec): Promise<{ providerId: string; created: boolean }> {
    const dir = this.instanceDir(spec.machineId);
    return this.withLock(spec.machineId, async () => {
      const p = this.paths(dir);
      const existing = await readJson<InstanceRecord>(p.record);
      if (existing) {
        if (!(await exists(p.disk))) await this.createRootDisk(existing.templateDisk, p.disk, existing.cloneMode ?? 'linked');
        return { providerId: existing.providerId, created: false };
      }
      if (!spec.template) throw new HangarError('provider_rejected', 'qemu: VmSpec.template (a QEMU template name) is required');
      checkId('template name', spec.template);
      const tdir = join(this.templatesDir, spec.template);
      const trec = await readJson<TemplateRecord>(join(tdir, 'template.json'));
      if (!trec) throw new HangarError('not_found', `qemu: template ${spec.template} does not exist`);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const templateDisk = join(tdir, trec.disk);
      const cloneMode = spec.cloneMode ?? 'linked';
      await this.createRootDisk(templateDisk, p.disk, cloneMode);
      const rec: InstanceRecord = {
        format: 1,
        machineId: spec.machineId,
        providerId: spec.machineId,
        name: spec.name,
        template: spec.template,
        templateDisk,
        cloneMode,
        uuid: machineUuid(spec.machineId),
        createdAt: new Date().toISOString(),
        cpu: spec.cpu,
        memoryMb: spec.memoryMb,
        diskGb: Math.ceil(trec.virtualSize / GiB),
        nics: this.nicRecords(spec.machineId, spec.nics),
        disks: [],
      };
      if (trec.kernel) {
        rec.kernel = { kernel: join(tdir, trec.kernel) };
        if (trec.initrd) rec.kernel.initrd = join(tdir, trec.initrd);
        if (trec.cmdline) rec.kernel.cmdline = trec.cmdline;
      }
      await this.saveInstance(rec);
      this.logger.info({ machineId: spec.machineId, template: spec.template }, 'qemu: VM created');
      return { providerId: rec.providerId, created: true };
    });
  }

  /** The VM's root disk: a qcow2 overlay on the template disk, or (full clone) a copy of it. */
  private async createRootDisk(templateDisk: string, disk: string, mode: 'linked' | 'full'): Promise<void> {
    const partial = `${disk}.partial`;
    await rm(partial, { force: true });
    if (mode === 'full') {
      const beat = setInterval(() => this.onWait(), 2000);
      try {
        await runTool(this.qemuImg, ['convert', '-q', '-f', 'qcow2', '-O', 'qcow2', templateDisk, partial], { timeoutMs: 3_600_000 });
      } finally {
        clearInterval(beat);
      }
    } else {
      await runTool(this.qemuImg, ['create', '-q', '-f', 'qcow2', '-b', templateDisk, '-F', 'qcow2', partial]);
    }
    await rename(partial, disk);
  }

  private nicRecords(machineId: string, nics: NicSpec[] | undefined): InstanceRecord['nics'] {
    const list = nics && nics.length > 0 ? nics : [{}];
    return list.map((n: NicSpec, i) => {
      if (n.vlan !== undefined) throw new HangarError('provider_rejected', 'qemu: VLAN tags on NICs are not supported by the QEMU provider (use a bridge per VLAN)');
      const mac = (n.mac ?? derivedMac(machineId, i)).toLowerCase();
      if (!MAC.test(mac)) throw new HangarError('provider_rejected', `qemu: invalid MAC ${JSON.stringify(n.mac)}`);
      if (n.bridge !== undefined && !/^[A-Za-z0-9_.-]{1,15}$/.test(n.bridge)) throw new HangarError('provider_rejected', `qemu: invalid bridge ${JSON.stringify(n.bridge)}`);
      return n.bridge ? { mac, bridge: n.bridge } : { mac };
    });
  }

  async configure(providerId: string, spec: VmSpec): Promise<void> {
    const dir = this.instanceDir(providerId);
    await this.withLock(providerId, async () => {
      const rec = await this.requireInstance(providerId);
      const p = this.paths(dir);
      if (!Number.isInteger(spec.cpu) || spec.cpu < 1 || !Number.isInteger(spec.memoryMb) || spec.memoryMb < 64) {
        throw new HangarError('provider_rejected', `qemu: invalid cpu/memory ${spec.cpu}/${spec.memoryMb} MB`);
      }
      let changed = false;

      // Disk: grow only. A running VM is resized live through QMP (the image is locked).
      const info = await imageInfo(this.qemuImg, p.disk);
      const want = spec.diskGb * GiB;
      if (want < info.virtualSize) {
        throw new HangarError('provider_rejected', `qemu: cannot shrink the disk of ${providerId} from ${(info.virtualSize / GiB).toFixed(1)} GiB to ${spec.diskGb} GiB`);
      }
      if (want > info.virtualSize) {
        const pid = await this.livePid(dir);
        if (pid) await this.qmp(dir, (q) => q.execute('block_resize', { 'node-name': ROOT_NODE, size: want }));
        else await runTool(this.qemuImg, ['resize', '-q', '-f', 'qcow2', p.disk, String(want)]);
        this.logger.info({ machineId: providerId, diskGb: spec.diskGb, live: Boolean(pid) }, 'qemu: disk grown');
      }
      if (rec.diskGb !== spec.diskGb) { rec.diskGb = spec.diskGb; changed = true; }

      const nics = this.nicRecords(rec.machineId, spec.nics);
      if (rec.cpu !== spec.cpu || rec.memoryMb !== spec.memoryMb || JSON.stringify(rec.nics) !== JSON.stringify(nics)) {
        rec.cpu = spec.cpu;
        rec.memoryMb = spec.memoryMb;
        rec.nics = nics;
        changed = true;
        if (await this.livePid(dir)) this.logger.info({ machineId: providerId }, 'qemu: cpu/memory/NIC changes apply at the next start');
      }
      if (spec.name && rec.name !== spec.name) { rec.name = spec.name; changed = true; }

      // Cloud-init seed: always an ISO for QEMU (`native` is a Proxmox feature); the seed URL
      // goes to the guest through SMBIOS at start. Absent: the existing seed stays.
      const ci = spec.cloudInit;
      if (ci) {
        if (ci.seedUrl !== undefined) this.checkSeedUrl(ci.seedUrl);
        const files: Record<string, string> = { 'meta-data': ci.metaData, 'user-data': ci.userData };
        if (ci.networkConfig) files['network-config'] = ci.networkConfig;
        const hash = createHash('sha256').update(JSON.stringify(files)).digest('hex');
        if (rec.cloudInit?.hash !== hash || !(await exists(p.iso))) {
          await writeCidataIso(p.iso, files);
          await chmod(p.iso, 0o600);
          changed = true;
        }
        if (rec.cloudInit?.hash !== hash || rec.cloudInit.seedUrl !== ci.seedUrl) {
          rec.cloudInit = ci.seedUrl ? { hash, iso: true, seedUrl: ci.seedUrl } : { hash, iso: true };
          changed = true;
        }
      }
      if (changed) await this.saveInstance(rec);
    });
  }

  private checkSeedUrl(url: string): void {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new HangarError('provider_rejected', 'qemu: the NoCloud seed URL is not a URL');
    }
    // cloud-init splits `ds=nocloud-net;s=<url>` on ";" and whitespace, and appends file names.
    if ((u.protocol !== 'http:' && u.protocol !== 'https:') || /[\s;]/.test(url) || !url.endsWith('/')) {
      throw new HangarError('provider_rejected', 'qemu: the NoCloud seed URL must be http(s), end with "/" and contain no ";" or spaces');
    }
  }

  async start(providerId: string): Promise<void> {
    const dir = this.instanceDir(providerId);
    await this.withLock(providerId, async () => {
      const rec = await this.requireInstance(providerId);
      const { pid, state } = await this.powerState(dir);
      if (pid && state === 'running') return;
      if (pid && state === 'paused') {
        await this.qmp(dir, (q) => q.execute('cont'));
        return;
      }
      if (pid) await this.hardStop(dir, pid); // a process left in `shutdown` state
      await this.launch(dir, rec);
    });
  }

  private async launch(dir: string, rec: InstanceRecord): Promise<void> {
    const p = this.paths(dir);
    await this.cleanRuntimeFiles(dir);
    if (!(await exists(p.disk))) await this.createRootDisk(rec.templateDisk, p.disk, rec.cloneMode ?? 'linked');
    const accel: AccelChoice = await chooseAccel(this.qemuBinary, this.opts.accel ?? 'auto', this.logger, this.opts.cpuModel);

    const seedUrl = rec.cloudInit?.seedUrl;
    if (seedUrl) {
      const blob = smbiosType1({ manufacturer: 'QEMU', product: 'Hangar VM', version: 'q35', serial: noCloudSerial(seedUrl), uuid: rec.uuid, family: 'Hangar' });
      await writeFile(p.smbios, blob, { mode: 0o600 });
    } else {
      await rm(p.smbios, { force: true });
    }
    // Keep the previous boot's console for diagnosis.
    if (await exists(p.serialLog)) await rename(p.serialLog, `${p.serialLog}.1`).catch(() => undefined);

    const ports = hotplugPortIds(Math.max(this.opts.hotplugPorts ?? 8, rec.disks.length));
    const cidata = (await exists(p.iso)) ? p.iso : undefined;
    for (let attempt = 1; ; attempt++) {
      let sshPort: number | undefined;
      const nics: NicArg[] = [];
      for (const nic of rec.nics) {
        const bridge = nic.bridge ?? (this.opts.network.mode === 'bridge' ? this.opts.network.bridge : undefined);
        if (bridge) {
          nics.push({ mac: nic.mac, netdev: { kind: 'bridge', bridge } });
        } else {
          const forward = sshPort === undefined ? (sshPort = await freeLoopbackPort()) : undefined;
          nics.push({ mac: nic.mac, netdev: forward ? { kind: 'user', sshHostPort: forward } : { kind: 'user' } });
        }
      }
      const args = buildQemuArgs({
        name: rec.name || rec.machineId,
        uuid: rec.uuid,
        accel: accel.accel,
        cpuModel: accel.cpuModel,
        cpus: rec.cpu,
        memoryMb: rec.memoryMb,
        rootDisk: p.disk,
        cidataIso: cidata,
        cidataBus: this.opts.cidataBus ?? 'virtio-scsi',
        smbiosFile: seedUrl ? p.smbios : undefined,
        kernel: rec.kernel,
        nics,
        dataDisks: rec.disks.filter((d) => d.state === 'attached').map((d) => ({
          file: d.file, nodeName: d.nodeName, deviceId: d.deviceId, port: d.port, serial: d.diskId.slice(0, 20),
        })),
        hotplugPorts: ports,
        serialLog: p.serialLog,
        qmpSocket: p.qmpSocket,
        pidFile: p.pidFile,
      });
      try {
        // -daemonize: the parent exits once the VM is set up (or reports why it could not be).
        await runTool(this.qemuBinary, args, { timeoutMs: 120_000 });
      } catch (err) {
        const stderr = err instanceof ToolError ? err.stderr : '';
        if (attempt < 3 && /host forwarding rule|Could not set up host forwarding/i.test(stderr)) continue; // port raced away
        throw err;
      }
      const pid = await this.livePid(dir);
      if (!pid) throw new HangarError('provider_error', `qemu: ${rec.machineId} exited right after starting (see ${p.serialLog})`);
      rec.runtime = { accel: accel.accel, cpuModel: accel.cpuModel, startedAt: new Date().toISOString() };
      if (sshPort !== undefined) rec.runtime.sshPort = sshPort;
      await this.saveInstance(rec);
      this.logger.info({ machineId: rec.machineId, pid, accel: accel.accel, sshPort }, 'qemu: VM started');
      return;
    }
  }

  async shutdown(providerId: string, timeoutSec: number): Promise<void> {
    const dir = this.instanceDir(providerId);
    await this.withLock(providerId, async () => {
      const pid = await this.livePid(dir);
      if (!pid) { await this.cleanRuntimeFiles(dir); return; }
      let asked = false;
      try {
        asked = await this.qmp(dir, async (q) => {
          const st = await q.execute<{ status: string }>('query-status');
          if (st.status !== 'running') return false; // a paused guest cannot handle ACPI
          await q.execute('system_powerdown');
          return true;
        });
      } catch (err) {
        this.logger.warn({ machineId: providerId, err: errMessage(err) }, 'qemu: system_powerdown failed');
      }
      if (asked && (await this.waitExit(dir, pid, Math.max(0, timeoutSec) * 1000))) {
        await this.cleanRuntimeFiles(dir);
        this.logger.info({ machineId: providerId }, 'qemu: VM shut down');
        return;
      }
      this.logger.info({ machineId: providerId, timeoutSec }, 'qemu: guest did not power off in time; stopping it');
      await this.hardStop(dir, pid);
    });
  }

  async stop(providerId: string): Promise<void> {
    const dir = this.instanceDir(providerId);
    await this.withLock(providerId, async () => {
      const pid = await this.livePid(dir);
      if (pid) await this.hardStop(dir, pid);
      else await this.cleanRuntimeFiles(dir);
    });
  }

  async delete(machineId: string): Promise<{ deleted: boolean }> {
    const dir = this.instanceDir(machineId);
    return this.withLock(machineId, async () => {
      if (!(await exists(dir))) return { deleted: false };
      const pid = await this.livePid(dir);
      if (pid) await this.hardStop(dir, pid);
      await this.cleanRuntimeFiles(dir);
      await rm(dir, { recursive: true, force: true });
      this.logger.info({ machineId }, 'qemu: VM deleted');
      return { deleted: true };
    });
  }

  async status(machineId: string): Promise<VmStatus> {
    const dir = this.instanceDir(machineId);
    return this.withLock(machineId, async () => {
      const rec = await readJson<InstanceRecord>(this.paths(dir).record);
      if (!rec) return { providerId: null, powerState: 'absent' };
      const { state } = await this.powerState(dir);
      return { providerId: rec.providerId, powerState: state };
    });
  }

  async list(): Promise<VmSummary[]> {
    const out: VmSummary[] = [];
    for (const machineId of await this.instanceIds()) {
      const dir = join(this.instancesDir, machineId);
      const summary = await this.withLock(machineId, async (): Promise<VmSummary | null> => {
        const rec = await readJson<InstanceRecord>(this.paths(dir).record).catch(() => null);
        if (!rec) return null;
        const { state } = await this.powerState(dir);
        return { providerId: rec.providerId, machineId: rec.machineId, name: rec.name, powerState: state };
      });
      if (summary) out.push(summary);
    }
    return out;
  }

  /** Paths, pid and forwarded SSH port of a VM (for operators and tests); null when absent. */
  async describe(machineId: string): Promise<QemuInstanceInfo | null> {
    const dir = this.instanceDir(machineId);
    return this.withLock(machineId, async () => {
      const rec = await readJson<InstanceRecord>(this.paths(dir).record);
      if (!rec) return null;
      const p = this.paths(dir);
      const { pid, state } = await this.powerState(dir);
      return {
        machineId,
        dir,
        pid,
        powerState: state,
        sshPort: pid ? rec.runtime?.sshPort ?? null : null,
        accel: pid ? rec.runtime?.accel ?? null : null,
        serialLog: p.serialLog,
        qmpSocket: p.qmpSocket,
        disk: p.disk,
        cidataIso: (await exists(p.iso)) ? p.iso : null,
      };
    });
  }

  // ---------------------------------------------------------------- disks

  private diskIds(diskId: string): { nodeName: string; deviceId: string } {
    // QMP node names are limited to 31 characters; a hash of the disk id keeps them short and stable.
    const h = shortHash(`disk:${diskId}`);
    return { nodeName: `hd${h}`, deviceId: `vd${h}` };
  }

  private async peripheralIds(q: QmpClient): Promise<Set<string>> {
    const list = await q.execute<{ name: string }[]>('qom-list', { path: '/machine/peripheral' });
    return new Set(list.map((e) => e.name));
  }

  private async blockNodes(q: QmpClient): Promise<Set<string>> {
    const nodes = await q.execute<{ 'node-name': string }[]>('query-named-block-nodes', { flat: true });
    return new Set(nodes.map((n) => n['node-name']));
  }

  async attachDisk(providerId: string, disk: DiskSpec): Promise<AttachedDisk> {
    checkId('disk id', disk.diskId);
    if (!Number.isFinite(disk.sizeGb) || disk.sizeGb <= 0) throw new HangarError('provider_rejected', `qemu: invalid disk size ${disk.sizeGb}`);
    const dir = this.instanceDir(providerId);
    return this.withLock(providerId, async () => {
      const rec = await this.requireInstance(providerId);
      const p = this.paths(dir);
      let d = rec.disks.find((x) => x.diskId === disk.diskId);
      if (d?.state === 'detaching') throw new HangarError('invalid_state', `qemu: disk ${disk.diskId} of ${providerId} is being detached`);
      if (!d) {
        const used = new Set(rec.disks.map((x) => x.port));
        const port = hotplugPortIds(this.opts.hotplugPorts ?? 8).find((x) => !used.has(x));
        if (!port) throw new HangarError('provider_rejected', `qemu: ${providerId} has no free hot-plug slot (${used.size} disks attached)`);
        d = { diskId: disk.diskId, file: join(p.disksDir, `${disk.diskId}.qcow2`), sizeGb: disk.sizeGb, ...this.diskIds(disk.diskId), port, state: 'attached' };
        if (!(await exists(d.file))) {
          await mkdir(p.disksDir, { recursive: true, mode: 0o700 });
          const partial = `${d.file}.partial`;
          await runTool(this.qemuImg, ['create', '-q', '-f', 'qcow2', partial, String(Math.ceil(disk.sizeGb * GiB))]);
          await rename(partial, d.file);
        }
        // Recorded before the hot-plug: a crash in between leaves a record that a retry completes
        // and that a stopped VM picks up at its next start.
        rec.disks.push(d);
        await this.saveInstance(rec);
      }
      const disk1 = d;
      if (await this.livePid(dir)) {
        await this.qmp(dir, async (q) => {
          const nodes = await this.blockNodes(q);
          if (!nodes.has(`${disk1.nodeName}-f`)) {
            await q.execute('blockdev-add', { driver: 'file', 'node-name': `${disk1.nodeName}-f`, filename: disk1.file });
          }
          if (!nodes.has(disk1.nodeName)) {
            await q.execute('blockdev-add', { driver: 'qcow2', 'node-name': disk1.nodeName, file: `${disk1.nodeName}-f` });
          }
          if (!(await this.peripheralIds(q)).has(disk1.deviceId)) {
            await q.execute('device_add', { driver: 'virtio-blk-pci', id: disk1.deviceId, drive: disk1.nodeName, bus: disk1.port, serial: disk1.diskId.slice(0, 20) });
          }
        });
        this.logger.info({ machineId: providerId, diskId: disk.diskId, device: d.deviceId }, 'qemu: disk hot-plugged');
      }
      return { diskId: d.diskId, slot: d.deviceId, volume: d.file };
    });
  }

  async detachDisk(providerId: string, diskId: string): Promise<{ detached: boolean }> {
    checkId('disk id', diskId);
    const dir = this.instanceDir(providerId);
    return this.withLock(providerId, async () => {
      const rec = await this.loadInstance(providerId);
      if (!rec) return { detached: false };
      const p = this.paths(dir);
      const d = rec.disks.find((x) => x.diskId === diskId);
      const file = d?.file ?? join(p.disksDir, `${diskId}.qcow2`);
      if (!d && !(await exists(file))) return { detached: false };
      const { nodeName, deviceId } = d ?? this.diskIds(diskId);

      if (await this.livePid(dir)) {
        if (d && d.state !== 'detaching') {
          d.state = 'detaching'; // never re-attached at the next start, whatever happens below
          await this.saveInstance(rec);
        }
        await this.qmp(dir, async (q) => {
          if ((await this.peripheralIds(q)).has(deviceId)) await this.unplug(q, providerId, deviceId);
          const nodes = await this.blockNodes(q);
          if (nodes.has(nodeName)) await q.execute('blockdev-del', { 'node-name': nodeName });
          if (nodes.has(`${nodeName}-f`)) await q.execute('blockdev-del', { 'node-name': `${nodeName}-f` });
        });
      }
      await rm(file, { force: true });
      await rm(`${file}.partial`, { force: true });
      rec.disks = rec.disks.filter((x) => x.diskId !== diskId);
      await this.saveInstance(rec);
      this.logger.info({ machineId: providerId, diskId }, 'qemu: disk detached');
      return { detached: true };
    });
  }

  /**
   * `device_del` and wait for DEVICE_DELETED. PCIe hot-unplug needs the guest's cooperation (its
   * pciehp driver acknowledges the request; with no OS running the slot is powered off and QEMU
   * completes at once). If the guest never releases the disk, the disk stays marked `detaching`
   * (it is left out of the next start, so a power cycle completes the detach) and the call fails
   * retryably; a later retry finishes the job once the device is gone.
   */
  private async unplug(q: QmpClient, providerId: string, deviceId: string): Promise<void> {
    const mark = q.eventMark();
    try {
      await q.execute('device_del', { id: deviceId });
    } catch (err) {
      // "already in the process of unplug" (an earlier request is pending): just wait for it.
      if (!(err instanceof QmpCommandError) || !/unplug/i.test(err.message)) throw err;
    }
    const deadline = Date.now() + (this.opts.unplugTimeoutSec ?? 30) * 1000;
    for (;;) {
      try {
        await q.waitForEvent((e) => e.event === 'DEVICE_DELETED' && e.data.device === deviceId, Math.min(2000, Math.max(1, deadline - Date.now())), mark);
        return;
      } catch (err) {
        if (!/no matching QMP event/.test(errMessage(err))) throw err;
      }
      this.onWait();
      if (!(await this.peripheralIds(q)).has(deviceId)) return;
      if (Date.now() >= deadline) {
        throw new HangarError('provider_error', `qemu: the guest of ${providerId} did not release disk device ${deviceId} within ${this.opts.unplugTimeoutSec ?? 30} s; it is left out of the next start, retry the detach later or power-cycle the VM`);
      }
    }
  }
}
