// What every VM provider implements. Each call is idempotent: creating what exists returns it,
// deleting what is gone succeeds, so a retried or replayed activity never doubles a side effect.
// Providers never import Temporal; long waits call `ProviderHooks.onWait` so activities can heartbeat.
import type { ProviderName } from '../domain/machine.ts';

export interface NicSpec {
  /** Host bridge (Proxmox `vmbr0`, a Linux bridge for QEMU); absent: the provider's default network. */
  bridge?: string;
  vlan?: number;
  /** Lower-case colon form, e.g. `52:54:00:12:34:56`; absent: the provider picks one. */
  mac?: string;
}

/** The NoCloud seed documents, rendered by Hangar's domain layer. */
export interface CloudInitSeed {
  /**
   * `iso`: a cidata ISO with these documents is attached as a CD-ROM (deleted with the VM).
   * `native`: Proxmox's own cloud-init drive fields (Proxmox only; QEMU always uses the ISO).
   */
  mode: 'iso' | 'native';
  metaData: string;
  userData: string;
  networkConfig?: string;
  /** NoCloud URL (`http://<api>/cloud-init/<id>/<token>/`), passed by SMBIOS where supported. */
  seedUrl?: string;
  /** Values for `native` mode (Proxmox `ciuser`, `sshkeys`, `ipconfig0`, `nameserver`, `searchdomain`). */
  native?: {
    user?: string;
    sshKeys: string[];
    /** e.g. `ip=10.0.0.5/24,gw=10.0.0.1` or `ip=dhcp`. */
    ipconfig0?: string;
    nameservers?: string[];
    searchDomains?: string[];
  };
}

export interface VmSpec {
  machineId: string;
  name: string;
  cpu: number;
  memoryMb: number;
  diskGb: number;
  /** The provider's template reference (Proxmox template VMID, QEMU template name). */
  template?: string;
  /** Proxmox: full or linked clone (default linked when the storage allows it). */
  cloneMode?: 'full' | 'linked';
  /** Proxmox node to place the VM on. */
  node?: string;
  /** Requested VMID; absent: the provider picks a free one. */
  vmid?: number;
  nics?: NicSpec[];
  cloudInit?: CloudInitSeed;
}

export type PowerState = 'running' | 'stopped' | 'paused' | 'absent';

export interface VmStatus {
  providerId: string | null;
  powerState: PowerState;
}

/** Recorded on the machine (`access`) when a VM starts: snake_case, as the API shows it. */
export interface VmAccess {
  ssh_host?: string;
  ssh_port?: number;
  accel?: string;
  accel_reason?: string;
  cpu_model?: string;
  started_at?: string;
}

export interface VmSummary {
  providerId: string;
  /** The Hangar machine this VM belongs to, when it carries Hangar's marker. */
  machineId: string | null;
  name: string;
  powerState: PowerState;
}

/** One VM as the observer sees it. */
export interface ObservedVm extends VmSummary {
  /** Settings the provider can report back; a key left out is not compared. */
  config?: { cpu?: number; memory_mb?: number; disk_gb?: number; nics?: number };
  /** Where the provider keeps it (Proxmox node, QEMU host name). */
  location?: string;
  /** QEMU: the instance's overlay disk is gone while its folder remains. */
  diskMissing?: boolean;
}

/** Something Hangar made that no VM uses (a cidata ISO, a marked disk, a marked instance folder). */
export interface Leftover {
  kind: 'iso' | 'disk' | 'instance';
  /** Provider reference to delete it by (Proxmox `<node>/<volume id>`, QEMU folder path). */
  ref: string;
  name: string;
  /** The Hangar machine it was made for, when its marker says so. */
  machineId: string | null;
}

export interface VmInventory {
  vms: ObservedVm[];
  leftovers: Leftover[];
  /** Human-readable names of what failed to list (`node pve2: 500 …`); empty means complete. */
  failures: string[];
}

export interface InventoryOptions extends CallOptions {
  onPage?: () => void;
}

export interface DiskSpec {
  /** Stable id chosen by Hangar (the disk record's id); lets a retried attach find its disk. */
  diskId: string;
  sizeGb: number;
  /** Proxmox storage; absent: the provider's default. */
  storage?: string;
}

export interface AttachedDisk {
  diskId: string;
  /** Where the provider put it: `scsi1` (Proxmox), a QMP device id (QEMU). */
  slot: string;
  /** Volume id (Proxmox) or file path (QEMU). */
  volume: string;
}

