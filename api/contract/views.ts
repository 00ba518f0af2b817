// Response schemas of every resource the API returns, matching the *View functions of the routes.
// The test-mode response check (api/contract/response-check.ts) holds the two together.
import { z } from 'zod';
import { CLUSTER_ROLES } from '../../domain/cluster.ts';
import { DRIFT_KINDS, DRIFT_POLICIES, DRIFT_STATES } from '../../domain/drift.ts';
import { HOST_STATES } from '../../domain/host-state.ts';
import { MACHINE_STATES, PROVIDERS } from '../../domain/machine.ts';
import { DISK_STATES, ROLES, TEMPLATE_STATES } from '../../db/entities/index.ts';
import { condition, operationSummary, timestamp, uuid } from './schemas.ts';

const text = z.string();
const json = z.record(z.string(), z.unknown());

export const driftFinding = z
  .strictObject({
    id: uuid,
    target: text.meta({ description: 'the observer target that reported it (e.g. inventory, qemu:<host>)' }),
    provider: text,
    resource_type: text,
    resource_id: text,
    resource_name: text,
    kind: z.enum(DRIFT_KINDS),
    desired: json.nullable(),
    observed: json.nullable(),
    state: z.enum(DRIFT_STATES),
    first_seen: timestamp,
    last_seen: timestamp.meta({ description: "unresolved: its target's last complete scan; resolved: the last scan that saw it" }),
    resolved_at: timestamp.nullable(),
    action_taken: text.nullable(),
  })
  .meta({
    id: 'DriftFinding',
    example: {
      id: '7d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6',
      target: 'inventory',
      provider: 'inventory',
      resource_type: 'lease',
      resource_id: '0c9d8e7f-6a5b-4c3d-9e2f-1a0b9c8d7e6f',
      resource_name: '10.0.0.12',
      kind: 'orphan',
      desired: null,
      observed: { machine_id: null, state: 'active' },
      state: 'open',
      first_seen: '2026-11-29T10:00:00.000Z',
      last_seen: '2026-11-29T10:05:00.000Z',
      resolved_at: null,
      action_taken: null,
    },
  });

