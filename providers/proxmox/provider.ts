// The Proxmox VE provider. Every VM Hangar makes carries a marker (tag `hangar`, and a
// `hangar-machine=<id>` / `hangar-template=<id>` line in its description), so a retried call
// finds what an earlier, interrupted call already made instead of making it twice.
// No Temporal imports: waits call `hooks.onWait` so activities can heartbeat.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { HangarError } from '../../domain/errors.ts';
import { writeCidataIso, type IsoTool } from '../cloud-init/cidata-iso.ts';
import type {
  AttachedDisk, DiskSpec, Hypervisor, PowerState, ProviderHooks, TemplateRef, TemplateSpec, VmSpec, VmStatus, VmSummary,
} from '../hypervisor.ts';
import {
  ProxmoxClient, isUpid, pvePath, silentLogger, upidNode,
  type Params, type ProviderLogger, type ProxmoxConnectionOptions, type WaitOptions,
} from './client.ts';

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
  /** Backoff while waiting for a VM's lock to clear or a shutdown to finish (default 2 s → 30 s). */
  pollInitialMs?: number;
  pollMaxMs?: number;
  /** How long to wait for a VM lock (clone/create in progress) to clear (default 10 min). */
  lockWaitMs?: number;
}

/** A VM as `/cluster/resources` reports it. */
export interface VmRef {
  vmid: number;
  node: string;
  name: string;
  template: boolean;
  status: string;
  tags: string[];
  lock?: string;
}

type VmConfig = Record<string, string | number | undefined> & { digest?: string; description?: string; lock?: string };

interface ClusterResource {
  type?: string;
  vmid?: number | string;
  node?: string;
  name?: string;
  template?: number | boolean;
  status?: string;
  tags?: string;
  lock?: string;
}

const HANGAR_TAG = 'hangar';
const DESCRIPTION_HEADER = 'Managed by Hangar; keep the hangar-* lines.';
const MACHINE_MARKER = 'hangar-machine';
const TEMPLATE_MARKER = 'hangar-template';
const DISK_MARKER = 'hangar-disk';
const MAX_SCSI = 30;

// ---------------------------------------------------------------------------------------------
// Small pure helpers (exported for unit tests).

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

export function parseTags(tags: string | undefined): string[] {
  return (tags ?? '').split(/[;, ]+/).map((t) => t.trim()).filter(Boolean);
}

export function markerValue(description: string | undefined, key: string): string | undefined {
  if (!description) return undefined;
  const re = new RegExp(`^${key}=(\\S+)\\s*$`, 'm');
  return re.exec(description)?.[1];
}

export function diskMarkers(description: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of (description ?? '').split('\n')) {
    const m = new RegExp(`^${DISK_MARKER}=(\\S+):([a-z]+\\d+)\\s*$`).exec(line.trim());
    if (m?.[1] && m[2]) out.set(m[1], m[2]);
  }
  return out;
}

function withDiskMarker(description: string | undefined, diskId: string, slot: string | null): string {
  const lines = (description ?? '').split('\n').filter((l) => !l.trim().startsWith(`${DISK_MARKER}=${diskId}:`));
  if (slot) lines.push(`${DISK_MARKER}=${diskId}:${slot}`);
  return lines.filter((l, i) => l !== '' || i < lines.length - 1).join('\n').replace(/\n+$/, '');
}

/** Replaces (or adds) the `key=value` line in a description. */
function withMarkerLine(description: string, key: string, value: string): string {
  const lines = description.split('\n').filter((l) => !l.trim().startsWith(`${key}=`));
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  lines.push(`${key}=${value}`);
  return lines.join('\n');
}

/** Short hash of the seed documents a cidata ISO is built from. */
export function cidataHash(ci: { metaData: string; userData: string; networkConfig?: string }): string {
  return createHash('sha256')
    .update(JSON.stringify([ci.metaData, ci.userData, ci.networkConfig ?? null]))
    .digest('hex')
    .slice(0, 16);
}

/** Proxmox's `sshkeys` takes the URL-encoded key list (spaces as %20, one key per line). */
export function encodeSshKeys(keys: string[]): string {
  return encodeURIComponent(keys.map((k) => k.trim()).filter(Boolean).join('\n'));
}

