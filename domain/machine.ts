// Machine vocabulary and request schemas shared by the API, the CLI and the workflows.
import { z } from 'zod';

export const MACHINE_STATES = [
  'pending', 'provisioning', 'ready', 'failed', 'deprovisioning', 'deleted',
] as const;
export type MachineState = (typeof MACHINE_STATES)[number];

export const PROVIDERS = ['dryrun', 'qemu', 'proxmox', 'redfish'] as const;
export type ProviderName = (typeof PROVIDERS)[number];

// RFC 1123 host label: what a machine's hostname will be.
const hostname = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'must be a lowercase hostname label (a-z, 0-9, "-", not at either end)');

const dnsDomain = z.string().max(253).regex(/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/, 'must be a lowercase DNS domain');
// cloud-config merged into the machine's user-data (see domain/cloud-init.ts for what it may not override).
const userDataExtras = z.record(z.string(), z.unknown()).refine((v) => JSON.stringify(v).length <= 64 * 1024, 'must be at most 64 KiB');

/** Fields a user may change after creation (inventory only; nothing re-provisions). */
export const machineMutableSchema = z.strictObject({
  ssh_key_ids: z.array(z.uuid()).max(100).optional(),
  network_id: z.uuid().nullable().optional(),
  domain: dnsDomain.nullable().optional(),
  user_data_extras: userDataExtras.nullable().optional(),
});

export const createMachineSchema = z.strictObject({
  name: hostname,
  provider: z.enum(['dryrun']),
  cpu: z.number().int().min(1).max(512),
  memory_mb: z.number().int().min(64).max(16 * 1024 * 1024),
  disk_gb: z.number().int().min(1).max(64 * 1024),
  // Hold provisioning until the machine's cloud-init phones home (real machines always do).
  wait_for_phone_home: z.boolean().optional(),
  ...machineMutableSchema.shape,
});
export type CreateMachineRequest = z.infer<typeof createMachineSchema>;

/** What the provisioning workflow needs to know; never secrets. */
export interface MachineSpec {
  machineId: string;
  name: string;
  provider: ProviderName;
  cpu: number;
  memoryMb: number;
  diskGb: number;
  /** Wait for the phone-home signal after start, up to this duration (e.g. '15m'); absent: no wait. */
  phoneHomeTimeout?: string;
}

export const provisionWorkflowId = (machineId: string) => `provision-vm/${machineId}`;
export const deprovisionWorkflowId = (machineId: string) => `deprovision-vm/${machineId}`;
