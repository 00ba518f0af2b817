import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { DRIFT_POLICIES } from '../../domain/drift.ts';
import { HOST_STATES, type HostCondition } from '../../domain/host-state.ts';
import { Machine } from './machine.ts';

/**
 * A physical server behind a Redfish BMC. The BMC password is stored sealed (AES-256-GCM, see
 * domain/secrets.ts) and hidden from serialisation; the state changes only through the transitions
 * of domain/host.ts, applied by conditional UPDATEs in db/repositories/hosts.ts.
 */
export const Host = defineEntity({
  name: 'Host',
  tableName: 'host',
  properties: {
    id: p.uuid().primary(),
    name: p.string().unique(),
    description: p.text().nullable(),
    bmcAddress: p.text(),
    username: p.string(),
    passwordSealed: p.text().hidden(),
    verifyTls: p.boolean().default(true),
    caPem: p.text().nullable(),
    fingerprint: p.string().nullable(),
    bootMac: p.string().nullable(),
    tags: p
      .json<string[]>()
      .onCreate(() => [])
      .defaultRaw(`'[]'`),
    state: p.enum(HOST_STATES).default('available').index('host_state_index'),
    // The machine the host is claimed for (a provisioned host is that machine).
    claimedBy: () => p.manyToOne(Machine).mapToPk().joinColumn('claimed_by').nullable().deleteRule('set null'),
    claimedAt: p.datetime().nullable(),
    // What the last inspection found.
    vendor: p.string().nullable(),
    model: p.string().nullable(),
    serialNumber: p.string().nullable(),
    powerState: p.string().nullable(),
    bootModes: p.json<string[]>().nullable(),
    virtualMediaSupported: p.boolean().nullable(),
    inventory: p.json<Record<string, unknown>>().nullable(),
    inspectedAt: p.datetime().nullable(),
    conditions: p
      .json<HostCondition[]>()
      .onCreate(() => [])
      .defaultRaw(`'[]'`),
    lastError: p.text().nullable(),
    // This host's drift policy; null follows drift.redfishPolicy (domain/drift.ts effectivePolicy).
    driftPolicy: p.enum(DRIFT_POLICIES).nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
  // One host per machine, enforced by the database.
  indexes: [{ name: 'host_claimed_by_unique', expression: 'create unique index host_claimed_by_unique on host (claimed_by) where claimed_by is not null' }],
});
export type IHost = InferEntity<typeof Host>;
