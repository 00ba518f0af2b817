import { Migration } from '@mikro-orm/migrations';

/** Machines, API tokens, audit log, operations, idempotency records and the dry-run ledger. */
export class Migration20261122000000_foundation extends Migration {
  override up(): void {
    this.addSql(`create table machine (
      id uuid primary key,
      name varchar(255) not null,
      kind text not null default 'vm' check (kind in ('vm', 'baremetal')),
      provider text not null check (provider in ('dryrun', 'qemu', 'proxmox', 'redfish')),
      state text not null default 'pending'
        check (state in ('pending', 'provisioning', 'ready', 'failed', 'deprovisioning', 'deleted')),
      cpu int not null check (cpu > 0),
      memory_mb int not null check (memory_mb > 0),
      disk_gb int not null check (disk_gb > 0),
      target_node varchar(255) null,
      provider_id varchar(255) null,
      template varchar(255) null,
      metadata_token varchar(255) not null,
      conditions jsonb not null default '[]',
      last_error text null,
      created_at timestamptz not null,
      updated_at timestamptz not null,
      constraint machine_name_unique unique (name)
    )`);
    this.addSql(`create index machine_state_index on machine (state)`);

    this.addSql(`create table api_token (
      id uuid primary key,
      name varchar(255) not null,
      role text not null check (role in ('viewer', 'operator', 'admin')),
      token_hash varchar(255) not null,
      prefix varchar(255) not null,
      created_at timestamptz not null,
      last_used_at timestamptz null,
      revoked_at timestamptz null,
      constraint api_token_name_unique unique (name),
      constraint api_token_token_hash_unique unique (token_hash)
    )`);

    this.addSql(`create table audit_event (
      id bigserial primary key,
      at timestamptz not null,
      actor varchar(255) not null,
      action varchar(255) not null,
      resource_type varchar(255) not null,
      resource_id varchar(255) null,
      request_id varchar(255) not null,
      status_code int not null,
      detail jsonb null
    )`);
    this.addSql(`create index audit_event_at_index on audit_event (at)`);

    this.addSql(`create table operation (
      id uuid primary key,
      kind varchar(255) not null,
      workflow_id varchar(255) not null,
      run_id varchar(255) null,
      resource_type varchar(255) not null,
      resource_id varchar(255) not null,
      requested_by varchar(255) not null,
      created_at timestamptz not null
    )`);
    this.addSql(`create index operation_resource_index on operation (resource_type, resource_id)`);

    this.addSql(`create table idempotency_record (
      id uuid primary key,
      actor varchar(255) not null,
      key varchar(255) not null,
      method varchar(255) not null,
      path varchar(255) not null,
      request_hash varchar(255) not null,
      status_code int null,
      response_body jsonb null,
      created_at timestamptz not null,
      constraint idempotency_record_actor_key_unique unique (actor, key)
    )`);

    this.addSql(`create table dryrun_vm (
      id varchar(255) primary key,
      machine_id uuid not null,
      name varchar(255) not null,
      cpu int null,
      memory_mb int null,
      disk_gb int null,
      power_state text not null default 'stopped' check (power_state in ('stopped', 'running')),
      created_at timestamptz not null,
      constraint dryrun_vm_machine_id_unique unique (machine_id)
    )`);
    this.addSql(`create table dryrun_call (
      id bigserial primary key,
      machine_id uuid not null,
      method varchar(255) not null,
      args jsonb not null,
      effect text not null check (effect in ('applied', 'noop')),
      at timestamptz not null
    )`);
    this.addSql(`create index dryrun_call_machine_id_index on dryrun_call (machine_id)`);
  }

  override down(): void {
    for (const table of ['dryrun_call', 'dryrun_vm', 'idempotency_record', 'operation', 'audit_event', 'api_token', 'machine']) {
      this.addSql(`drop table if exists ${table}`);
    }
  }
}
