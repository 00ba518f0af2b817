import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

export const Network = defineEntity({
  name: 'Network',
  tableName: 'network',
  properties: {
    id: p.uuid().primary(),
    name: p.string().unique(),
    cidr: p.string().columnType('cidr'),
    gateway: p.string().columnType('inet').nullable(),
    dnsServers: p
      .json<string[]>()
      .onCreate(() => [])
      .defaultRaw(`'[]'`),
    searchDomains: p
      .json<string[]>()
      .onCreate(() => [])
      .defaultRaw(`'[]'`),
    vlan: p.integer().nullable().check('vlan >= 1 and vlan <= 4094'),
    bridge: p.string().nullable(),
    rangeStart: p.string().columnType('inet').nullable(),
    rangeEnd: p.string().columnType('inet').nullable(),
    reserved: p
      .json<string[]>()
      .onCreate(() => [])
      .defaultRaw(`'[]'`),
    // Everything in the leasable range below this address is taken (see the lease_hint migration).
    allocHint: p.string().columnType('inet').nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
  checks: [
    { name: 'network_gateway_inside', expression: 'gateway is null or gateway << cidr' },
    { name: 'network_range_inside', expression: '(range_start is null or range_start << cidr) and (range_end is null or range_end << cidr)' },
    { name: 'network_range_order', expression: 'range_start is null or range_end is null or range_start <= range_end' },
  ],
});
export type INetwork = InferEntity<typeof Network>;
