import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { DRIFT_POLICIES } from '../../domain/drift.ts';
import { MACHINE_STATES, PROVIDERS } from '../../domain/machine.ts';
import { Network } from './network.ts';
import { SshKey } from './ssh-key.ts';

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
}

/** Deleting a machine releases its leases, whatever path deletes it (also in the migration). */
export const RELEASE_LEASES_BODY = `update ip_lease set state = 'released', released_at = now(), updated_at = now() where machine_id = old.id and state <> 'released'; return old;`;

export const Machine = defineEntity({
  name: 'Machine',
  tableName: 'machine',
  properties: {
    id: p.uuid().primary(),
    name: p.string().unique(),
    kind: p.enum(['vm', 'baremetal'] as const).default('vm'),
    provider: p.enum(PROVIDERS),
    state: p.enum(MACHINE_STATES).default('pending').index('machine_state_index'),
    cpu: p.integer().check('cpu > 0'),
    memoryMb: p.integer().check('memory_mb > 0'),
    diskGb: p.integer().check('disk_gb > 0'),
    targetNode: p.string().nullable(),
    providerId: p.string().nullable(),
    template: p.string().nullable(),
    // Proxmox: the requested VMID and clone mode; cloud-init delivery (cidata ISO or Proxmox's drive).
    vmid: p.integer().nullable(),
    cloneMode: p.enum(['full', 'linked'] as const).nullable(),
    cloudInitMode: p.enum(['iso', 'native'] as const).nullable(),
    // Last power state a workflow or the reconciler observed; access details such as a forwarded SSH port.
    powerState: p.string().nullable(),
    access: p.json<Record<string, unknown>>().nullable(),
    // Shown once on create; the seed URL written into the VM carries it.
    metadataToken: p.string().hidden(),
    conditions: p
      .json<Condition[]>()
      .onCreate(() => [])
      .defaultRaw(`'[]'`),
    lastError: p.text().nullable(),
    // The observers' policy for this machine; null follows its provider's (docs/decisions/0019).
    driftPolicy: p.enum(DRIFT_POLICIES).nullable(),
    networkId: () => p.manyToOne(Network).mapToPk().joinColumn('network_id').nullable().deleteRule('set null').index('machine_network_id_index'),
    sshKeys: () => p.manyToMany(SshKey).pivotTable('machine_ssh_keys').joinColumn('machine_id').inverseJoinColumn('ssh_key_id'),
    domain: p.string().nullable(),
    userDataExtras: p.json<Record<string, unknown>>().nullable(),
    // Per document: how often and when the machine fetched its NoCloud seed (diagnosis).
    metadataFetches: p
      .json<Record<string, { count: number; lastAt: string; from: string }>>()
      .onCreate(() => ({}))
      .defaultRaw(`'{}'`),
    phonedHomeAt: p.datetime().nullable(),
    phoneHomePayload: p.json<Record<string, unknown>>().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
  triggers: [{ name: 'machine_release_leases', timing: 'before', events: ['delete'], forEach: 'row', body: RELEASE_LEASES_BODY }],
});
export type IMachine = InferEntity<typeof Machine>;
