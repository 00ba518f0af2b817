// Bare-metal hosts behind Redfish BMCs: the state machine, status conditions, BMC addresses and
// the request schemas shared by the API, the CLI, activities and (as types only) the workflows.
//
//   available → claimed → provisioning → provisioned → deprovisioning → available
//   any busy state → error;  available/error ⇄ maintenance;  force-release: anything held → available
//
// Every change of state goes through `transition()`: the table below is the only place that says
// which changes are legal, and each one says which conditions it sets, so a user can always see why
// a host is where it is. The database applies a transition with a conditional UPDATE (see
// db/repositories/hosts.ts), so two writers can never both move a host out of the same state.
import { z } from 'zod';
import { HangarError } from './errors.ts';

export const HOST_STATES = ['available', 'claimed', 'provisioning', 'provisioned', 'deprovisioning', 'error', 'maintenance'] as const;
export type HostState = (typeof HOST_STATES)[number];

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface HostCondition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime: string;
}

/** A condition to set: lastTransitionTime changes only when the status does. */
export type ConditionUpdate = Omit<HostCondition, 'lastTransitionTime'>;

export const CONDITION_TYPES = ['bmc_reachable', 'claimed', 'provisioned', 'healthy', 'maintenance'] as const;

interface TransitionDef {
  from: readonly HostState[];
  to: HostState;
  /** Conditions set by the transition; `message` is the caller's explanation. */
  conditions: (message: string) => ConditionUpdate[];
}

const cond = (type: string, status: ConditionStatus, reason: string, message: string): ConditionUpdate => ({ type, status, reason, message });
const HELD: readonly HostState[] = ['claimed', 'provisioning', 'provisioned', 'deprovisioning', 'error', 'maintenance'];

export const HOST_TRANSITIONS = {
  claim: {
    from: ['available'], to: 'claimed',
    conditions: (m) => [cond('claimed', 'True', 'Claimed', m)],
  },
  'start-provisioning': {
    from: ['claimed'], to: 'provisioning',
    conditions: (m) => [cond('provisioned', 'False', 'Provisioning', m)],
  },
  'finish-provisioning': {
    from: ['provisioning'], to: 'provisioned',
    conditions: (m) => [cond('provisioned', 'True', 'Provisioned', m), cond('healthy', 'True', 'Provisioned', m)],
  },
  /** A provision that failed or was cancelled, after its compensation put the hardware back. */
  release: {
    from: ['claimed', 'provisioning'], to: 'available',
    conditions: (m) => [cond('claimed', 'False', 'Released', m), cond('provisioned', 'False', 'ProvisioningFailed', m)],
  },
  'start-deprovisioning': {
    from: ['provisioned', 'error'], to: 'deprovisioning',
    conditions: (m) => [cond('provisioned', 'False', 'Deprovisioning', m)],
  },
  'finish-deprovisioning': {
    from: ['deprovisioning'], to: 'available',
    conditions: (m) => [cond('claimed', 'False', 'Deprovisioned', m), cond('provisioned', 'False', 'Deprovisioned', m), cond('healthy', 'True', 'Deprovisioned', m)],
  },
  /** Something went wrong that Hangar could not undo: a person has to look (then deprovision or force-release). */
  fail: {
    from: ['claimed', 'provisioning', 'provisioned', 'deprovisioning'], to: 'error',
    conditions: (m) => [cond('healthy', 'False', 'Error', m)],
  },
  /** Admin action: out of any held state, whatever ran before (its workflows are cancelled first). */
  'force-release': {
    from: HELD.filter((s) => s !== 'maintenance'), to: 'available',
    conditions: (m) => [cond('claimed', 'False', 'ForceReleased', m), cond('provisioned', 'False', 'ForceReleased', m), cond('healthy', 'True', 'ForceReleased', m)],
  },
  'enter-maintenance': {
    from: ['available', 'error'], to: 'maintenance',
    conditions: (m) => [cond('maintenance', 'True', 'MaintenanceRequested', m)],
  },
  'exit-maintenance': {
    from: ['maintenance'], to: 'available',
    conditions: (m) => [cond('maintenance', 'False', 'MaintenanceEnded', m), cond('healthy', 'True', 'MaintenanceEnded', m)],
  },
} as const satisfies Record<string, TransitionDef>;

export type HostEvent = keyof typeof HOST_TRANSITIONS;