function safeDecode(v: string): string {
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

/** `hangar-<machine>-cidata-<seed hash>.iso` (older releases wrote `hangar-<machine>-cidata.iso`). */
export function cidataIsoName(machineId: string, seedHash?: string): string {
  return `hangar-${safeId(machineId)}-cidata${seedHash ? `-${seedHash}` : ''}.iso`;
}

/** Whether a volume id or file name is one of the machine's cidata ISOs (any seed). */
export function isCidataIsoOf(machineId: string, volidOrName: string): boolean {
  const name = volidOrName.slice(volidOrName.lastIndexOf('/') + 1);
  const prefix = `hangar-${safeId(machineId)}-cidata`;
  return name.startsWith(prefix) && /^(-[0-9a-f]{16})?\.iso$/.test(name.slice(prefix.length));
}

function safeId(id: string): string {
  return id.replace(/[^A-Za-z0-9_.-]/g, '_');
}

/** Proxmox `dns-name` for VM names. */
function dnsName(name: string): string {
  const n = name.toLowerCase().replace(/[^a-z0-9.-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '');
  return n || 'hangar';
}

function isDiskKey(key: string): boolean {
  return /^(ide|sata|scsi|virtio)\d+$/.test(key);
}

function errCode(err: unknown): string | undefined {
  return err instanceof HangarError ? err.code : undefined;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------

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
  readonly #opts: ProxmoxProviderOptions;
  /** machine/template marker → vmid, verified against the VM's config before use. */
  readonly #cache = new Map<string, number>();

  /** Key for the per-node/per-template concurrency cap (clone locks are per source VM). */
  static lockKey(spec: { node?: string; template?: string }, defaultNode = 'default'): string {
    return `proxmox/${spec.node ?? defaultNode}/${spec.template ?? 'none'}`;
  }

  constructor(opts: ProxmoxProviderOptions) {
    this.#opts = opts;
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

  lockKey(spec: { node?: string; template?: string }): string {
    return ProxmoxProvider.lockKey(spec, this.node);
  }

  // ---- plumbing -------------------------------------------------------------------------------

  #sleep(ms: number): Promise<void> {
    return (this.#hooks.sleep ?? defaultSleep)(ms);
  }

  #wait(): WaitOptions {
    return { hooks: this.#hooks };
  }

  async #settle(node: string, result: unknown, timeoutMs?: number): Promise<void> {
    if (isUpid(result)) await this.client.waitForTask(upidNode(result) ?? node, result, { ...this.#wait(), timeoutMs });
  }

  #vmPath(ref: { node: string; vmid: number }, suffix = ''): string {
    return pvePath`/nodes/${ref.node}/qemu/${ref.vmid}` + suffix;
  }

  async resources(): Promise<VmRef[]> {
    const rows = await this.client.get<ClusterResource[]>('/cluster/resources', { type: 'vm' });
    return (Array.isArray(rows) ? rows : [])
      .filter((r) => (r.type ?? 'qemu') === 'qemu' && r.vmid !== undefined && r.node)
      .map((r) => ({
        vmid: Number(r.vmid),
        node: String(r.node),
        name: r.name ?? '',
        template: r.template === true || Number(r.template) === 1,
        status: r.status ?? 'unknown',
        tags: parseTags(r.tags),
        ...(r.lock ? { lock: r.lock } : {}),
      }));
  }

  async #config(ref: { node: string; vmid: number }): Promise<VmConfig> {
    return (await this.client.get<VmConfig>(this.#vmPath(ref, '/config'))) ?? {};
  }

  /** The VM behind a provider id (the VMID; `node/vmid` is accepted too), wherever it runs now. */
  async #resolve(providerId: string): Promise<VmRef | undefined> {
    const m = /^(?:([^/]+)\/)?(\d+)$/.exec(providerId.trim());
    if (!m) throw new HangarError('provider_rejected', `not a Proxmox provider id: ${JSON.stringify(providerId)}`);
    const vmid = Number(m[2]);
    return (await this.resources()).find((r) => r.vmid === vmid);
  }

  async #mustResolve(providerId: string): Promise<VmRef> {
    const ref = await this.#resolve(providerId);
    if (!ref) throw new HangarError('not_found', `Proxmox VM ${providerId} does not exist`);
    return ref;
  }

  /** Finds the VM carrying `<marker>=<id>` in its description (Hangar-tagged VMs, or one named `nameHint`). */
  async #findByMarker(marker: string, id: string, nameHint?: string): Promise<{ ref: VmRef; config: VmConfig } | undefined> {
    const all = await this.resources();
    const cacheKey = `${marker}=${id}`;
    const cached = all.find((r) => r.vmid === this.#cache.get(cacheKey));
    if (cached) {
      const config = await this.#configOrUndefined(cached);
      if (config && markerValue(String(config.description ?? ''), marker) === id) return { ref: cached, config };
    }
    const matches = await this.#scanMarker(all, marker, id, nameHint);
    if (matches.length > 1) {
      this.#logger.warn({ marker, id, vmids: matches.map((m) => m.ref.vmid) }, 'proxmox: several VMs carry the same Hangar marker; using the lowest VMID');
    }
    const found = matches[0];
    if (found) this.#cache.set(cacheKey, found.ref.vmid);
    else this.#cache.delete(cacheKey);
    return found;
  }

  /** Every VM carrying the marker, lowest VMID first. */
  async #scanMarker(all: VmRef[], marker: string, id: string, nameHint?: string): Promise<{ ref: VmRef; config: VmConfig }[]> {
    const candidates = all.filter((r) => r.tags.includes(HANGAR_TAG) || (nameHint !== undefined && r.name === nameHint));
    const matches: { ref: VmRef; config: VmConfig }[] = [];
    // Small batches keep a big cluster from being hit with hundreds of parallel GETs.
    for (let i = 0; i < candidates.length; i += 8) {
      const batch = candidates.slice(i, i + 8);
      const configs = await Promise.all(batch.map((ref) => this.#configOrUndefined(ref)));
      batch.forEach((ref, j) => {
        const config = configs[j];
        if (config && markerValue(String(config.description ?? ''), marker) === id) matches.push({ ref, config });
      });
    }
    return matches.sort((a, b) => a.ref.vmid - b.ref.vmid);
  }

  async #configOrUndefined(ref: { node: string; vmid: number }): Promise<VmConfig | undefined> {
    try {
      return await this.#config(ref);
    } catch (err) {
      if (errCode(err) === 'not_found') return undefined; // deleted since the listing
      throw err;
    }
  }

  /** Waits until the VM's config has no lock (a clone/create task still running); undefined if it vanished. */
  async #waitUnlocked(ref: VmRef, config: VmConfig): Promise<VmConfig | undefined> {
    let cfg: VmConfig | undefined = config;
    let delay = this.#opts.pollInitialMs ?? 2_000;
    const deadline = Date.now() + (this.#opts.lockWaitMs ?? 600_000);
    while (cfg?.lock) {
      if (Date.now() > deadline) {
        throw new HangarError('provider_error', `Proxmox VM ${ref.vmid} is still locked (${cfg.lock})`);
      }
      this.#hooks.onWait?.();
      await this.#sleep(delay);
      delay = Math.min(delay * 2, this.#opts.pollMaxMs ?? 30_000);
      try {
        cfg = await this.#config(ref);
      } catch (err) {
        if (errCode(err) === 'not_found') return undefined;
        throw err;
      }
    }
    return cfg;
  }

  /** Running tasks of a type (optionally about one VMID) on a node. */
  async #activeTasks(node: string, typefilter: string | undefined, vmid?: number, ownOnly = false): Promise<string[]> {
    const rows = await this.client.get<{ upid: string; user?: string }[]>(pvePath`/nodes/${node}/tasks`, {
      source: 'active', typefilter, vmid, limit: 500,
    });
    return (Array.isArray(rows) ? rows : [])
      .filter((r) => isUpid(r.upid) && (!ownOnly || r.user === undefined || r.user === this.client.tokenId))
      .map((r) => r.upid);
  }

  /** Waits for running tasks of a type (optionally about one VMID) on a node; true if there were any. */
  async #waitActiveTasks(node: string, typefilter: string | undefined, vmid?: number): Promise<boolean> {
    return this.#waitTasks(node, await this.#activeTasks(node, typefilter, vmid));
  }

  async #waitTasks(node: string, upids: string[]): Promise<boolean> {
    for (const upid of upids) {
      try {
        await this.client.waitForTask(node, upid, this.#wait());
      } catch (err) {
        // Someone else's task failing is not our failure; a broken API still is.
        if (!(err instanceof HangarError) || !['provider_task_failed', 'already_exists'].includes(err.code)) throw err;
      }
    }
    return upids.length > 0;
  }

  /**
   * The VM's config once no task of ours (or anyone's) is still changing it: a retried call
   * after a lost reply must see the effect of the first attempt, not race it.
   */
  async #settledConfig(ref: VmRef): Promise<VmConfig> {
    await this.#waitActiveTasks(ref.node, undefined, ref.vmid);
    const cfg = await this.#config(ref);
    if (!cfg.lock) return cfg;
    const unlocked = await this.#waitUnlocked(ref, cfg);
    if (!unlocked) throw new HangarError('not_found', `Proxmox VM ${ref.vmid} disappeared`);
    return unlocked;
  }

  async #nextId(): Promise<number> {
    const id = Number(await this.client.get<number | string>('/cluster/nextid'));
    if (!Number.isInteger(id) || id < 100) throw new HangarError('provider_error', `Proxmox /cluster/nextid answered ${String(id)}`);
    return id;
  }

  /**
   * Runs `make(vmid)` with a fresh VMID until Proxmox stops answering "already exists"
   * (another client took the id between nextid and our call). A requested VMID is used as-is.
   */
  async #withVmid<T>(requested: number | undefined, make: (vmid: number) => Promise<T>, onTaken: (vmid: number) => Promise<T | undefined>): Promise<T> {
    const attempts = this.#opts.vmidAttempts ?? 5;
    for (let attempt = 0; attempt < attempts; attempt++) {
      const vmid = requested ?? (await this.#nextId());
      try {
        return await make(vmid);
      } catch (err) {
        if (errCode(err) !== 'already_exists') throw err;
        const mine = await onTaken(vmid);
        if (mine !== undefined) return mine;
        if (requested !== undefined) {
          throw new HangarError('already_exists', `Proxmox VMID ${vmid} is already used by another VM`);
        }
        this.#logger.info({ vmid, attempt: attempt + 1 }, 'proxmox: VMID taken meanwhile, picking another');
      }
    }
    throw new HangarError('provider_error', `Proxmox: no free VMID after ${attempts} attempts (VMIDs keep colliding)`);
  }

  async #deleteVm(ref: VmRef): Promise<void> {
    try {
      await this.#waitActiveTasks(ref.node, undefined, ref.vmid);
      const st = await this.client.get<{ status?: string }>(this.#vmPath(ref, '/status/current'));
      if (st?.status === 'running') await this.#settle(ref.node, await this.client.post(this.#vmPath(ref, '/status/stop')));
      const upid = await this.client.delete(this.#vmPath(ref), { purge: true, 'destroy-unreferenced-disks': true }, { idempotent: true });
      await this.#settle(ref.node, upid);
    } catch (err) {
      if (errCode(err) === 'not_found') return;
      // An earlier attempt whose reply was lost may have removed it meanwhile: gone is done.
      if (err instanceof HangarError && !(await this.resources()).some((r) => r.vmid === ref.vmid)) return;
      throw err;
    }
  }

  async #listVolumes(node: string, storage: string, content: string): Promise<{ volid: string; size?: number; format?: string }[]> {
    const rows = await this.client.get<{ volid: string; size?: number; format?: string }[]>(
      pvePath`/nodes/${node}/storage/${storage}/content`,
      content ? { content } : {},
    );
    return Array.isArray(rows) ? rows : [];
  }

  async #deleteVolume(node: string, storage: string, volid: string): Promise<void> {
    try {
      await this.#settle(node, await this.client.delete(pvePath`/nodes/${node}/storage/${storage}/content/${volid}`, undefined, { idempotent: true }));
    } catch (err) {
      if (errCode(err) === 'not_found') return;
      if (err instanceof HangarError && !(await this.#listVolumes(node, storage, '')).some((v) => v.volid === volid)) return;
      throw err;
    }
  }

  async #setConfig(ref: { node: string; vmid: number }, params: Params): Promise<void> {
    if (Object.values(params).every((v) => v === undefined)) return;
    // Absolute values apply twice harmlessly; a digest-guarded write would fail its own retry.
    const idempotent = params.digest === undefined;
    await this.#settle(ref.node, await this.client.post(this.#vmPath(ref, '/config'), params, { idempotent }));
  }

  // ---- Hypervisor -----------------------------------------------------------------------------

  async create(spec: VmSpec): Promise<{ providerId: string; created: boolean }> {
    const existing = await this.#existingMachine(spec);
    if (existing) return { providerId: String(existing), created: false };
    if (!spec.template) throw new HangarError('provider_rejected', 'Proxmox create needs a template VMID');
    const templateId = Number(spec.template);
    const resources = await this.resources();
    const template = resources.find((r) => r.vmid === templateId);
    if (!Number.isInteger(templateId) || !template) throw new HangarError('not_found', `Proxmox template ${spec.template} does not exist`);
    const node = spec.node ?? this.node;
    const description = `${DESCRIPTION_HEADER}\n${MACHINE_MARKER}=${spec.machineId}`;
    const full = spec.cloneMode === undefined ? undefined : spec.cloneMode === 'full';

    const vmid = await this.#withVmid(
      spec.vmid,
      async (newid) => {
        const clone = async (asFull: boolean | undefined) => {
          const upid = await this.client.post(pvePath`/nodes/${template.node}/qemu/${templateId}/clone`, {
            newid,
            name: dnsName(spec.name),
            description,
            full: asFull,
            ...(node !== template.node ? { target: node } : {}),
            ...(asFull ? { storage: this.storage } : {}),
          });
          await this.#settle(template.node, upid);
        };
        try {
          await clone(full);
        } catch (err) {
          // No clone mode asked for: linked where the storage can, full where it cannot.
          if (full !== undefined || !(err instanceof HangarError) || !/linked clone feature is not supported/i.test(err.message)) throw err;
          this.#logger.info({ template: templateId }, 'proxmox: storage cannot do linked clones; making a full clone');
          await clone(true);
        }
        return newid;
      },
      async () => {
        // Taken by our own earlier attempt (a lost reply) counts as success.
        const mine = await this.#findByMarker(MACHINE_MARKER, spec.machineId, dnsName(spec.name));
        return mine?.ref.vmid;
      },
    );
    // Two overlapping attempts for one machine (a retry while the first still ran) may both
    // have cloned: the lowest VMID wins and the other attempt removes its own copy.
    const twins = await this.#scanMarker(await this.resources(), MACHINE_MARKER, spec.machineId, dnsName(spec.name));
    const winner = twins[0]?.ref;
    if (winner && winner.vmid !== vmid) {
      const mine = twins.find((t) => t.ref.vmid === vmid);
      this.#logger.warn({ machineId: spec.machineId, kept: winner.vmid, removed: vmid }, 'proxmox: a concurrent attempt cloned the same machine; removing the duplicate');
      if (mine) await this.#deleteVm(mine.ref);
      this.#cache.set(`${MACHINE_MARKER}=${spec.machineId}`, winner.vmid);
      return { providerId: String(winner.vmid), created: false };
    }
    this.#cache.set(`${MACHINE_MARKER}=${spec.machineId}`, vmid);
    const ref = { node, vmid };
    const cfg = await this.#config(ref);
    const tags = this.#vmTags(cfg.tags);
    if (tags !== String(cfg.tags ?? '')) await this.#setConfig(ref, { tags });
    this.#logger.info({ machineId: spec.machineId, vmid, node, template: templateId }, 'proxmox: cloned VM');
    return { providerId: String(vmid), created: true };
  }

  async #existingMachine(spec: VmSpec): Promise<number | undefined> {
    const hint = dnsName(spec.name);
    // A clone whose reply was lost may still be running: until it ends, its config holds only
    // `lock: clone` (no name, no marker). So note the running clones of this template *before*
    // looking, and if the VM is not there, wait for them and look again. Clones of one template
    // serialise on its lock anyway, so the wait costs little.
    const template = spec.template ? (await this.resources()).find((r) => r.vmid === Number(spec.template)) : undefined;
    const running = template ? await this.#activeTasks(template.node, 'qmclone', template.vmid, true) : [];
    let found = await this.#findByMarker(MACHINE_MARKER, spec.machineId, hint);
    if (!found && template && (await this.#waitTasks(template.node, running))) {
      found = await this.#findByMarker(MACHINE_MARKER, spec.machineId, hint);
    }
    if (!found) return undefined;
    // A clone task may still be running (its reply was lost): wait until it finishes or vanishes.
    const cfg = await this.#waitUnlocked(found.ref, found.config);
    if (!cfg) return undefined;
    return found.ref.vmid;
  }

  /** Hangar's tags for a machine VM (clones inherit `template` from their template). */
  #vmTags(current: string | number | undefined): string {
    const tags = parseTags(current === undefined ? undefined : String(current)).filter((t) => t !== 'template');
    if (!tags.includes(HANGAR_TAG)) tags.unshift(HANGAR_TAG);
    return tags.join(';');
  }

  async configure(providerId: string, spec: VmSpec): Promise<void> {
    const ref = await this.#mustResolve(providerId);
    const cfg = await this.#settledConfig(ref);
    const set: Params = {};
    const del: string[] = [];
    const freeFirst: string[] = [];
    const staleIsos: string[] = [];

    if (Number(cfg.cores ?? 1) !== spec.cpu) set.cores = spec.cpu;
    const mem = Number(parsePropertyString(String(cfg.memory ?? '512')).current ?? parsePropertyString(String(cfg.memory ?? '512'))._);
    if (mem !== spec.memoryMb) set.memory = spec.memoryMb;
    const tags = this.#vmTags(cfg.tags);
    if (tags !== String(cfg.tags ?? '')) set.tags = tags;

    if (spec.nics) {
      spec.nics.forEach((nic, i) => {
        const key = `net${i}`;
        const current = cfg[key] === undefined ? undefined : parsePropertyString(String(cfg[key]));
        const currentMac = current ? (current.virtio ?? current.macaddr) : undefined;
        const mac = nic.mac ?? currentMac;
        const bridge = nic.bridge ?? this.bridge;
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
      const freeIde = (taken: string[]) =>
        ['ide2', 'ide0', 'ide1', 'ide3'].find((k) => cfg[k] === undefined || taken.includes(k));

      if (ci.mode === 'native') {
        // Our ISO and a Proxmox cloud-init drive would be two `cidata` sources: drop the ISO.
        freeFirst.push(...isoSlots);
        if (cloudinitSlots.length === 0) {
          const slot = freeIde(isoSlots);
          if (!slot) throw new HangarError('provider_rejected', `Proxmox VM ${ref.vmid} has no free IDE slot for a cloud-init drive`);
          set[slot] = `${this.storage}:cloudinit`;
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
        staleIsos.push(...(await this.#cidataIsos(ref.node, spec.machineId)));
      } else {
        // The ISO's name carries a hash of the seed it was built from: an unchanged seed costs
        // one listing, a changed one gets a new image, and a step retried after any failure
        // (even a lost upload reply) can tell at once whether its upload landed.
        const isoVolid = `${this.isoStorage}:iso/${cidataIsoName(spec.machineId, cidataHash(ci))}`;
        const ours = await this.#cidataIsos(ref.node, spec.machineId);
        if (!ours.includes(isoVolid)) await this.#uploadCidataIso(ref.node, isoVolid, ci);
        staleIsos.push(...ours.filter((v) => v !== isoVolid));
        freeFirst.push(...cloudinitSlots);
        const attached = isoSlots.find((k) => volumeOf(String(cfg[k])) === isoVolid);
        if (!attached) {
          // Swapping the CD-ROM's medium in place; the old image is deleted once unreferenced.
          const slot = isoSlots[0] ?? freeIde(cloudinitSlots);
          if (!slot) throw new HangarError('provider_rejected', `Proxmox VM ${ref.vmid} has no free IDE slot for the cidata ISO`);
          set[slot] = `${isoVolid},media=cdrom`;
        }
        del.push(...isoSlots.filter((k) => k !== (attached ?? isoSlots[0])));
      }
      if (ci.seedUrl) {
        const wanted = smbiosWithSeed(cfg.smbios1 === undefined ? undefined : String(cfg.smbios1), ci.seedUrl);
        if (cfg.smbios1 === undefined || !sameProperties(String(cfg.smbios1), wanted)) set.smbios1 = wanted;
      }
    }

    const digest = typeof cfg.digest === 'string' ? cfg.digest : undefined;
    if (freeFirst.length > 0) {
      await this.#setConfig(ref, { delete: freeFirst.join(','), digest });
    }
    const changes = Object.keys(set).length + del.length;
    if (changes > 0) {
      await this.#setConfig(ref, { ...set, ...(del.length ? { delete: del.join(',') } : {}), ...(freeFirst.length ? {} : { digest }) });
    }

    // Superseded seed images go only after no drive refers to them any more.
    for (const volid of staleIsos) await this.#deleteVolume(ref.node, this.isoStorage, volid);

    await this.#growRootDisk(ref, cfg, spec.diskGb);
    this.#logger.debug({ vmid: ref.vmid, changed: Object.keys(set), deleted: [...freeFirst, ...del] }, 'proxmox: configured VM');
  }

  async #growRootDisk(ref: VmRef, cfg: VmConfig, diskGb: number): Promise<void> {
    const order = /order=([^,]+)/.exec(String(cfg.boot ?? ''))?.[1]?.split(';') ?? [];
    const root =
      order.find((k) => isDiskKey(k) && cfg[k] !== undefined && !String(cfg[k]).includes('media=cdrom')) ??
      (cfg.scsi0 !== undefined ? 'scsi0' : Object.keys(cfg).find((k) => isDiskKey(k) && !String(cfg[k]).includes('media=cdrom')));
    if (!root || cfg[root] === undefined) {
      throw new HangarError('provider_rejected', `Proxmox VM ${ref.vmid} has no root disk to size`);
    }
    const current = parseSize(parsePropertyString(String(cfg[root])).size);
    const wanted = diskGb * 1024 ** 3;
    if (current !== undefined && current >= wanted) {
      if (current > wanted) {
        this.#logger.warn({ vmid: ref.vmid, disk: root, currentBytes: current, wantedGb: diskGb }, 'proxmox: disk is larger than requested; disks never shrink');
      }
      return;
    }
    // An absolute size (never `+NG`) makes a repeated resize a no-op.
    const upid = await this.client.put(this.#vmPath(ref, '/resize'), { disk: root, size: `${diskGb}G` }, { idempotent: true });
    await this.#settle(ref.node, upid);
  }

  /** The machine's cidata ISOs in ISO storage (volids), whatever seed they were built from. */
  async #cidataIsos(node: string, machineId: string): Promise<string[]> {
    return (await this.#listVolumes(node, this.isoStorage, 'iso'))
      .map((v) => v.volid)
      .filter((volid) => volid.startsWith(`${this.isoStorage}:`) && isCidataIsoOf(machineId, volid));
  }

  /** Builds the cidata ISO and uploads it under `volid`'s file name. */
  async #uploadCidataIso(node: string, volid: string, ci: NonNullable<VmSpec['cloudInit']>): Promise<void> {
    const name = volid.slice(volid.lastIndexOf('/') + 1);
    const dir = await mkdtemp(join(this.#opts.tmpDir ?? tmpdir(), 'hangar-pve-'));
    try {
      const path = join(dir, name);
      const files: Record<string, string> = { 'meta-data': ci.metaData, 'user-data': ci.userData };
      if (ci.networkConfig) files['network-config'] = ci.networkConfig;
      await writeCidataIso(path, files, this.#opts.isoTool ? { tool: this.#opts.isoTool } : {});
      this.#hooks.onWait?.();
      const upid = await this.client.upload(node, this.isoStorage, { content: 'iso', filename: name, path });
      await this.#settle(node, upid);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async start(providerId: string): Promise<void> {
    const ref = await this.#mustResolve(providerId);
    await this.#waitActiveTasks(ref.node, undefined, ref.vmid);
    const current = () => this.client.get<{ status?: string; qmpstatus?: string }>(this.#vmPath(ref, '/status/current'));
    if ((await current())?.status === 'running') return;
    try {
      await this.#settle(ref.node, await this.client.post(this.#vmPath(ref, '/status/start')));
    } catch (err) {
      // "already running": an earlier attempt whose reply was lost got there first.
      if (errCode(err) === 'provider_task_failed' && (await current())?.status === 'running') return;
      throw err;
    }
  }

  async stop(providerId: string): Promise<void> {
    const ref = await this.#resolve(providerId);
    if (!ref) return;
    await this.#waitActiveTasks(ref.node, undefined, ref.vmid);
    const st = await this.client.get<{ status?: string }>(this.#vmPath(ref, '/status/current'));
    if (st?.status !== 'running') return;
    await this.#settle(ref.node, await this.client.post(this.#vmPath(ref, '/status/stop')));
  }

  async shutdown(providerId: string, timeoutSec: number): Promise<void> {
    const ref = await this.#resolve(providerId);
    if (!ref) return;
    await this.#waitActiveTasks(ref.node, undefined, ref.vmid);
    const current = () => this.client.get<{ status?: string }>(this.#vmPath(ref, '/status/current'));
    if ((await current())?.status !== 'running') return;
    const timeout = Math.max(0, Math.floor(timeoutSec));
    try {
      const upid = await this.client.post(this.#vmPath(ref, '/status/shutdown'), { timeout });
      await this.#settle(ref.node, upid, timeout * 1000 + 60_000);
    } catch (err) {
      // A guest that ignores ACPI makes the shutdown task fail at its timeout: fall back to stop.
      if (errCode(err) !== 'provider_task_failed') throw err;
      this.#logger.info({ vmid: ref.vmid, err: (err as Error).message }, 'proxmox: graceful shutdown failed; stopping');
    }
    if ((await current())?.status === 'running') {
      await this.#settle(ref.node, await this.client.post(this.#vmPath(ref, '/status/stop')));
    }
  }

  async delete(machineId: string): Promise<{ deleted: boolean }> {
    const found = await this.#findByMarker(MACHINE_MARKER, machineId);
    let node = this.node;
    if (found) {
      node = found.ref.node;
      if (found.config.lock) await this.#waitUnlocked(found.ref, found.config);
      await this.#deleteVm(found.ref);
      this.#cache.delete(`${MACHINE_MARKER}=${machineId}`);
      this.#logger.info({ machineId, vmid: found.ref.vmid }, 'proxmox: deleted VM');
    }
    // Always look for ISOs: a retry after a crash between the two steps still cleans them up.
    for (const volid of await this.#cidataIsos(node, machineId)) await this.#deleteVolume(node, this.isoStorage, volid);
    return { deleted: found !== undefined };
  }

  async status(machineId: string): Promise<VmStatus> {
    const found = await this.#findByMarker(MACHINE_MARKER, machineId);
    if (!found) return { providerId: null, powerState: 'absent' };
    try {
      const st = await this.client.get<{ status?: string; qmpstatus?: string }>(this.#vmPath(found.ref, '/status/current'));
      return { providerId: String(found.ref.vmid), powerState: powerState(st?.status, st?.qmpstatus) };
    } catch (err) {
      if (errCode(err) === 'not_found') return { providerId: null, powerState: 'absent' };
      throw err;
    }
  }

  async list(): Promise<VmSummary[]> {
    const vms = (await this.resources()).filter((r) => !r.template && r.tags.includes(HANGAR_TAG));
    const out: VmSummary[] = [];
    for (let i = 0; i < vms.length; i += 8) {
      const batch = vms.slice(i, i + 8);
      const configs = await Promise.all(batch.map((r) => this.#config(r).catch((err: unknown) => (errCode(err) === 'not_found' ? undefined : Promise.reject(err)))));
      batch.forEach((r, j) => {
        const cfg = configs[j];
        if (!cfg) return;
        out.push({
          providerId: String(r.vmid),
          machineId: markerValue(String(cfg.description ?? ''), MACHINE_MARKER) ?? null,
          name: r.name,
          powerState: powerState(r.status),
        });
      });
    }
    return out;
  }

  async attachDisk(providerId: string, disk: DiskSpec): Promise<AttachedDisk> {
    const ref = await this.#mustResolve(providerId);
    const cfg = await this.#settledConfig(ref);
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
    const storage = disk.storage ?? this.storage;
    // Disk and marker in one config write: a retry either sees both or neither.
    await this.#setConfig(ref, {
      [slot]: `${storage}:${disk.sizeGb}`,
      description: withDiskMarker(String(cfg.description ?? ''), disk.diskId, slot),
      ...(typeof cfg.digest === 'string' ? { digest: cfg.digest } : {}),
    });
    const after = await this.#config(ref);
    const value = after[slot];
    if (value === undefined) {
      throw new HangarError('provider_error', `Proxmox VM ${ref.vmid}: ${slot} is not in the config after attaching (pending hot-plug?)`);
    }
    return { diskId: disk.diskId, slot, volume: volumeOf(String(value)) };
  }

  async detachDisk(providerId: string, diskId: string): Promise<{ detached: boolean }> {
    const ref = await this.#resolve(providerId);
    if (!ref) return { detached: false };
    const cfg = await this.#settledConfig(ref);
    const slot = diskMarkers(String(cfg.description ?? '')).get(diskId);
    if (!slot) return { detached: false };
    if (cfg[slot] !== undefined) {
      await this.client.put(this.#vmPath(ref, '/unlink'), { idlist: slot, force: true });
    }
    const after = await this.#config(ref);
    await this.#setConfig(ref, { description: withDiskMarker(String(after.description ?? ''), diskId, null) });
    return { detached: true };
  }

  async importTemplate(spec: TemplateSpec): Promise<TemplateRef> {
    const name = dnsName(spec.name);
    const node0 = spec.node ?? this.node;
    // A create whose reply was lost may still be running (its config holds only `lock: create`):
    // note running creates before looking; if the template is not there, wait and look again.
    const running = await this.#activeTasks(node0, 'qmcreate', undefined, true);
    let found = await this.#findByMarker(TEMPLATE_MARKER, spec.templateId, name);
    if (!found && (await this.#waitTasks(node0, running))) {
      found = await this.#findByMarker(TEMPLATE_MARKER, spec.templateId, name);
    }
    if (found) {
      const cfg = await this.#settledConfig(found.ref).catch((err: unknown) => {
        if (errCode(err) === 'not_found') return undefined;
        throw err;
      });
      if (cfg) {
        if (Number(cfg.template ?? 0) === 1) return { ref: String(found.ref.vmid), created: false };
        if (cfg.scsi0 !== undefined && !String(cfg.scsi0).includes('import-from')) {
          // Half-made: the import finished but the conversion did not. Finish it.
          await this.#toTemplate(found.ref);
          return { ref: String(found.ref.vmid), created: true };
        }
        this.#logger.warn({ templateId: spec.templateId, vmid: found.ref.vmid }, 'proxmox: removing a half-made template VM');
        await this.#deleteVm(found.ref);
      }
    }

    const node = spec.node ?? this.node;
    const storage = spec.storage ?? this.storage;
    const volid = await this.#ensureImage(node, spec);
    const description = `${DESCRIPTION_HEADER}\n${TEMPLATE_MARKER}=${spec.templateId}`;
    const vmid = await this.#withVmid(
      spec.vmid,
      async (id) => {
        const upid = await this.client.post(pvePath`/nodes/${node}/qemu`, {
          vmid: id,
          name,
          description,
          tags: `${HANGAR_TAG};template`,
          cores: spec.cpu,
          memory: spec.memoryMb,
          scsihw: 'virtio-scsi-pci',
          scsi0: `${storage}:0,import-from=${volid}`,
          boot: 'order=scsi0',
          ide2: `${storage}:cloudinit`,
          serial0: 'socket',
          vga: 'serial0',
          net0: `virtio,bridge=${this.bridge}`,
        });
        await this.#settle(node, upid);
        return id;
      },
      async () => (await this.#findByMarker(TEMPLATE_MARKER, spec.templateId, name))?.ref.vmid,
    );
    await this.#toTemplate({ node, vmid });
    this.#cache.set(`${TEMPLATE_MARKER}=${spec.templateId}`, vmid);
    this.#logger.info({ templateId: spec.templateId, vmid, node }, 'proxmox: imported template');
    return { ref: String(vmid), created: true };
  }

  async #toTemplate(ref: { node: string; vmid: number }): Promise<void> {
    const isTemplate = async () => Number((await this.#config(ref)).template ?? 0) === 1;
    if (await isTemplate()) return;
    try {
      await this.#settle(ref.node, await this.client.post(this.#vmPath(ref, '/template')));
    } catch (err) {
      // "can't convert a template to a template": a lost reply's first attempt finished it.
      if (errCode(err) === 'provider_task_failed' && (await isTemplate())) return;
      throw err;
    }
  }

  /** Puts the template image into import storage (upload or download-url); returns its volume id. */
  async #ensureImage(node: string, spec: TemplateSpec): Promise<string> {
    const image = spec.image;
    const expected = spec.checksum ? /^sha256:([0-9a-f]{64})$/i.exec(spec.checksum)?.[1]?.toLowerCase() : undefined;
    if (spec.checksum && !expected) throw new HangarError('provider_rejected', 'template checksum must be sha256:<64 hex digits>');
    const isUrl = /^https?:\/\//i.test(image);
    const isVolume = !isUrl && /^[A-Za-z][A-Za-z0-9_.-]*:(?!\/)/.test(image);
    if (isVolume) return image;

    const format = isUrl ? formatFromName(image) : await sniffFormat(image);
    const filename = `hangar-template-${safeId(spec.templateId)}.${format}`;
    const volid = `${this.importStorage}:import/${filename}`;
    const present = (await this.#listVolumes(node, this.importStorage, 'import')).find((v) => v.volid === volid);

    if (isUrl) {
      if (present) return volid;
      const upid = await this.client.post(pvePath`/nodes/${node}/storage/${this.importStorage}/download-url`, {
        content: 'import',
        filename,
        url: image,
        ...(expected ? { checksum: expected, 'checksum-algorithm': 'sha256' } : {}),
      });
      await this.#settle(node, upid);
      return volid;
    }

    const size = (await stat(image).catch(() => {
      throw new HangarError('provider_rejected', `template image ${image} is not readable`);
    })).size;
    if (expected) {
      const actual = await sha256File(image, this.#hooks);
      if (actual !== expected) {
        throw new HangarError('provider_rejected', `template image ${basename(image)} has sha256 ${actual}, expected ${expected}`);
      }
    }
    if (present && Number(present.size) === size) return volid;
    if (present) await this.#deleteVolume(node, this.importStorage, volid);
    this.#hooks.onWait?.();
    const upid = await this.client.upload(node, this.importStorage, {
      content: 'import',
      filename,
      path: image,
      ...(expected ? { sha256: expected } : {}),
    });
    await this.#settle(node, upid);
    return volid;
  }

  async deleteTemplate(templateId: string): Promise<{ deleted: boolean }> {
    const found = await this.#findByMarker(TEMPLATE_MARKER, templateId);
    let node = this.node;
    if (found) {
      node = found.ref.node;
      if (found.config.lock) await this.#waitUnlocked(found.ref, found.config);
      await this.#deleteVm(found.ref);
      this.#cache.delete(`${TEMPLATE_MARKER}=${templateId}`);
    }
    const prefix = `${this.importStorage}:import/hangar-template-${safeId(templateId)}.`;
    for (const v of await this.#listVolumes(node, this.importStorage, 'import')) {
      if (v.volid.startsWith(prefix)) await this.#deleteVolume(node, this.importStorage, v.volid);
    }
    return { deleted: found !== undefined };
  }
}

// ---------------------------------------------------------------------------------------------

function powerState(status: string | undefined, qmpstatus?: string): PowerState {
  if (status === 'running') return qmpstatus === 'paused' || qmpstatus === 'suspended' ? 'paused' : 'running';
  if (status === 'stopped') return 'stopped';
  return 'stopped';
}

function volumeOf(driveValue: string): string {
  return parsePropertyString(driveValue)._ ?? parsePropertyString(driveValue).file ?? driveValue;
}

function sameProperties(a: string, b: string): boolean {
  const pa = parsePropertyString(a);
  const pb = parsePropertyString(b);
  const keys = new Set([...Object.keys(pa), ...Object.keys(pb)]);
  return [...keys].every((k) => pa[k] === pb[k]);
}

function formatFromName(name: string): 'qcow2' | 'raw' | 'vmdk' {
  const lower = name.toLowerCase().split('?')[0] ?? '';
  if (lower.endsWith('.raw')) return 'raw';
  if (lower.endsWith('.vmdk')) return 'vmdk';
  return 'qcow2'; // cloud images (`.img`, `.qcow2`) are qcow2
}

/** qcow2 by its magic (`QFI\xfb`), vmdk by `KDMV`, else by name, else raw. */
async function sniffFormat(path: string): Promise<'qcow2' | 'raw' | 'vmdk'> {
  const fh = await open(path, 'r').catch(() => {
    throw new HangarError('provider_rejected', `template image ${path} is not readable`);
  });
  try {
    const buf = Buffer.alloc(4);
    await fh.read(buf, 0, 4, 0);
    if (buf.equals(Buffer.from([0x51, 0x46, 0x49, 0xfb]))) return 'qcow2';
    if (buf.toString('latin1') === 'KDMV') return 'vmdk';
    const byName = formatFromName(path);
    return byName === 'qcow2' ? 'raw' : byName;
  } finally {
    await fh.close();
  }
}

async function sha256File(path: string, hooks: ProviderHooks): Promise<string> {
  const hash = createHash('sha256');
  let n = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    if (++n % 256 === 0) hooks.onWait?.();
  }
  return hash.digest('hex');
}