export const machine = z
  .strictObject({
    id: uuid,
    name: text,
    kind: z.enum(['vm', 'baremetal']),
    provider: z.enum(PROVIDERS),
    state: z.enum(MACHINE_STATES),
    cpu: z.int(),
    memory_mb: z.int(),
    disk_gb: z.int(),
    provider_id: text.nullable(),
    target_node: text.nullable(),
    template: text.nullable(),
    vmid: z.int().nullable(),
    clone_mode: z.enum(['full', 'linked']).nullable(),
    cloud_init_mode: z.enum(['iso', 'native']).nullable(),
    power_state: text.nullable(),
    access: json.nullable(),
    network_id: uuid.nullable(),
    domain: text.nullable(),
    user_data_extras: json.nullable(),
    drift_policy: z.enum(DRIFT_POLICIES).nullable().meta({ description: "observe or remediate for this machine; null follows its provider's policy" }),
    conditions: z.array(condition),
    last_error: text.nullable(),
    phoned_home_at: timestamp.nullable(),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .meta({
    id: 'Machine',
    example: {
      id: '3f2b7c1e-2a6d-4b8e-9c0f-1a2b3c4d5e6f',
      name: 'web-1',
      kind: 'vm',
      provider: 'proxmox',
      state: 'ready',
      cpu: 2,
      memory_mb: 2048,
      disk_gb: 20,
      provider_id: 'pve/101',
      target_node: 'pve',
      template: 'ubuntu-24.04',
      vmid: 101,
      clone_mode: 'linked',
      cloud_init_mode: 'iso',
      power_state: 'running',
      access: null,
      network_id: null,
      domain: null,
      user_data_extras: null,
      drift_policy: null,
      conditions: [
        { type: 'phoned_home', status: 'True', reason: 'PhonedHome', message: 'cloud-init finished', lastTransitionTime: '2026-01-05T10:02:00.000Z' },
      ],
      last_error: null,
      phoned_home_at: '2026-01-05T10:02:00.000Z',
      created_at: '2026-01-05T10:00:00.000Z',
      updated_at: '2026-01-05T10:02:00.000Z',
    },
  });

const metadataFetch = z.strictObject({ count: z.int(), lastAt: z.string(), from: z.string() });

/** GET/PATCH /machines/{id}: the machine with its links. */
export const machineDetail = machine
  .extend({
    ssh_key_ids: z.array(uuid),
    addresses: z.array(z.strictObject({ network_id: uuid, address: text, state: z.enum(['reserved', 'active', 'released']) })),
    metadata_fetches: z.record(z.string(), metadataFetch),
    phone_home_payload: json.nullable(),
    operations: z.array(operationSummary).optional().meta({ description: 'the latest ten (GET only)' }),
    drift: z
      .array(z.lazy(() => driftFinding))
      .optional()
      .meta({ description: 'open drift findings, at most 20 (GET only)' }),
  })
  .meta({ id: 'MachineDetail' });

export const machineBrief = z
  .strictObject({
    id: uuid,
    name: text,
    kind: z.enum(['vm', 'baremetal']),
    provider: z.enum(PROVIDERS),
    state: z.enum(MACHINE_STATES),
    provider_id: text.nullable(),
    last_error: text.nullable(),
  })
  .meta({ id: 'MachineBrief' });

export const disk = z
  .strictObject({
    id: uuid,
    machine_id: uuid,
    size_gb: z.int(),
    storage: text.nullable(),
    slot: text.nullable(),
    volume: text.nullable(),
    state: z.enum(DISK_STATES),
    last_error: text.nullable(),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .meta({ id: 'Disk' });

export const sshKey = z
  .strictObject({
    id: uuid,
    name: text,
    public_key: text,
    type: text,
    bits: z.int().nullable(),
    fingerprint: text,
    comment: text.nullable(),
    created_at: timestamp,
  })
  .meta({
    id: 'SshKey',
    example: {
      id: '9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d',
      name: 'alice',
      public_key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGv8Yc3kq0jz1mT0cQm3qv9aX1y0Zx2Hn4oJ5sT6uV7w alice@laptop',
      type: 'ssh-ed25519',
      bits: 256,
      fingerprint: 'SHA256:Qm3qv9aX1y0Zx2Hn4oJ5sT6uV7wGv8Yc3kq0jz1mT0c',
      comment: 'alice@laptop',
      created_at: '2026-01-05T09:00:00.000Z',
    },
  });

export const template = z
  .strictObject({
    id: uuid,
    name: text,
    provider: z.enum(PROVIDERS),
    node: text.nullable(),
    image: text,
    checksum: text.nullable(),
    storage: text.nullable(),
    vmid: z.int().nullable(),
    cpu: z.int(),
    memory_mb: z.int(),
    provider_ref: text.nullable(),
    state: z.enum(TEMPLATE_STATES),
    last_error: text.nullable(),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .meta({ id: 'Template' });

export const templateDetail = template.extend({ operations: z.array(operationSummary) }).meta({ id: 'TemplateDetail' });

export const host = z
  .strictObject({
    id: uuid,
    name: text,
    description: text.nullable(),
    bmc_address: text,
    username: text,
    verify_tls: z.boolean(),
    ca_pem: text.nullable(),
    fingerprint: text.nullable(),
    boot_mac: text.nullable(),
    tags: z.array(text),
    state: z.enum(HOST_STATES),
    claimed_by: uuid.nullable(),
    claimed_at: timestamp.nullable(),
    vendor: text.nullable(),
    model: text.nullable(),
    serial_number: text.nullable(),
    power_state: text.nullable(),
    boot_modes: z.array(text).nullable(),
    virtual_media_supported: z.boolean().nullable(),
    inspected_at: timestamp.nullable(),
    conditions: z.array(condition),
    last_error: text.nullable(),
    drift_policy: z.enum(DRIFT_POLICIES).nullable().meta({ description: "this host's drift policy; null follows drift.redfishPolicy" }),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .meta({ id: 'Host', description: 'A bare-metal host; its BMC password is sealed and never returned.' });

export const hostDetail = host
  .extend({
    machine: machineBrief.nullable(),
    operations: z.array(operationSummary),
    drift: z.array(driftFinding).meta({ description: 'open drift findings, at most 20' }),
  })
  .meta({ id: 'HostDetail' });

export const clusterMember = z.strictObject({ machine_id: uuid, name: text, role: z.enum(CLUSTER_ROLES), state: text, addresses: z.array(text) });

export const cluster = z
  .strictObject({
    id: uuid,
    name: text,
    description: text.nullable(),
    control_plane_vip: text.nullable(),
    control_plane_port: z.int(),
    control_plane_endpoint: z
      .strictObject({
        host: text,
        port: z.int(),
        url: text,
        source: z.enum(['vip', 'machine']),
        machine_id: uuid.optional(),
      })
      .nullable(),
    conditions: z.array(condition),
    ready: z.boolean(),
    machines: z.array(clusterMember),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .meta({ id: 'Cluster' });

export const token = z
  .strictObject({
    id: uuid,
    name: text,
    role: z.enum(ROLES),
    prefix: text,
    created_at: timestamp,
    last_used_at: timestamp.nullable(),
    revoked_at: timestamp.nullable(),
  })
  .meta({ id: 'Token' });

export const issuedToken = token.extend({ token: z.string().meta({ description: 'the secret; shown only in this answer' }) }).meta({ id: 'IssuedToken' });

export const auditEvent = z
  .strictObject({
    id: z.string().meta({ description: 'a decimal sequence number' }),
    at: timestamp,
    actor: text,
    action: text,
    resource_type: text,
    resource_id: text.nullable(),
    request_id: text,
    status_code: z.int(),
    detail: json.nullable(),
  })
  .meta({ id: 'AuditEvent' });

export const schedule = z
  .strictObject({
    id: text.meta({ description: 'the Temporal schedule id: <task queue>/reconcile/<target>' }),
    target: text.meta({ description: 'what the observer scans, e.g. inventory' }),
    interval_sec: z.int(),
    paused: z.boolean(),
    note: text.nullable().meta({ description: "Temporal's note on the last pause or unpause" }),
    next_action_times: z.array(timestamp),
    last_action_at: timestamp.nullable(),
    last_workflow_id: text.nullable(),
  })
  .meta({
    id: 'Schedule',
    example: {
      id: 'hangar/reconcile/inventory',
      target: 'inventory',
      interval_sec: 30,
      paused: false,
      note: null,
      next_action_times: ['2026-11-29T10:00:30.000Z'],
      last_action_at: '2026-11-29T10:00:00.000Z',
      last_workflow_id: 'hangar/reconcile-inventory',
    },
  });
