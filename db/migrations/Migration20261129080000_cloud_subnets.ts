import { Migration } from '@mikro-orm/migrations';

/**
 * Cloud subnets (decision 0027): an allocation in a pool (`allocation_id`, held while the subnet
 * exists) plus the subnet in the cloud (`provider_id`, found by Hangar's tag until known). The
 * CIDR is copied so a deleted or failed record still says what it was. One live record per cloud
 * subnet.
 */
export class Migration20261129080000_cloud_subnets extends Migration {
  override up(): void {
    this.addSql(`create table cloud_subnet (
      id uuid primary key,
      name varchar(255) null,
      account_id uuid not null constraint cloud_subnet_account_id_foreign references account (id),
      region varchar(255) not null,
      zone varchar(255) null,
      network_id varchar(255) not null,
      pool_id uuid null constraint cloud_subnet_pool_id_foreign references pool (id) on delete set null,
      allocation_id uuid null constraint cloud_subnet_allocation_id_foreign references pool (id) on delete set null,
      cidr cidr not null,
      provider_id varchar(255) null,
      secondary_ranges jsonb not null default '[]',
      tags jsonb not null default '{}',
      state text not null default 'creating' check (state in ('creating', 'available', 'deleting', 'deleted', 'failed')),
      state_reason text null,
      managed boolean not null default true,
      created_at timestamptz not null,
      updated_at timestamptz not null,
      constraint cloud_subnet_allocation_unique unique (allocation_id)
    )`);
    this.addSql(`create index cloud_subnet_account_id_index on cloud_subnet (account_id)`);
    this.addSql(`create index cloud_subnet_pool_id_index on cloud_subnet (pool_id)`);
    this.addSql(
      `create unique index cloud_subnet_provider_unique on cloud_subnet (account_id, region, provider_id) where provider_id is not null and state <> 'deleted'`,
    );
  }

  override down(): void {
    this.addSql(`drop table if exists cloud_subnet`);
  }
}
