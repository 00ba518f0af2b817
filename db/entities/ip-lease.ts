import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { Network } from './network.ts';
import { Machine } from './machine.ts';

export const LEASE_STATES = ['reserved', 'active', 'released'] as const;

/** A released address may be the new lowest free one: lower the network's allocation hint. */
export const LOWER_ALLOC_HINT_BODY = `if new.state = 'released' and old.state <> 'released' then update network set alloc_hint = least(alloc_hint, new.address) where id = new.network_id and alloc_hint is not null; end if; return new;`;

export const IpLease = defineEntity({
  name: 'IpLease',
  tableName: 'ip_lease',
  properties: {
    id: p.uuid().primary(),
    networkId: () => p.manyToOne(Network).mapToPk().joinColumn('network_id').deleteRule('cascade'),
    address: p.string().columnType('inet'),
    machineId: () => p.manyToOne(Machine).mapToPk().joinColumn('machine_id').nullable().deleteRule('set null').index('ip_lease_machine_id_index'),
    mac: p.string().columnType('macaddr').nullable(),
    state: p.enum(LEASE_STATES).default('reserved'),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
    releasedAt: p.datetime().nullable(),
  },
  indexes: [
    { name: 'ip_lease_live_unique', expression: `create unique index ip_lease_live_unique on ip_lease (network_id, address) where state <> 'released'` },
    { name: 'ip_lease_active_address_index', expression: `create index ip_lease_active_address_index on ip_lease (address) where state = 'active'` },
  ],
  triggers: [{ name: 'lower_alloc_hint', timing: 'after', events: ['update'], forEach: 'row', body: LOWER_ALLOC_HINT_BODY }],
  checks: [{ name: 'ip_lease_address_host', expression: 'masklen(address) = case family(address) when 4 then 32 else 128 end' }],
});
export type IIpLease = InferEntity<typeof IpLease>;
