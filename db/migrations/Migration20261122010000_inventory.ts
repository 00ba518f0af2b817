import { Migration } from '@mikro-orm/migrations';
import { RELEASE_LEASES_BODY } from '../entities/machine.ts';

/**
 * Inventory and IPAM: SSH keys (linked to machines, cascade both ways), networks and IP leases
 * (one live lease per address, by a partial unique index), accounts, and CIDR pools whose
 * allocations are leaf rows of the same table, so that ONE GiST exclusion constraint keeps every
 * sibling — child pool or allocation — from overlapping another.
 */
export class Migration20261122010000_inventory extends Migration {
  override up(): void {
    this.addSql(`create extension if not exists btree_gist`);

    this.addSql(`create table ssh_key (
      id uuid primary key,
      name varchar(255) not null,
      public_key text not null,
      key_type varchar(255) not null,
      bits int not null,
      fingerprint varchar(255) not null,
      comment text null,
      created_at timestamptz not null,
      constraint ssh_key_name_unique unique (name),
      constraint ssh_key_fingerprint_unique unique (fingerprint)
    )`);

    this.addSql(`create table network (
      id uuid primary key,
      name varchar(255) not null,
      cidr cidr not null,
      gateway inet null,
      dns_servers jsonb not null default '[]',
      search_domains jsonb not null default '[]',
      vlan int null,
      bridge varchar(255) null,
      range_start inet null,
      range_end inet null,
      reserved jsonb not null default '[]',
      created_at timestamptz not null,
      updated_at timestamptz not null,
      constraint network_name_unique unique (name),
      constraint network_vlan_check check (vlan >= 1 and vlan <= 4094),
      constraint network_gateway_inside check (gateway is null or gateway << cidr),
      constraint network_range_inside check ((range_start is null or range_start << cidr) and (range_end is null or range_end << cidr)),
      constraint network_range_order check (range_start is null or range_end is null or range_start <= range_end)
    )`);

    this.addSql(`alter table machine
      add column network_id uuid null constraint machine_network_id_foreign references network (id) on delete set null,
      add column domain varchar(255) null,
      add column user_data_extras jsonb null,
      add column metadata_fetches jsonb not null default '{}',
      add column phoned_home_at timestamptz null,
      add column phone_home_payload jsonb null`);
    this.addSql(`create index machine_network_id_index on machine (network_id)`);

    this.addSql(`create table machine_ssh_keys (
      machine_id uuid not null constraint machine_ssh_keys_machine_id_foreign references machine (id) on update cascade on delete cascade,
      ssh_key_id uuid not null constraint machine_ssh_keys_ssh_key_id_foreign references ssh_key (id) on update cascade on delete cascade,
      constraint machine_ssh_keys_pkey primary key (machine_id, ssh_key_id)
    )`);

    this.addSql(`create table ip_lease (
      id uuid primary key,
      network_id uuid not null constraint ip_lease_network_id_foreign references network (id) on delete cascade,
      address inet not null,
      machine_id uuid null constraint ip_lease_machine_id_foreign references machine (id) on delete set null,
      mac macaddr null,
      state text not null default 'reserved' check (state in ('reserved', 'active', 'released')),
      created_at timestamptz not null,
      updated_at timestamptz not null,
      released_at timestamptz null,
      constraint ip_lease_address_host check (masklen(address) = case family(address) when 4 then 32 else 128 end)
    )`);
    // At most one live lease per address and network: PostgreSQL, not application code, decides.
    this.addSql(`create unique index ip_lease_live_unique on ip_lease (network_id, address) where state <> 'released'`);
    this.addSql(`create index ip_lease_machine_id_index on ip_lease (machine_id)`);
    // Source-address metadata mode looks machines up by their active address alone.
    this.addSql(`create index ip_lease_active_address_index on ip_lease (address) where state = 'active'`);
    // Deleting a machine releases its leases, whatever path deletes it.
    this.addSql(`create function machine_machine_release_leases_fn() returns trigger as $$ begin ${RELEASE_LEASES_BODY} end; $$ language plpgsql`);
    this.addSql(`create trigger machine_release_leases before delete on machine
      for each row execute function machine_machine_release_leases_fn()`);

    this.addSql(`create table account (
      id uuid primary key,
      key varchar(255) not null,
      provider text not null check (provider in ('aws', 'gcp')),
      name varchar(255) not null,
      platform varchar(255) null,
      tier text null check (tier in ('dev', 'stg', 'sbx', 'prd')),
      environment varchar(255) null,
      regions jsonb not null default '[]',
      created_at timestamptz not null,
      updated_at timestamptz not null,
      constraint account_key_unique unique (key)
    )`);

    this.addSql(`create table pool (
      id uuid primary key,
      kind text not null default 'pool' check (kind in ('pool', 'allocation')),
      name varchar(255) null,
      cidr cidr not null,
      parent_id uuid null constraint pool_parent_id_foreign references pool (id),
      account_id uuid null constraint pool_account_id_foreign references account (id) on delete set null,
      description text null,
      tags jsonb not null default '{}',
      created_at timestamptz not null,
      updated_at timestamptz not null,
      constraint pool_allocation_has_parent check (kind = 'pool' or parent_id is not null),
      -- Siblings (children of one parent, or the roots) never overlap.
      constraint pool_siblings_no_overlap exclude using gist (
        (coalesce(parent_id, '00000000-0000-0000-0000-000000000000'::uuid)) with =, cidr inet_ops with &&)
    )`);
    this.addSql(`create unique index pool_name_unique on pool (name) where kind = 'pool'`);
    this.addSql(`create index pool_parent_id_index on pool (parent_id)`);
    this.addSql(`create index pool_account_id_index on pool (account_id)`);
    this.addSql(`create index pool_cidr_index on pool using gist (cidr inet_ops)`);
  }

  override down(): void {
    this.addSql(`drop table if exists pool`);
    this.addSql(`drop table if exists account`);
    this.addSql(`drop trigger if exists machine_release_leases on machine`);
    this.addSql(`drop function if exists machine_machine_release_leases_fn()`);
    this.addSql(`drop table if exists ip_lease`);
    this.addSql(`drop table if exists machine_ssh_keys`);
    this.addSql(`alter table machine drop column if exists network_id, drop column if exists domain,
      drop column if exists user_data_extras, drop column if exists metadata_fetches,
      drop column if exists phoned_home_at, drop column if exists phone_home_payload`);
    this.addSql(`drop table if exists network`);
    this.addSql(`drop table if exists ssh_key`);
  }
}
