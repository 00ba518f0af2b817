// The Proxmox VE provider. Every VM Hangar makes carries a marker (tag `hangar`, and a
// `hangar-machine=<id>` / `hangar-template=<id>` line in its description), so a retried call
// finds what an earlier, interrupted call already made instead of making it twice.
// This class wires the call context; the work lives in the modules beside it:
// locator (finding VMs), tasks (waits), clone, config-plan (the pure configure diff), iso,
// disks, templates, vms (VMIDs, delete), volumes, inventory and leftovers (the observer's
// listing), adopt (marking a VM Hangar did not create), markers and properties (pure parsing).
// No Temporal imports: waits call `hooks.onWait` so activities can heartbeat.
import { HangarError } from '../../domain/errors.ts';
import type { IsoTool } from '../cloud-init/cidata-iso.ts';
import type {
  AttachedDisk,
  CallOptions,
  DiskSpec,
  Hypervisor,
  ProviderHooks,
  TemplateRef,
  TemplateSpec,
  VmSpec,
  VmStatus,
  VmSummary,
  InventoryOptions,
  Leftover,
  VmInventory,
} from '../hypervisor.ts';
import { WATCH_DEFAULTS } from '../support/poll-schedule.ts';
import { ProxmoxClient, silentLogger, type ProviderLogger, type ProxmoxConnectionOptions } from './client.ts';
import { awaitInFlightClone, cloneMachine } from './clone.ts';
import { planConfig, planRootDisk, planWrites } from './config-plan.ts';
import { errCode, pveGet, pvePost, pvePut, setConfig, settle, vmPath, type ProxmoxCall, type ProxmoxSettings } from './context.ts';
import { attachDisk, detachDisk } from './disks.ts';
import { cidataIsos, uploadCidataIso } from './iso.ts';
import { findByMarker, markedVms, mustResolveVm, resolveVm, resources, type VmRef } from './locator.ts';
import { MACHINE_MARKER, markerValue } from './markers.ts';
import { powerState } from './properties.ts';
import { settledConfig, waitActiveTasks, waitUnlocked } from './tasks.ts';
import { deleteTemplate, importTemplate } from './templates.ts';
import { deleteVm } from './vms.ts';
import { deleteVolume } from './volumes.ts';
import { inventory } from './inventory.ts';
import { deleteLeftover } from './leftovers.ts';
import { markAdoptedVm } from './adopt.ts';

export type { VmRef } from './locator.ts';

export interface ProxmoxProviderOptions {
  /** A ready client; otherwise `connection` is used to build one (owned and closed by the provider). */
  client?: ProxmoxClient;
  connection?: ProxmoxConnectionOptions;
  /** Node VMs and templates go to when the spec names none. */
  node: string;
  /** Storage for VM disks, cloud-init drives and attached disks (default `local-lvm`). */
  storage?: string;
  /** Storage for cidata ISOs (content `iso`; default `local`). */
  isoStorage?: string;
  /** Storage that takes uploaded/downloaded template images (content `import`; default: isoStorage). */
  importStorage?: string;
  /** Bridge for NICs that name none (default `vmbr0`). */
  bridge?: string;
  hooks?: ProviderHooks;
  logger?: ProviderLogger;
  /** Tool that builds cidata ISOs (default xorriso). */
  isoTool?: IsoTool;
  /** Where cidata ISOs are built before upload (default the OS temp dir). */
  tmpDir?: string;
  /** VMIDs tried when Proxmox answers that a VM already exists (default 5). */
  vmidAttempts?: number;
  /** Watching a VM's lock clear: first gap between polls (default 100 ms), growing with the wait up to the max (default 1 s). */
  pollInitialMs?: number;
  pollMaxMs?: number;
  /** How long to wait for a VM lock (clone/create in progress) to clear (default 10 min). */
  lockWaitMs?: number;
}

export class ProxmoxProvider implements Hypervisor {
  readonly name = 'proxmox' as const;
  readonly client: ProxmoxClient;
  readonly node: string;
  readonly storage: string;
  readonly isoStorage: string;
  readonly importStorage: string;
  readonly bridge: string;
  readonly #ownsClient: boolean;
  readonly #hooks: ProviderHooks;
  readonly #logger: ProviderLogger;
  readonly #settings: ProxmoxSettings;
  readonly #cache = new Map<string, number>();

  /** Key for the per-node/per-template concurrency cap (clone locks are per source VM). */
  static lockKey(spec: { node?: string; template?: string }, defaultNode = 'default'): string {
    return `proxmox/${spec.node ?? defaultNode}/${spec.template ?? 'none'}`;
  }

  lockKey(spec: { node?: string; template?: string }): string {
    return ProxmoxProvider.lockKey(spec, this.node);
  }

