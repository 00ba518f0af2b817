import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { Account } from './account.ts';
import { Pool } from './pool.ts';
import { SUBNET_STATES } from '../../domain/subnets.ts';
import type { SecondaryRange } from '../../domain/subnets.ts';

/**
 * A cloud subnet (AWS subnet, GCP subnetwork): an allocation in a pool plus the object in the
 * cloud (docs/decisions/0027). `allocationId` is the block held for it while it exists; the CIDR
 * is copied so a deleted or failed record still says what it was.
 */
export const CloudSubnet = defineEntity({
  name: 'CloudSubnet',
  tableName: 'cloud_subnet',
  properties: {
    id: p.uuid().primary(),
    name: p.string().nullable(),
    accountId: () => p.manyToOne(Account).mapToPk().joinColumn('account_id').deleteRule('no action').index('cloud_subnet_account_id_index'),
    region: p.string(),
    zone: p.string().nullable(),
    networkId: p.string(),
    poolId: () => p.manyToOne(Pool).mapToPk().joinColumn('pool_id').nullable().deleteRule('set null').index('cloud_subnet_pool_id_index'),
    // The allocation row (kind = 'allocation') holding the CIDR; null once freed.
    allocationId: () => p.manyToOne(Pool).mapToPk().joinColumn('allocation_id').nullable().deleteRule('set null').unique('cloud_subnet_allocation_unique'),
    cidr: p.string().columnType('cidr'),
    providerId: p.string().nullable(),
    secondaryRanges: p
      .json<SecondaryRange[]>()
      .onCreate(() => [])
      .defaultRaw(`'[]'`),
    tags: p
      .json<Record<string, string>>()
      .onCreate(() => ({}))
      .defaultRaw(`'{}'`),
    state: p.enum(SUBNET_STATES).default('creating'),
    stateReason: p.text().nullable(),
    managed: p.boolean().default(true),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
  indexes: [
    {
      name: 'cloud_subnet_provider_unique',
      expression: `create unique index cloud_subnet_provider_unique on cloud_subnet (account_id, region, provider_id) where provider_id is not null and state <> 'deleted'`,
    },
  ],
});
export type ICloudSubnet = InferEntity<typeof CloudSubnet>;
