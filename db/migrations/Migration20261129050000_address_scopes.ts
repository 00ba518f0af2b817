import { Migration } from '@mikro-orm/migrations';
import { GLOBAL_SCOPE_ID } from '../../domain/scopes.ts';
import { SCOPE_FOLLOWS_PARENT_BODY } from '../entities/pool.ts';

const ROOT = `'00000000-0000-0000-0000-000000000000'::uuid`;

/**
 * Address scopes (VRFs, docs/decisions/0022). Every existing pool moves into the built-in global
 * scope (the column default), and the sibling exclusion constraint gains `scope_id with =`: two
 * scopes may hold the same CIDR, siblings within one never overlap. A trigger keeps a child in its
 * parent's scope and a pool's scope fixed, so the constraint's scope always means the tree's.
 *
 * down() restores the previous constraint; it refuses (rather than losing data) while top-level
 * pools of different scopes overlap, since one global space cannot hold them.
 */
export class Migration20261129050000_address_scopes extends Migration {
  override up(): void {
    this.addSql(`create table address_scope (
      id uuid primary key,
      name varchar(255) not null,
      description text null,
      account_id uuid null constraint address_scope_account_id_foreign references account (id),
      region varchar(255) null,
      network_id varchar(255) null,
      created_at timestamptz not null,
      updated_at timestamptz not null,
      constraint address_scope_name_unique unique (name),
      constraint address_scope_binding_needs_account check (account_id is not null or (region is null and network_id is null))
    )`);
    this.addSql(`create index address_scope_account_id_index on address_scope (account_id)`);
    // One scope per cloud network: discovery finds "the scope of this VPC" unambiguously.
    this.addSql(
      `create unique index address_scope_network_unique on address_scope (account_id, coalesce(region, ''), network_id) where network_id is not null`,
    );
    this.addSql(`insert into address_scope (id, name, description, created_at, updated_at)
      values ('${GLOBAL_SCOPE_ID}', 'global', 'The default address space', now(), now())`);

    // A constant default fills every existing row without rewriting the table.
    this.addSql(`alter table pool add column scope_id uuid not null default '${GLOBAL_SCOPE_ID}'
      constraint pool_scope_id_foreign references address_scope (id)`);
    this.addSql(`create index pool_scope_id_index on pool (scope_id)`);
    this.addSql(`alter table pool drop constraint pool_siblings_no_overlap`);
    this.addSql(`alter table pool add constraint pool_siblings_no_overlap exclude using gist (
      scope_id with =, (coalesce(parent_id, ${ROOT})) with =, cidr inet_ops with &&)`);

    this.addSql(`create function pool_pool_scope_follows_parent_fn() returns trigger as $$ begin ${SCOPE_FOLLOWS_PARENT_BODY} end; $$ language plpgsql`);
    this.addSql(`create trigger pool_scope_follows_parent before insert or update on pool
      for each row execute function pool_pool_scope_follows_parent_fn()`);
  }

  override down(): void {
    this.addSql(`do $$ begin
      if exists (select 1 from pool a join pool b on a.id < b.id and a.cidr && b.cidr
                 where a.parent_id is null and b.parent_id is null and a.scope_id <> b.scope_id) then
        raise exception 'cannot revert address scopes: top-level pools of different scopes overlap; delete or renumber them first';
      end if;
    end $$`);
    this.addSql(`drop trigger if exists pool_scope_follows_parent on pool`);
    this.addSql(`drop function if exists pool_pool_scope_follows_parent_fn()`);
    this.addSql(`alter table pool drop constraint pool_siblings_no_overlap`);
    this.addSql(`alter table pool add constraint pool_siblings_no_overlap exclude using gist (
      (coalesce(parent_id, ${ROOT})) with =, cidr inet_ops with &&)`);
    this.addSql(`drop index if exists pool_scope_id_index`);
    this.addSql(`alter table pool drop column scope_id`);
    this.addSql(`drop table if exists address_scope`);
  }
}