  constructor(opts: ProxmoxProviderOptions) {
    this.#hooks = opts.hooks ?? {};
    this.#logger = opts.logger ?? silentLogger;
    if (opts.client) {
      this.client = opts.client;
      this.#ownsClient = false;
    } else if (opts.connection) {
      this.client = new ProxmoxClient({ hooks: this.#hooks, logger: this.#logger, ...opts.connection });
      this.#ownsClient = true;
    } else {
      throw new HangarError('validation_failed', 'ProxmoxProvider needs a client or connection options');
    }
    if (!opts.node) throw new HangarError('validation_failed', 'ProxmoxProvider needs a default node');
    this.node = opts.node;
    this.storage = opts.storage ?? 'local-lvm';
    this.isoStorage = opts.isoStorage ?? 'local';
    this.importStorage = opts.importStorage ?? this.isoStorage;
    this.bridge = opts.bridge ?? 'vmbr0';
    this.#settings = {
      node: this.node,
      storage: this.storage,
      isoStorage: this.isoStorage,
      importStorage: this.importStorage,
      bridge: this.bridge,
      pollInitialMs: opts.pollInitialMs ?? WATCH_DEFAULTS.firstMs,
      pollMaxMs: opts.pollMaxMs ?? WATCH_DEFAULTS.maxMs,
      lockWaitMs: opts.lockWaitMs ?? 600_000,
      vmidAttempts: opts.vmidAttempts ?? 5,
      ...(opts.tmpDir ? { tmpDir: opts.tmpDir } : {}),
      ...(opts.isoTool ? { isoTool: opts.isoTool } : {}),
    };
    if (this.client.insecure) {
      this.#logger.warn(
        { provider: 'proxmox', url: this.client.baseUrl.origin, tls: 'insecure' },
        `Proxmox TLS certificate verification is DISABLED (${this.client.baseUrl.protocol === 'http:' ? 'plain HTTP' : 'insecure: true'}); anyone on the path can read the API token. Configure a CA file or a certificate fingerprint instead.`,
      );
    }
  }

  close(): void {
    if (this.#ownsClient) this.client.close();
  }

  #call(opts: CallOptions = {}): ProxmoxCall {
    return {
      client: this.client,
      settings: this.#settings,
      hooks: this.#hooks,
      logger: this.#logger,
      cache: this.#cache,
      ...(opts.signal ? { signal: opts.signal } : {}),
    };
  }

