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
// This class serialises calls per VM and template; the work lives beside it: instance (files and
// records), process (pid, QMP, stop), launch (root disk, command line), templates, disks.
import { createHash } from 'node:crypto';
import { chmod, mkdir, readdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { HangarError } from '../../domain/errors.ts';
import { writeCidataIso } from '../cloud-init/cidata-iso.ts';
import type {
  AttachedDisk,
  CallOptions,
  DiskSpec,
  Hypervisor,
  TemplateRef,
  TemplateSpec,
  VmSpec,
  VmAccess,
  VmStatus,
  VmSummary,
  InventoryOptions,
  Leftover,
  VmInventory,
} from '../hypervisor.ts';
import { ROOT_NODE } from './command-line.ts';
import { attachDisk, detachDisk } from './disks.ts';
import {
  checkId,
  errMessage,
  GiB,
  instanceDir,
  instancePaths,
  loadInstance,
  nicRecords,
  requireInstance,
  SAFE_ID,
  saveInstance,
  type InstanceRecord,
  type QemuContext,
  type QemuInstanceInfo,
  type QemuProviderOptions,
  type TemplateRecord,
} from './instance.ts';
import { instanceAccess, instanceInfo } from './instance-info.ts';
import { createRootDisk, launch } from './launch.ts';
import { instanceFolders, listingFailure, markedRecord, observeInstance } from './inventory.ts';
import { awaitShutdownEvent, cleanRuntimeFiles, hardStop, livePid, powerState, qmp, waitExit } from './process.ts';
import { machineUuid } from './smbios.ts';
import { deleteTemplate, importTemplate, listTemplates } from './templates.ts';
import { exists, imageInfo, readJson, runTool } from './tools.ts';

export type { ImageManifest, QemuInstanceInfo, QemuNetwork, QemuProviderOptions } from './instance.ts';

export class QemuProvider implements Hypervisor {
  readonly name = 'qemu' as const;
  private readonly ctx: QemuContext;
  private readonly locks = new Map<string, Promise<unknown>>();
  /** templateId → the end of its import running in this process. */
  private readonly importing = new Map<string, Promise<void>>();

  constructor(opts: QemuProviderOptions) {
    if (opts.network.mode === 'bridge' && !opts.network.bridge) throw new Error('qemu: network.bridge is required in bridge mode');
    const root = join(resolve(opts.dataDir), 'qemu');
    this.ctx = {
      root,
      instancesDir: join(root, 'instances'),
      templatesDir: join(root, 'templates'),
      qemuBinary: opts.qemuBinary ?? 'qemu-system-x86_64',
      qemuImg: opts.qemuImg ?? 'qemu-img',
      opts,
      logger: opts.logger,
    };
  }

  private get logger() {
    return this.ctx.logger;
  }

  /** Serialises operations on one key inside this process (QMP serves one client at a time). */
  private async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.locks.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    }
  }

  private instanceDir(machineId: string): string {
    return instanceDir(this.ctx, machineId);
  }

  private async instanceIds(): Promise<string[]> {
    try {
      return (await readdir(this.ctx.instancesDir)).filter((n) => !n.startsWith('.') && SAFE_ID.test(n));
    } catch {
      return [];
    }
  }

  // ---------------------------------------------------------------- templates

  /** A cancelled import stops its copy or conversion and removes its partial directory before it ends. */
  async importTemplate(spec: TemplateSpec, opts: CallOptions = {}): Promise<TemplateRef> {
    checkId('template name', spec.name);
    const run = this.withLock(`template:${spec.name}`, () => importTemplate(this.ctx, spec, opts.signal));
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.importing.set(spec.templateId, settled);
    void settled.then(() => {
      if (this.importing.get(spec.templateId) === settled) this.importing.delete(spec.templateId);
    });
    return run;
  }

  /**
   * Waits for an import of the same template running in this process to end first: an import in
   * flight is not listed yet, and would otherwise finish after the delete and leave the template.
   */
  async deleteTemplate(templateId: string, _opts?: CallOptions): Promise<{ deleted: boolean }> {
    await this.importing.get(templateId);
    const found = (await listTemplates(this.ctx)).find((t) => t.rec.templateId === templateId);
    if (!found) return { deleted: false };
    return this.withLock(`template:${found.rec.name}`, async () => deleteTemplate(this.ctx, found, await this.instanceIds()));
  }

  // ---------------------------------------------------------------- lifecycle

  async create(spec: VmSpec, opts: CallOptions = {}): Promise<{ providerId: string; created: boolean }> {
    const dir = this.instanceDir(spec.machineId);
    return this.withLock(spec.machineId, async () => {
      const p = instancePaths(dir);
      const existing = await readJson<InstanceRecord>(p.record);
      if (existing) {
        if (!(await exists(p.disk))) await createRootDisk(this.ctx, existing.templateDisk, p.disk, existing.cloneMode ?? 'linked', opts.signal);
        return { providerId: existing.providerId, created: false };
      }
      if (!spec.template) throw new HangarError('provider_rejected', 'qemu: VmSpec.template (a QEMU template name) is required');
      checkId('template name', spec.template);
      const tdir = join(this.ctx.templatesDir, spec.template);
      const trec = await readJson<TemplateRecord>(join(tdir, 'template.json'));
      if (!trec) throw new HangarError('not_found', `qemu: template ${spec.template} does not exist`);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const templateDisk = join(tdir, trec.disk);
      const cloneMode = spec.cloneMode ?? 'linked';
      await createRootDisk(this.ctx, templateDisk, p.disk, cloneMode, opts.signal);
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
        nics: nicRecords(spec.machineId, spec.nics),
        disks: [],
      };
      if (trec.kernel) {
        rec.kernel = { kernel: join(tdir, trec.kernel) };
        if (trec.initrd) rec.kernel.initrd = join(tdir, trec.initrd);
        if (trec.cmdline) rec.kernel.cmdline = trec.cmdline;
      }
      await saveInstance(this.ctx, rec);
      this.logger.info({ machineId: spec.machineId, template: spec.template }, 'qemu: VM created');
      return { providerId: rec.providerId, created: true };
    });
  }

  async configure(providerId: string, spec: VmSpec, opts: CallOptions = {}): Promise<void> {
    const dir = this.instanceDir(providerId);
    await this.withLock(providerId, async () => {
      const rec = await requireInstance(this.ctx, providerId);
      const p = instancePaths(dir);
      if (!Number.isInteger(spec.cpu) || spec.cpu < 1 || !Number.isInteger(spec.memoryMb) || spec.memoryMb < 64) {
        throw new HangarError('provider_rejected', `qemu: invalid cpu/memory ${spec.cpu}/${spec.memoryMb} MB`);
      }
      let changed = false;

      // Disk: grow only. A running VM is resized live through QMP (the image is locked).
      const info = await imageInfo(this.ctx.qemuImg, p.disk);
      const want = spec.diskGb * GiB;
      if (want < info.virtualSize) {
        throw new HangarError(
          'provider_rejected',
          `qemu: cannot shrink the disk of ${providerId} from ${(info.virtualSize / GiB).toFixed(1)} GiB to ${spec.diskGb} GiB`,
        );
      }
      if (want > info.virtualSize) {
        const pid = await livePid(dir);
        if (pid) await qmp(dir, (q) => q.execute('block_resize', { 'node-name': ROOT_NODE, size: want }));
        else await runTool(this.ctx.qemuImg, ['resize', '-q', '-f', 'qcow2', p.disk, String(want)]); // never killed half-way
        this.logger.info({ machineId: providerId, diskGb: spec.diskGb, live: Boolean(pid) }, 'qemu: disk grown');
      }
      if (rec.diskGb !== spec.diskGb) {
        rec.diskGb = spec.diskGb;
        changed = true;
      }

      const nics = nicRecords(rec.machineId, spec.nics);
      if (rec.cpu !== spec.cpu || rec.memoryMb !== spec.memoryMb || JSON.stringify(rec.nics) !== JSON.stringify(nics)) {
        rec.cpu = spec.cpu;
        rec.memoryMb = spec.memoryMb;
        rec.nics = nics;
        changed = true;
        if (await livePid(dir)) this.logger.info({ machineId: providerId }, 'qemu: cpu/memory/NIC changes apply at the next start');
      }
      if (spec.name && rec.name !== spec.name) {
        rec.name = spec.name;
        changed = true;
      }

      // Cloud-init seed: always an ISO for QEMU (`native` is a Proxmox feature); the seed URL
      // goes to the guest through SMBIOS at start. Absent: the existing seed stays.
      const ci = spec.cloudInit;
      if (ci) {
        if (ci.seedUrl !== undefined) this.checkSeedUrl(ci.seedUrl);
        const files: Record<string, string> = { 'meta-data': ci.metaData, 'user-data': ci.userData };
        if (ci.networkConfig) files['network-config'] = ci.networkConfig;
        const hash = createHash('sha256').update(JSON.stringify(files)).digest('hex');
        if (rec.cloudInit?.hash !== hash || !(await exists(p.iso))) {
          await writeCidataIso(p.iso, files, opts.signal ? { signal: opts.signal } : {});
          await chmod(p.iso, 0o600);
          changed = true;
        }
        if (rec.cloudInit?.hash !== hash || rec.cloudInit.seedUrl !== ci.seedUrl) {
          rec.cloudInit = ci.seedUrl ? { hash, iso: true, seedUrl: ci.seedUrl } : { hash, iso: true };
          changed = true;
        }
      }
      if (changed) await saveInstance(this.ctx, rec);
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

  async start(providerId: string, opts: CallOptions = {}): Promise<void> {
    const dir = this.instanceDir(providerId);
    await this.withLock(providerId, async () => {
      const rec = await requireInstance(this.ctx, providerId);
      const { pid, state } = await powerState(dir);
      if (pid && state === 'running') return;
      if (pid && state === 'paused') {
        await qmp(dir, (q) => q.execute('cont'));
        return;
      }
      if (pid) await hardStop(this.ctx, dir, pid); // a process left in `shutdown` state
      await launch(this.ctx, dir, rec, opts.signal);
    });
  }

  async shutdown(providerId: string, timeoutSec: number, _opts?: CallOptions): Promise<void> {
    const dir = this.instanceDir(providerId);
    await this.withLock(providerId, async () => {
      const pid = await livePid(dir);
      if (!pid) {
        await cleanRuntimeFiles(dir);
        return;
      }
      let asked = false;
      const timeoutMs = Math.max(0, timeoutSec) * 1000;
      const deadline = Date.now() + timeoutMs;
      try {
        asked = await qmp(dir, async (q) => {
          const st = await q.execute<{ status: string }>('query-status');
          if (st.status !== 'running') return false; // a paused guest cannot handle ACPI
          const mark = q.eventMark();
          await q.execute('system_powerdown');
          // QMP says when the guest has powered off: no polling while the guest shuts down.
          await awaitShutdownEvent(this.ctx, q, mark, timeoutMs);
          return true;
        });
      } catch (err) {
        this.logger.warn({ machineId: providerId, err: err instanceof Error ? err.message : String(err) }, 'qemu: system_powerdown failed');
      }
      if (asked && (await waitExit(this.ctx, dir, pid, Math.max(1000, deadline - Date.now())))) {
        await cleanRuntimeFiles(dir);
        this.logger.info({ machineId: providerId }, 'qemu: VM shut down');
        return;
      }
      this.logger.info({ machineId: providerId, timeoutSec }, 'qemu: guest did not power off in time; stopping it');
      await hardStop(this.ctx, dir, pid);
    });
  }

  async stop(providerId: string, _opts?: CallOptions): Promise<void> {
    const dir = this.instanceDir(providerId);
    await this.withLock(providerId, async () => {
      const pid = await livePid(dir);
      if (pid) await hardStop(this.ctx, dir, pid);
      else await cleanRuntimeFiles(dir);
    });
  }

  /** Waits for any call on the VM in this process (the lock), so a cancelled create is over first. */
  async delete(machineId: string, _opts?: CallOptions): Promise<{ deleted: boolean }> {
    const dir = this.instanceDir(machineId);
    return this.withLock(machineId, async () => {
      if (!(await exists(dir))) return { deleted: false };
      const pid = await livePid(dir);
      if (pid) await hardStop(this.ctx, dir, pid);
      await cleanRuntimeFiles(dir);
      await rm(dir, { recursive: true, force: true });
      this.logger.info({ machineId }, 'qemu: VM deleted');
      return { deleted: true };
    });
  }

  async status(machineId: string, _opts?: CallOptions): Promise<VmStatus> {
    const dir = this.instanceDir(machineId);
    return this.withLock(machineId, async () => {
      const rec = await readJson<InstanceRecord>(instancePaths(dir).record);
      if (!rec) return { providerId: null, powerState: 'absent' };
      const { state } = await powerState(dir);
      return { providerId: rec.providerId, powerState: state };
    });
  }

  async list(_opts?: CallOptions): Promise<VmSummary[]> {
    const out: VmSummary[] = [];
    for (const machineId of await this.instanceIds()) {
      const dir = join(this.ctx.instancesDir, machineId);
      const summary = await this.withLock(machineId, async (): Promise<VmSummary | null> => {
        const rec = await readJson<InstanceRecord>(instancePaths(dir).record).catch(() => null);
        if (!rec) return null;
        const { state } = await powerState(dir);
        return { providerId: rec.providerId, machineId: rec.machineId, name: rec.name, powerState: state };
      });
      if (summary) out.push(summary);
    }
    return out;
  }

  /** Every instance folder (managed or not) for the observer; an unreadable folder makes the listing partial. */
  async inventory(opts: InventoryOptions = {}): Promise<VmInventory> {
    const out: VmInventory = { vms: [], leftovers: [], failures: [] };
    let folders: string[] | null;
    try {
      folders = await instanceFolders(this.ctx);
    } catch (err) {
      out.failures.push(`instances folder: ${errMessage(err)}`);
      return out;
    }
    for (const folder of folders ?? []) {
      opts.signal?.throwIfAborted();
      opts.onPage?.();
      try {
        out.vms.push(await this.withLock(folder, () => observeInstance(this.ctx, folder)));
      } catch (err) {
        out.failures.push(listingFailure(folder, err));
      }
    }
    return out;
  }

  /**
   * Deletes an instance Hangar made whose machine is gone (the observer's `orphan`). The folder
   * must still carry Hangar's record for that machine: a folder without it is never deleted.
   */
  async deleteLeftover(leftover: Leftover, _opts?: CallOptions): Promise<{ deleted: boolean }> {
    if (leftover.kind !== 'instance' || !leftover.machineId || leftover.ref !== leftover.machineId || !SAFE_ID.test(leftover.ref)) return { deleted: false };
    const marked = await this.withLock(leftover.ref, () => markedRecord(this.instanceDir(leftover.ref), leftover.ref));
    if (!marked) return { deleted: false };
    return this.delete(leftover.ref);
  }

  /** The forwarded SSH port (user networking) and the accelerator with its reason, while the VM runs. */
  async access(providerId: string): Promise<VmAccess | null> {
    return this.withLock(providerId, () => instanceAccess(this.instanceDir(providerId)));
  }

  /** Paths, pid and forwarded SSH port of a VM (for operators and tests); null when absent. */
  async describe(machineId: string): Promise<QemuInstanceInfo | null> {
    return this.withLock(machineId, () => instanceInfo(machineId, this.instanceDir(machineId)));
  }

  // ---------------------------------------------------------------- disks

  async attachDisk(providerId: string, disk: DiskSpec, _opts?: CallOptions): Promise<AttachedDisk> {
    checkId('disk id', disk.diskId);
    if (!Number.isFinite(disk.sizeGb) || disk.sizeGb <= 0) throw new HangarError('provider_rejected', `qemu: invalid disk size ${disk.sizeGb}`);
    const dir = this.instanceDir(providerId);
    return this.withLock(providerId, async () => attachDisk(this.ctx, dir, await requireInstance(this.ctx, providerId), disk));
  }

  async detachDisk(providerId: string, diskId: string, _opts?: CallOptions): Promise<{ detached: boolean }> {
    checkId('disk id', diskId);
    const dir = this.instanceDir(providerId);
    return this.withLock(providerId, async () => {
      const rec = await loadInstance(this.ctx, providerId);
      return rec ? detachDisk(this.ctx, dir, rec, diskId) : { detached: false };
    });
  }
}
