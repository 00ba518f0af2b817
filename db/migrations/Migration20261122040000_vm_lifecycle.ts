import { Migration } from '@mikro-orm/migrations';

/** VM lifecycle: templates, data disks, and the machine's provider placement and power state. */
export class Migration20261122040000_vm_lifecycle extends Migration {
  override up(): void {
    this.addSql(`create table template (
      id uuid primary key,
      name varchar(255) not null,
      provider text not null check (provider in ('dryrun', 'qemu', 'proxmox', 'redfish')),
      node varchar(255) null,
      image text not null,
      checksum varchar(255) null,
      storage varchar(255) null,
      vmid int null,
      cpu int not null default 1 check (cpu > 0),
      memory_mb int not null default 512 check (memory_mb > 0),
      provider_ref varchar(255) null,
      state text not null default 'pending' check (state in ('pending', 'creating', 'ready', 'failed', 'deleting')),
      last_error text null,
      created_at timestamptz not null,
      updated_at timestamptz not null,
      constraint template_name_unique unique (name)
    )`);
    this.addSql(`create table disk (
      id uuid primary key,
      machine_id uuid not null constraint disk_machine_id_foreign references machine (id) on delete cascade,
      size_gb int not null check (size_gb > 0),
      storage varchar(255) null,
      slot varchar(255) null,
      volume text null,
      state text not null default 'attaching' check (state in ('attaching', 'attached', 'detaching', 'detached', 'failed')),
      last_error text null,
      created_at timestamptz not null,
      updated_at timestamptz not null
    )`);
    this.addSql(`create index disk_machine_id_index on disk (machine_id)`);
    this.addSql(`alter table machine
      add column vmid int null,
      add column clone_mode text null check (clone_mode in ('full', 'linked')),
      add column cloud_init_mode text null check (cloud_init_mode in ('iso', 'native')),
      add column power_state varchar(255) null,
      add column access jsonb null`);
  }

  override down(): void {
    this.addSql(`alter table machine drop column if exists vmid, drop column if exists clone_mode,
      drop column if exists cloud_init_mode, drop column if exists power_state, drop column if exists access`);
    this.addSql(`drop table if exists disk`);
    this.addSql(`drop table if exists template`);
  }
}
