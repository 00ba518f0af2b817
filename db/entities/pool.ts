import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { Account } from './account.ts';
import { AddressScope } from './address-scope.ts';
import { GLOBAL_SCOPE_ID } from '../../domain/scopes.ts';

// The GiST exclusion constraint pool_siblings_no_overlap (inventory and address-scope migrations)
// has no representation in entity metadata; the migrations test checks it exists.

/**
 * A child pool or allocation lives in its parent's address scope, and a pool never changes scope:
 * so the exclusion constraint's scope is the whole tree's (also in the address-scope migration).
 */
export const SCOPE_FOLLOWS_PARENT_BODY = `if tg_op = 'UPDATE' and new.scope_id <> old.scope_id then
  raise exception 'pool_scope_immutable: a pool cannot move to another address scope' using errcode = 'check_violation';
end if;
if new.parent_id is not null and exists (select 1 from pool where id = new.parent_id and scope_id <> new.scope_id) then
  raise exception 'pool_scope_mismatch: a child pool or allocation must be in its parent''s address scope' using errcode = 'check_violation';
end if;
return new;`;

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
    // Every pool and allocation lives in one address scope, its parent's (docs/decisions/0022).
    scopeId: () =>
      p.manyToOne(AddressScope).mapToPk().joinColumn('scope_id').defaultRaw(`'${GLOBAL_SCOPE_ID}'`).deleteRule('no action').index('pool_scope_id_index'),
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
  triggers: [{ name: 'pool_scope_follows_parent', timing: 'before', events: ['insert', 'update'], forEach: 'row', body: SCOPE_FOLLOWS_PARENT_BODY }],
});
export type IPool = InferEntity<typeof Pool>;
