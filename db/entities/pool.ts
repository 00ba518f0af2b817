import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { Account } from './account.ts';

// The GiST exclusion constraint pool_siblings_no_overlap (see the inventory migration) has no
// representation in entity metadata; the migrations test checks it exists.

/** A CIDR pool, or (kind = 'allocation') a block allocated from one: both are children of a pool. */
export const Pool = defineEntity({
  name: 'Pool',
  tableName: 'pool',
  properties: {
    id: p.uuid().primary(),
    kind: p.enum(['pool', 'allocation'] as const).default('pool'),
    name: p.string().nullable(),
    cidr: p.string().columnType('cidr'),
    // Self-reference by name: the schema is still being defined here.
    parentId: () =>
      p
        .manyToOne('Pool' as unknown as typeof Account)
        .mapToPk()
        .joinColumn('parent_id')
        .nullable()
        .deleteRule('no action')
        .index('pool_parent_id_index'),
    accountId: () => p.manyToOne(Account).mapToPk().joinColumn('account_id').nullable().deleteRule('set null').index('pool_account_id_index'),
    description: p.text().nullable(),
    tags: p
      .json<Record<string, string>>()
      .onCreate(() => ({}))
      .defaultRaw(`'{}'`),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
  indexes: [
    { name: 'pool_name_unique', expression: `create unique index pool_name_unique on pool (name) where kind = 'pool'` },
    { name: 'pool_cidr_index', expression: 'create index pool_cidr_index on pool using gist (cidr inet_ops)' },
  ],
  checks: [{ name: 'pool_allocation_has_parent', expression: `kind = 'pool' or parent_id is not null` }],
});
export type IPool = InferEntity<typeof Pool>;