  async resources(opts?: CallOptions): Promise<VmRef[]> {
    return resources(this.#call(opts));
  }

  create(spec: VmSpec, opts?: CallOptions): Promise<{ providerId: string; created: boolean }> {
    return cloneMachine(this.#call(opts), spec);
  }

  async configure(providerId: string, spec: VmSpec, opts?: CallOptions): Promise<void> {
    const c = this.#call(opts);
    const ref = await mustResolveVm(c, providerId);
    const cfg = await settledConfig(c, ref);
    const isos = spec.cloudInit ? await cidataIsos(c, ref.node, spec.machineId) : [];
    const plan = planConfig(cfg, spec, isos, this.#settings, ref.vmid);
    if (plan.uploadIso && spec.cloudInit) await uploadCidataIso(c, ref.node, plan.uploadIso, spec.cloudInit);
    for (const write of planWrites(plan)) await setConfig(c, ref, write);
    // Superseded seed images go only after no drive refers to them any more.
    for (const volid of plan.staleIsos) await deleteVolume(c, ref.node, this.isoStorage, volid);

    const disk = planRootDisk(cfg, spec.diskGb, ref.vmid);
    if (disk.action === 'larger') {
      this.#logger.warn(
        { vmid: ref.vmid, disk: disk.disk, currentBytes: disk.currentBytes, wantedGb: spec.diskGb },
        'proxmox: disk is larger than requested; disks never shrink',
      );
    } else if (disk.action === 'resize') {
      const upid = await pvePut(c, vmPath(ref, '/resize'), { disk: disk.disk, size: disk.size }, { idempotent: true });
      await settle(c, ref.node, upid);
    }
    this.#logger.debug({ vmid: ref.vmid, changed: Object.keys(plan.set), deleted: [...plan.freeFirst, ...plan.delete] }, 'proxmox: configured VM');
  }

  async start(providerId: string, opts?: CallOptions): Promise<void> {
    const c = this.#call(opts);
    const ref = await mustResolveVm(c, providerId);
    await waitActiveTasks(c, ref.node, undefined, ref.vmid);
    const current = () => pveGet<{ status?: string }>(c, vmPath(ref, '/status/current'));
    if ((await current())?.status === 'running') return;
    try {
      await settle(c, ref.node, await pvePost(c, vmPath(ref, '/status/start')));
    } catch (err) {
      // "already running": an earlier attempt whose reply was lost got there first.
      if (errCode(err) === 'provider_task_failed' && (await current())?.status === 'running') return;
      throw err;
    }
  }

  async stop(providerId: string, opts?: CallOptions): Promise<void> {
    const c = this.#call(opts);
    const ref = await resolveVm(c, providerId);
    if (!ref) return;
    await waitActiveTasks(c, ref.node, undefined, ref.vmid);
    const st = await pveGet<{ status?: string }>(c, vmPath(ref, '/status/current'));
    if (st?.status !== 'running') return;
    await settle(c, ref.node, await pvePost(c, vmPath(ref, '/status/stop')));
  }

  async shutdown(providerId: string, timeoutSec: number, opts?: CallOptions): Promise<void> {
    const c = this.#call(opts);
    const ref = await resolveVm(c, providerId);
    if (!ref) return;
    await waitActiveTasks(c, ref.node, undefined, ref.vmid);
    const current = () => pveGet<{ status?: string }>(c, vmPath(ref, '/status/current'));
    if ((await current())?.status !== 'running') return;
    const timeout = Math.max(0, Math.floor(timeoutSec));
    try {
      const upid = await pvePost(c, vmPath(ref, '/status/shutdown'), { timeout });
      await settle(c, ref.node, upid, timeout * 1000 + 60_000);
    } catch (err) {
      // A guest that ignores ACPI makes the shutdown task fail at its timeout: fall back to stop.
      if (errCode(err) !== 'provider_task_failed') throw err;
      this.#logger.info({ vmid: ref.vmid, err: (err as Error).message }, 'proxmox: graceful shutdown failed; stopping');
    }
    if ((await current())?.status === 'running') {
      await settle(c, ref.node, await pvePost(c, vmPath(ref, '/status/stop')));
    }
  }

  /** Deletes the machine's VM (waiting for a clone of it still running) and its cidata ISOs. */
  async delete(machineId: string, opts?: CallOptions): Promise<{ deleted: boolean }> {
    const c = this.#call(opts);
    const found = (await findByMarker(c, MACHINE_MARKER, machineId)) ?? (await awaitInFlightClone(c, machineId));
    let node = this.node;
    if (found) {
      node = found.ref.node;
      if (found.config.lock) await waitUnlocked(c, found.ref, found.config);
      await deleteVm(c, found.ref);
      this.#cache.delete(`${MACHINE_MARKER}=${machineId}`);
      this.#logger.info({ machineId, vmid: found.ref.vmid }, 'proxmox: deleted VM');
    }
    // Always look for ISOs: a retry after a crash between the two steps still cleans them up.
    for (const volid of await cidataIsos(c, node, machineId)) await deleteVolume(c, node, this.isoStorage, volid);
    return { deleted: found !== undefined };
  }

  async status(machineId: string, opts?: CallOptions): Promise<VmStatus> {
    const c = this.#call(opts);
    const found = await findByMarker(c, MACHINE_MARKER, machineId);
    if (!found) return { providerId: null, powerState: 'absent' };
    try {
      const st = await pveGet<{ status?: string; qmpstatus?: string }>(c, vmPath(found.ref, '/status/current'));
      return { providerId: String(found.ref.vmid), powerState: powerState(st?.status, st?.qmpstatus) };
    } catch (err) {
      if (errCode(err) === 'not_found') return { providerId: null, powerState: 'absent' };
      throw err;
    }
  }

  async list(opts?: CallOptions): Promise<VmSummary[]> {
    return (await markedVms(this.#call(opts), (r) => !r.template)).map(({ ref, config }) => ({
      providerId: String(ref.vmid),
      machineId: markerValue(String(config.description ?? ''), MACHINE_MARKER) ?? null,
      name: ref.name,
      powerState: powerState(ref.status),
    }));
  }

  /** Every VM on every node, Hangar's or not, and Hangar's leftovers (inventory.ts). */
  inventory(opts?: InventoryOptions): Promise<VmInventory> {
    return inventory(this.#call(opts), opts?.onPage);
  }

  /** Deletes a Hangar cidata ISO or disk after checking again that it is Hangar's and unused (leftovers.ts). */
  deleteLeftover(leftover: Leftover, opts?: CallOptions): Promise<{ deleted: boolean }> {
    return deleteLeftover(this.#call(opts), leftover);
  }

  /** Writes Hangar's marker onto a VM it did not create; changes nothing else (adopt.ts). */
  adopt(providerId: string, machineId: string, opts?: CallOptions): Promise<{ marked: boolean }> {
    return markAdoptedVm(this.#call(opts), providerId, machineId);
  }

  async attachDisk(providerId: string, disk: DiskSpec, opts?: CallOptions): Promise<AttachedDisk> {
    const c = this.#call(opts);
    return attachDisk(c, await mustResolveVm(c, providerId), disk);
  }

  async detachDisk(providerId: string, diskId: string, opts?: CallOptions): Promise<{ detached: boolean }> {
    const c = this.#call(opts);
    const ref = await resolveVm(c, providerId);
    return ref ? detachDisk(c, ref, diskId) : { detached: false };
  }

  importTemplate(spec: TemplateSpec, opts?: CallOptions): Promise<TemplateRef> {
    return importTemplate(this.#call(opts), spec);
  }

  deleteTemplate(templateId: string, opts?: CallOptions): Promise<{ deleted: boolean }> {
    return deleteTemplate(this.#call(opts), templateId);
  }
}
