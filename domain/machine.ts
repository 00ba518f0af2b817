// Machine vocabulary and request schemas shared by the API, the CLI and the workflows.
import { z } from 'zod';
import { DRIFT_POLICIES } from './drift.ts';
import { safeJson, safeRef, safeText } from './text.ts';

export const MACHINE_STATES = ['pending', 'provisioning', 'ready', 'failed', 'deprovisioning', 'deleted'] as const;
export type MachineState = (typeof MACHINE_STATES)[number];

export const PROVIDERS = ['dryrun', 'qemu', 'proxmox', 'redfish'] as const;
export type ProviderName = (typeof PROVIDERS)[number];

// RFC 1123 host label: what a machine's hostname will be.
const hostname = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'must be a lowercase hostname label (a-z, 0-9, "-", not at either end)');

const dnsDomain = z
  .string()
  .max(253)
  .regex(/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/, 'must be a lowercase DNS domain');
// cloud-config merged into the machine's user-data (see domain/cloud-init.ts for what it may not override).
const userDataExtras = safeJson(64 * 1024);

/** Fields a user may change after creation (inventory only; nothing re-provisions). */
export const machineMutableSchema = z.strictObject({
  ssh_key_ids: z.array(z.uuid()).max(100).optional(),
  network_id: z.uuid().nullable().optional(),
  domain: dnsDomain.nullable().optional(),
  user_data_extras: userDataExtras.nullable().optional(),
  // The observers' policy for this machine; null follows its provider's (drift.<provider>Policy).
  drift_policy: z.enum(DRIFT_POLICIES).nullable().optional(),
});

// Proxmox accepts VMIDs 100–999999999; Linux interface names are at most 15 characters.
export const vmidSchema = z.number().int().min(100, 'must be 100–999999999').max(999_999_999, 'must be 100–999999999');
export const bridgeSchema = z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]{0,14}$/, 'must be a bridge name (letter first, at most 15 of A-Z a-z 0-9 _ . -)');
export const macSchema = z
  .string()
  .regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/, 'must be a MAC address aa:bb:cc:dd:ee:ff')
  .refine((m) => (parseInt(m.slice(0, 2), 16) & 1) === 0, 'must be a unicast MAC (first octet even)');
export const nodeNameSchema = z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/, 'must be a node name');
export const diskGbSchema = z
  .number()
  .int()
  .min(1, 'must be at least 1 GiB')
  .max(64 * 1024, 'must be at most 65536 GiB');
export const memoryMbSchema = z
  .number()
  .int()
  .min(64, 'must be at least 64 MiB')
  .max(16 * 1024 * 1024, 'must be at most 16 TiB');
export const cpuSchema = z.number().int().min(1, 'must be at least 1').max(512, 'must be at most 512');

export const createMachineSchema = z.strictObject({
  name: hostname,
  provider: z.enum(['dryrun', 'qemu', 'proxmox']),
  cpu: cpuSchema,
  memory_mb: memoryMbSchema,
  disk_gb: diskGbSchema,
  /** Template name or id (required for qemu and proxmox). */
  template: safeRef.optional(),
  node: nodeNameSchema.optional(),
  vmid: vmidSchema.optional(),
  clone_mode: z.enum(['full', 'linked']).optional(),
  cloud_init_mode: z.enum(['iso', 'native']).optional(),
  mac: macSchema.optional(),
  bridge: bridgeSchema.optional(),
  vlan: z.number().int().min(1).max(4094).optional(),
  // Hold provisioning until the machine's cloud-init phones home (default: yes for qemu and proxmox).
  wait_for_phone_home: z.boolean().optional(),
  ...machineMutableSchema.shape,
});
export type CreateMachineRequest = z.infer<typeof createMachineSchema>;

/** What the provisioning workflow needs to know; never secrets (the seed is rendered inside the activity). */
export interface MachineSpec {
  machineId: string;
  name: string;
  provider: ProviderName;
  cpu: number;
  memoryMb: number;
  diskGb: number;
  /** Wait for the phone-home signal after start, up to this duration (e.g. '15m'); absent: no wait. */
  phoneHomeTimeout?: string;
  /** The provider's template reference (Proxmox template VMID, QEMU template name). */
  template?: string;
  node?: string;
  vmid?: number;
  cloneMode?: 'full' | 'linked';
  cloudInitMode?: 'iso' | 'native';
  /** Reserve a lease in this network before creating the VM (released again if provisioning fails). */
  networkId?: string;
  mac?: string;
  bridge?: string;
  vlan?: number;
  /** Task queue for the clone step (per provider and node, capped by the worker serving it). */
  cloneQueue?: string;
}

/** The queue a provider's clones run on: one per Proxmox node, so a worker can cap them per node. */
export const cloneQueueFor = (baseQueue: string, provider: ProviderName, node: string | undefined): string | undefined =>
  provider === 'proxmox' ? `${baseQueue}.proxmox.${node ?? 'default'}` : undefined;

export const POWER_ACTIONS = ['start', 'stop', 'restart'] as const;
export type PowerAction = (typeof POWER_ACTIONS)[number];

export interface PowerInput {
  machineId: string;
  provider: ProviderName;
  providerId: string;
  action: PowerAction;
  /** Graceful shutdown timeout before a hard stop. */
  shutdownTimeoutSec: number;
}

export interface DiskInput {
  machineId: string;
  provider: ProviderName;
  providerId: string;
  diskId: string;
  sizeGb: number;
  storage?: string;
}

export const createDiskSchema = z.strictObject({
  size_gb: diskGbSchema,
  storage: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/, 'must be a storage id')
    .optional(),
});

export const createTemplateSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$/, 'must be lowercase letters, digits, ".", "_" or "-" (at most 63)'),
  provider: z.enum(['dryrun', 'qemu', 'proxmox', 'redfish']),
  /**
   * A local path (absolute) to a qcow2 image or image folder, or an http(s) URL Proxmox downloads
   * from; for redfish (bare metal) the installer or live image URL the BMC mounts as virtual media.
   */
  image: safeText(2048, 1).refine(
    (v) => v.startsWith('/') || /^(https?|nfs|cifs|smb):\/\/[^\s]+$/i.test(v),
    'must be an absolute path or a URL (http, https; nfs, cifs, smb for redfish)',
  ),
  checksum: z
    .string()
    .regex(/^sha256:[0-9a-f]{64}$/, 'must be sha256:<64 hex digits>')
    .optional(),
  node: nodeNameSchema.optional(),
  storage: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/, 'must be a storage id')
    .optional(),
  vmid: vmidSchema.optional(),
  cpu: cpuSchema.optional(),
  memory_mb: memoryMbSchema.optional(),
});
export type CreateTemplateRequest = z.infer<typeof createTemplateSchema>;

export interface TemplateInput {
  templateId: string;
  name: string;
  provider: ProviderName;
  image: string;
  checksum?: string;
  node?: string;
  storage?: string;
  vmid?: number;
  cpu?: number;
  memoryMb?: number;
}
