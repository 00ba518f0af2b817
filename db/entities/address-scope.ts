import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { Account } from './account.ts';

/**
 * An address scope (VRF): pools in different scopes may overlap. Optionally bound to a cloud
 * account, or to one network of it (an AWS VPC with its region, a GCP VPC network), so cloud
 * subnets and discovery can find the scope a network's addresses live in.
 */
export const AddressScope = defineEntity({
  name: 'AddressScope',
  tableName: 'address_scope',
  properties: {
    id: p.uuid().primary(),
    name: p.string().unique('address_scope_name_unique'),
    description: p.text().nullable(),
    accountId: () => p.manyToOne(Account).mapToPk().joinColumn('account_id').nullable().deleteRule('no action').index('address_scope_account_id_index'),
    region: p.string().nullable(),
    networkId: p.string().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
  indexes: [
    {
      name: 'address_scope_network_unique',
      expression: `create unique index address_scope_network_unique on address_scope (account_id, coalesce(region, ''), network_id) where network_id is not null`,
    },
  ],
  checks: [{ name: 'address_scope_binding_needs_account', expression: 'account_id is not null or (region is null and network_id is null)' }],
});
export type IAddressScope = InferEntity<typeof AddressScope>;