export interface TemplateSpec {
  /** Hangar's template record id, used to find a half-made template again. */
  templateId: string;
  name: string;
  /** Local path of a qcow2/raw image (QEMU) or a URL / storage volume Proxmox can import from. */
  image: string;
  /** Expected `sha256:<hex>` of the image, verified before import when given. */
  checksum?: string;
  node?: string;
  storage?: string;
  vmid?: number;
  cpu?: number;
  memoryMb?: number;
}

export interface TemplateRef {
  /** What `VmSpec.template` takes to clone from it (VMID for Proxmox, the name for QEMU). */
  ref: string;
  created: boolean;
}

export interface Hypervisor {
  readonly name: ProviderName;
  /** Creates (clones) the VM for this machine, or returns the one that already exists. */
  create(spec: VmSpec, opts?: CallOptions): Promise<{ providerId: string; created: boolean }>;
  /** Applies cpu/memory/disk size/NICs and attaches the cloud-init seed; re-applying is a no-op. */
  configure(providerId: string, spec: VmSpec, opts?: CallOptions): Promise<void>;
  start(providerId: string, opts?: CallOptions): Promise<void>;
  /** Graceful shutdown (ACPI); falls back to a hard stop after `timeoutSec`. */
  shutdown(providerId: string, timeoutSec: number, opts?: CallOptions): Promise<void>;
  /** Hard stop; stopping a stopped VM succeeds. */
  stop(providerId: string, opts?: CallOptions): Promise<void>;
  /** Deletes the machine's VM, its cloud-init ISO and disks no other VM references; "already gone" is success. */
  delete(machineId: string, opts?: CallOptions): Promise<{ deleted: boolean }>;
  status(machineId: string, opts?: CallOptions): Promise<VmStatus>;
  /**
   * How to reach a running VM and how it runs, as the machine's `access` shows it (e.g. QEMU's
   * forwarded SSH port and accelerator with the reason); providers without such details leave it out.
   */
  access?(providerId: string): Promise<VmAccess | null>;
  /** Every VM this provider manages (for reconciliation). */
  list(opts?: CallOptions): Promise<VmSummary[]>;
  /**
   * Everything the observer compares with the database: every VM (managed or not, with the
   * settings the provider can report), Hangar-made leftovers no VM uses, and what could not be
   * listed. A failure to list one node or page goes into `failures` (the scan is then partial)
   * instead of failing the whole call; `onPage` is called per node/page so activities heartbeat.
   */
  inventory(opts?: InventoryOptions): Promise<VmInventory>;
  /** Deletes one Hangar-made leftover from `inventory().leftovers`; "already gone" is success. Never touches a VM. */
  deleteLeftover(leftover: Leftover, opts?: CallOptions): Promise<{ deleted: boolean }>;
  /**
   * Adopts a VM Hangar did not create as the machine's VM by writing Hangar's marker onto it, and
   * nothing else; already marked for this machine is success. Providers that cannot adopt leave it out.
   */
  adopt?(providerId: string, machineId: string, opts?: CallOptions): Promise<{ marked: boolean }>;
  /** Attaches a new disk (hot-plug when running); attaching the same diskId again returns it. */
  attachDisk(providerId: string, disk: DiskSpec, opts?: CallOptions): Promise<AttachedDisk>;
  /** Detaches and deletes the disk; a disk already gone is success. */
  detachDisk(providerId: string, diskId: string, opts?: CallOptions): Promise<{ detached: boolean }>;
  /** Imports an image as a template, or returns the template that already exists for templateId. */
  importTemplate(spec: TemplateSpec, opts?: CallOptions): Promise<TemplateRef>;
  /** Deletes a template (and its image); "already gone" is success. */
  deleteTemplate(templateId: string, opts?: CallOptions): Promise<{ deleted: boolean }>;
}

/** Injected into providers by the worker. */
export interface ProviderHooks {
  /** Called at least every few seconds while a provider waits (task polling, shutdown). */
  onWait?: () => void;
  /** Sleep implementation (tests may shorten waits); must reject when `signal` aborts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Clock for poll schedules (tests pair it with `sleep`); default Date.now. */
  now?: () => number;
}

/**
 * Per-call options every provider method takes last. `signal` is the activity's cancellation:
 * providers hand it to HTTP requests, child processes, task polls and sleeps, and make sure that
 * what the call started is finished or undone before they give up (see each provider).
 */
export interface CallOptions {
  signal?: AbortSignal;
}