/** The state after `event`, or 409 invalid_state naming the current state and what would be needed. */
export function transition(current: HostState, event: HostEvent, hostName = 'host'): HostState {
  const def: TransitionDef = HOST_TRANSITIONS[event];
  if (!def.from.includes(current)) {
    throw new HangarError('invalid_state',
      `${hostName} is ${current}; "${event}" needs it to be ${def.from.join(' or ')}`,
      { state: current });
  }
  return def.to;
}

export function canTransition(current: HostState, event: HostEvent): boolean {
  return (HOST_TRANSITIONS[event] as TransitionDef).from.includes(current);
}

/** The states `event` may start from (for conditional UPDATEs). */
export function transitionSources(event: HostEvent): HostState[] {
  return [...(HOST_TRANSITIONS[event] as TransitionDef).from];
}

export function transitionConditions(event: HostEvent, message: string): ConditionUpdate[] {
  return (HOST_TRANSITIONS[event] as TransitionDef).conditions(message);
}

/** Merges updates into a condition list: one entry per type, lastTransitionTime kept while the status holds. */
export function mergeConditions(existing: HostCondition[], updates: ConditionUpdate[], now: Date = new Date()): HostCondition[] {
  const out = existing.map((c) => ({ ...c }));
  for (const u of updates) {
    const at = out.findIndex((c) => c.type === u.type);
    const prev = at >= 0 ? out[at] : undefined;
    const next: HostCondition = {
      ...u,
      lastTransitionTime: prev && prev.status === u.status ? prev.lastTransitionTime : now.toISOString(),
    };
    if (at >= 0) out[at] = next; else out.push(next);
  }
  return out.sort((a, b) => a.type.localeCompare(b.type));
}

// -------------------------------------------------------------------------------------------------
// BMC addresses

export interface BmcAddress {
  /** `https://host[:port]` (or `http://` for emulators). */
  endpoint: string;
  /** `/redfish/v1/Systems/<id>`; absent: discovered (the BMC must manage exactly one system). */
  systemPath?: string;
  insecureTransport: boolean;
}

