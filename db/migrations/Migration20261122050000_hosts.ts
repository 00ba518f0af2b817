import { Migration } from '@mikro-orm/migrations';

/** Bare-metal hosts (sealed BMC credentials, state machine, conditions) and clusters of machines. */
export class Migration20261122050000_hosts extends Migration {
  override up(): void {
    this.addSql(`create table host (
      id uuid primary key,
      name varchar(255) not null,
      description text null,
      bmc_address text not null,
      username varchar(255) not null,
      password_sealed text not null,
      verify_tls boolean not null default true,
      ca_pem text null,
      fingerprint varchar(255) null,
      boot_mac varchar(255) null,
      tags jsonb not null default '[]',
      state text not null default 'available'
        constraint host_state_check check (state in ('available', 'claimed', 'provisioning', 'provisioned', 'deprovisioning', 'error', 'maintenance')),
      claimed_by uuid null constraint host_claimed_by_foreign references machine (id) on delete set null,
      claimed_at timestamptz null,
      vendor varchar(255) null,
      model varchar(255) null,
      serial_number varchar(255) null,
      power_state varchar(255) null,
      boot_modes jsonb null,
      virtual_media_supported boolean null,
      inventory jsonb null,
      inspected_at timestamptz null,
      conditions jsonb not null default '[]',
      last_error text null,
      created_at timestamptz not null,
      updated_at timestamptz not null,
      constraint host_name_unique unique (name)
    )`);
    this.addSql(`create index host_state_index on host (state)`);
    // A machine claims at most one host; the claim itself is a conditional UPDATE (SKIP LOCKED).
    this.addSql(`create unique index host_claimed_by_unique on host (claimed_by) where claimed_by is not null`);

    this.addSql(`create table cluster (
      id uuid primary key,
      name varchar(255) not null,
      description text null,
      control_plane_vip varchar(255) null,
      control_plane_port int not null default 6443 constraint cluster_control_plane_port_check check (control_plane_port >= 1 and control_plane_port <= 65535),
      created_at timestamptz not null,
      updated_at timestamptz not null,
      constraint cluster_name_unique unique (name)
    )`);
    this.addSql(`create table cluster_machine (
      machine_id uuid primary key constraint cluster_machine_machine_id_foreign references machine (id) on update cascade on delete cascade,
      cluster_id uuid not null constraint cluster_machine_cluster_id_foreign references cluster (id) on delete cascade,
      role text not null constraint cluster_machine_role_check check (role in ('control-plane', 'worker')),
      created_at timestamptz not null
    )`);
    this.addSql(`create index cluster_machine_cluster_id_index on cluster_machine (cluster_id)`);
  }

  override down(): void {
    this.addSql(`drop table if exists cluster_machine`);
    this.addSql(`drop table if exists cluster`);
    this.addSql(`drop table if exists host`);
  }
}