const BMC_ADDRESS = /^redfish\+(https?):\/\/([^/\s?#@]+)(\/redfish\/v1\/Systems\/([^/\s?#]+)\/?|\/redfish\/v1\/?|\/?)$/;

/**
 * `redfish+https://bmc.example[:port]/redfish/v1/Systems/<id>`, or without the system path
 * (discovery). `redfish+http://` is accepted for emulators; credentials in the URL are refused.
 */
export function parseBmcAddress(address: string): BmcAddress {
  const m = BMC_ADDRESS.exec(address.trim());
  if (!m) {
    if (/^redfish\+https?:\/\/[^/]*@/.test(address)) {
      throw new HangarError('validation_failed', 'credentials go in username/password, never in bmc_address', { bmc_address: 'contains credentials' });
    }
    throw new HangarError('validation_failed', 'bmc_address must look like redfish+https://bmc.example[:port]/redfish/v1/Systems/<id> (or without the system path to discover it)', { bmc_address: 'invalid' });
  }
  const [, scheme, authority, , systemId] = m;
  let url: URL;
  try {
    url = new URL(`${scheme}://${authority}`);
  } catch {
    throw new HangarError('validation_failed', 'bmc_address has an invalid host or port', { bmc_address: 'invalid host' });
  }
  return {
    endpoint: url.origin,
    ...(systemId ? { systemPath: `/redfish/v1/Systems/${systemId}` } : {}),
    insecureTransport: scheme === 'http',
  };
}

// -------------------------------------------------------------------------------------------------
// Request schemas

const hostName = z.string().min(1).max(63).regex(/^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$/, 'lowercase letters, digits, ".", "_" and "-", starting and ending with a letter or digit');
const tag = z.string().min(1).max(63).regex(/^[A-Za-z0-9]([A-Za-z0-9._:=/-]*[A-Za-z0-9])?$/, 'a tag is letters, digits and . _ : = / -');
const mac = z.string().regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/, 'must be a MAC address aa:bb:cc:dd:ee:ff');
const fingerprint = z.string().regex(/^(sha256:)?([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$/, 'must be a SHA-256 certificate fingerprint');
const caPem = z.string().max(64 * 1024).regex(/-----BEGIN CERTIFICATE-----/, 'must be PEM certificate(s)');
const bmcAddress = z.string().max(2048).superRefine((v, ctx) => {
  try {
    parseBmcAddress(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});
/** Passwords are write-only; the schema message never repeats the value. */
const password = z.string().min(1, 'must not be empty').max(1024, 'must be at most 1024 characters');
const imageUrl = z.string().max(2048).regex(/^(https?|nfs|cifs|smb):\/\/[^\s]+$/i, 'must be a URL the BMC can fetch (http, https, nfs, cifs)');
const duration = z.string().regex(/^\d+(ms|s|m|h)$/, 'must be a duration like 90s, 15m or 1h');

/** Milliseconds of a duration like 500ms, 90s, 15m or 2h. */
export function durationMs(d: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(d);
  if (!m) throw new HangarError('validation_failed', `"${d}" is not a duration like 90s, 15m or 1h`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
}

export const createHostSchema = z.strictObject({
  name: hostName,
  bmc_address: bmcAddress,
  username: z.string().min(1).max(255),
  password,
  verify_tls: z.boolean().optional(),
  ca_pem: caPem.optional(),
  fingerprint: fingerprint.optional(),
  boot_mac: mac.optional(),
  tags: z.array(tag).max(32).optional(),
  description: z.string().max(1024).optional(),
});
export type CreateHostRequest = z.infer<typeof createHostSchema>;

export const updateHostSchema = z.strictObject({
  bmc_address: bmcAddress.optional(),
  username: z.string().min(1).max(255).optional(),
  password: password.optional(),
  verify_tls: z.boolean().optional(),
  ca_pem: caPem.nullable().optional(),
  fingerprint: fingerprint.nullable().optional(),
  boot_mac: mac.nullable().optional(),
  tags: z.array(tag).max(32).optional(),
  description: z.string().max(1024).nullable().optional(),
});
export type UpdateHostRequest = z.infer<typeof updateHostSchema>;

/** Which host to claim: by name (or id), by tags (all of them), or any available one. */
export const hostSelectorSchema = z.strictObject({
  host: z.string().min(1).max(255).optional(),
  tags: z.array(tag).min(1).max(32).optional(),
});

export const provisionHostBaseSchema = z.strictObject({
  /** The machine's name (its hostname). */
  name: z.string().min(1).max(63).regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'must be a lowercase hostname label (a-z, 0-9, "-", not at either end)'),
  /** The installer or live image the BMC mounts; or name a redfish `template` instead. */
  image_url: imageUrl.optional(),
  /** A redfish template (name or id) whose image the BMC mounts. */
  template: z.string().min(1).max(255).optional(),
  ...hostSelectorSchema.shape,
  boot_mode: z.enum(['UEFI', 'Legacy']).optional(),
  wait_for_phone_home: z.boolean().optional(),
  phone_home_timeout: duration.optional(),
  network_id: z.uuid().optional(),
  ssh_key_ids: z.array(z.uuid()).max(100).optional(),
  domain: z.string().max(253).regex(/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/, 'must be a lowercase DNS domain').optional(),
  user_data_extras: z.record(z.string(), z.unknown()).refine((v) => JSON.stringify(v).length <= 64 * 1024, 'must be at most 64 KiB').optional(),
  /** With no host available, keep trying for up to this long (at most 10m) before the 409. */
  // The regex check does not stop zod from running this refinement: only measure a valid duration.
  claim_timeout: duration.refine((d) => !/^\d+(ms|s|m|h)$/.test(d) || durationMs(d) <= 600_000, 'must be at most 10m').optional(),
  // Informational: the hardware's size, recorded on the machine (1 when not given).
  cpu: z.number().int().min(1).max(4096).optional(),
  memory_mb: z.number().int().min(1).max(64 * 1024 * 1024).optional(),
  disk_gb: z.number().int().min(1).max(1024 * 1024).optional(),
});
export const provisionHostSchema = provisionHostBaseSchema
  .refine((v) => !(v.host && v.tags), { message: 'give either host or tags, not both', path: ['host'] })
  .refine((v) => (v.image_url === undefined) !== (v.template === undefined), { message: 'give either image_url or template (exactly one)', path: ['image_url'] });
export type ProvisionHostRequest = z.infer<typeof provisionHostSchema>;

export const deprovisionHostSchema = z.strictObject({
  /** Boot this image after power-off (a disk wiper that powers the host off when done). */
  wipe_image_url: imageUrl.optional(),
  wipe_timeout: duration.optional(),
});

export const HOST_ACTIONS = ['inspect', 'power-on', 'power-off', 'reboot', 'force-release', 'deprovision', 'maintenance-on', 'maintenance-off'] as const;
export type HostAction = (typeof HOST_ACTIONS)[number];

// -------------------------------------------------------------------------------------------------
// Clusters

export const CLUSTER_ROLES = ['control-plane', 'worker'] as const;
export type ClusterRole = (typeof CLUSTER_ROLES)[number];

const address = z.string().max(253).regex(/^([0-9.]+|[0-9a-fA-F:]+|[a-z0-9]([a-z0-9.-]*[a-z0-9])?)$/, 'must be an IP address or DNS name');
const clusterMember = z.strictObject({ machine_id: z.uuid(), role: z.enum(CLUSTER_ROLES) });

export const createClusterSchema = z.strictObject({
  name: hostName,
  control_plane_vip: address.optional(),
  control_plane_port: z.number().int().min(1).max(65535).optional(),
  machines: z.array(clusterMember).max(1000).optional(),
  description: z.string().max(1024).optional(),
});
export const updateClusterSchema = z.strictObject({
  control_plane_vip: address.nullable().optional(),
  control_plane_port: z.number().int().min(1).max(65535).optional(),
  description: z.string().max(1024).nullable().optional(),
});
export const clusterMemberSchema = clusterMember;

export interface ClusterMemberView {
  machine_id: string;
  name: string;
  role: ClusterRole;
  state: string;
  addresses: string[];
}

/**
 * The control-plane endpoint: the explicit VIP, else the first address of the first control-plane
 * machine (by name) that has one; `ready` when the endpoint is known and every control-plane
 * machine is ready.
 */
export function deriveControlPlane(vip: string | null, port: number, members: ClusterMemberView[]): {
  endpoint: { host: string; port: number; url: string; source: 'vip' | 'machine'; machine_id?: string } | null;
  ready: ConditionUpdate;
} {
  const cps = members.filter((m) => m.role === 'control-plane').sort((a, b) => a.name.localeCompare(b.name));
  const hostPart = (h: string) => (h.includes(':') ? `[${h}]` : h);
  let endpoint: ReturnType<typeof deriveControlPlane>['endpoint'] = null;
  if (vip) endpoint = { host: vip, port, url: `https://${hostPart(vip)}:${port}`, source: 'vip' };
  else {
    const first = cps.find((m) => m.addresses.length > 0);
    if (first) endpoint = { host: first.addresses[0]!, port, url: `https://${hostPart(first.addresses[0]!)}:${port}`, source: 'machine', machine_id: first.machine_id };
  }
  let ready: ConditionUpdate;
  if (cps.length === 0) ready = cond('ready', 'False', 'NoControlPlane', 'the cluster has no control-plane machine');
  else if (!endpoint) ready = cond('ready', 'False', 'NoEndpoint', 'no control-plane machine has an address yet and no VIP is set');
  else {
    const notReady = cps.filter((m) => m.state !== 'ready');
    ready = notReady.length
      ? cond('ready', 'False', 'ControlPlaneNotReady', `control-plane machine(s) not ready: ${notReady.map((m) => `${m.name} (${m.state})`).join(', ')}`)
      : cond('ready', 'True', 'ControlPlaneReady', `${cps.length} control-plane machine(s) ready; endpoint ${endpoint.url}`);
  }
  return { endpoint, ready };
}

// -------------------------------------------------------------------------------------------------
// Workflow inputs (inputs carry no secrets; the workflow ids are in workflows/contracts.ts)

export interface ProvisionHostInput {
  hostId: string;
  hostName: string;
  machineId: string;
  machineName: string;
  imageUrl: string;
  bootMode?: 'UEFI' | 'Legacy';
  /** Wait for the phone-home signal after power-on, up to this duration; absent: no wait. */
  phoneHomeTimeout?: string;
  networkId?: string;
  mac?: string;
}

export interface DeprovisionHostInput {
  hostId: string;
  /** The machine the host carries (deleted at the end), if any. */
  machineId: string | null;
  shutdownTimeoutSec: number;
  wipeImageUrl?: string;
  wipeTimeout?: string;
}

export type HostPowerAction = 'power-on' | 'power-off' | 'reboot';

export interface HostPowerInput {
  hostId: string;
  action: HostPowerAction;
  shutdownTimeoutSec: number;
}

export interface ForceReleaseInput {
  hostId: string;
  reason: string;
}
