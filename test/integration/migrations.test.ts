// Migrations apply to an empty database, create the intended constraints, revert cleanly, and
// leave a schema that matches the entity metadata exactly.
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { openOrm, migrateDown, migrateUp, type MikroORM } from '../../db/orm.ts';
import { MIGRATIONS } from '../../db/migrations/index.ts';
import { testServices } from '../support/services.ts';
import { withDatabase } from '../support/global-setup.ts';

const dbName = `hangar_migrations_${randomUUID().slice(0, 8)}`;
let admin: pg.Client;
let orm: MikroORM;

beforeAll(async () => {
  admin = new pg.Client({ connectionString: testServices().adminDatabaseUrl });
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  orm = await openOrm({ url: withDatabase(testServices().adminDatabaseUrl, dbName), poolSize: 2 });
});

afterAll(async () => {
  await orm?.close();
  await admin.query(`drop database if exists ${dbName} with (force)`);
  await admin.end();
});

const tables = async () =>
  (
    await orm.em
      .getConnection()
      .execute<{ tablename: string }[]>(`select tablename from pg_tables where schemaname = 'public' and tablename <> 'mikro_orm_migrations' order by 1`)
  ).map((r) => r.tablename);

describe('migrations', () => {
  it('apply to an empty database', async () => {
    expect(await tables()).toEqual([]);
    expect(await migrateUp(orm)).toEqual(MIGRATIONS.map((m) => m.name));
    expect(await tables()).toEqual([
      'account',
      'address_scope',
      'api_token',
      'audit_event',
      'cloud_subnet',
      'cluster',
      'cluster_machine',
      'disk',
      'drift_finding',
      'drift_scan_target',
      'dryrun_call',
      'dryrun_vm',
      'host',
      'idempotency_record',
      'ip_lease',
      'machine',
      'machine_ssh_keys',
      'network',
      'operation',
      'pool',
      'ssh_key',
      'template',
    ]);
    expect(await migrateUp(orm)).toEqual([]);
  });

  it('create the unique and check constraints the code relies on', async () => {
    const rows = await orm.em
      .getConnection()
      .execute<{ conname: string; contype: string }[]>(
        `select conname, contype from pg_constraint where connamespace = 'public'::regnamespace order by conname`,
      );
    const names = rows.map((r) => `${r.conname}:${r.contype}`);
    for (const expected of [
      'machine_name_unique:u',
      'api_token_name_unique:u',
      'api_token_token_hash_unique:u',
      'idempotency_record_actor_key_unique:u',
      'dryrun_vm_machine_id_unique:u',
      'machine_cpu_check:c',
      'machine_state_check:c',
      'machine_provider_check:c',
      'api_token_role_check:c',
      'pool_siblings_no_overlap:x',
      'pool_scope_id_foreign:f',
      'address_scope_name_unique:u',
      'address_scope_binding_needs_account:c',
      'ssh_key_fingerprint_unique:u',
      'network_gateway_inside:c',
      'ip_lease_address_host:c',
      'machine_ssh_keys_ssh_key_id_foreign:f',
      'ip_lease_network_id_foreign:f',
      'pool_parent_id_foreign:f',
      'drift_finding_kind_check:c',
      'drift_finding_state_check:c',
      'drift_finding_resolved_at_check:c',
    ])
      expect(names).toContain(expected);
    const conn = orm.em.getConnection();
    await expect(
      conn.execute(`insert into machine (id, name, provider, cpu, memory_mb, disk_gb, metadata_token, created_at, updated_at)
      values (gen_random_uuid(), 'm', 'dryrun', 0, 1, 1, 't', now(), now())`),
    ).rejects.toThrow(/machine_cpu_check/);
    await expect(
      conn.execute(`insert into machine (id, name, provider, cpu, memory_mb, disk_gb, metadata_token, created_at, updated_at)
      values (gen_random_uuid(), 'm', 'vmware', 1, 1, 1, 't', now(), now())`),
    ).rejects.toThrow(/machine_provider_check/);
  });

  it('cascade and restrict as intended', async () => {
    const rules = await orm.em
      .getConnection()
      .execute<{ conname: string; confdeltype: string }[]>(
        `select conname, confdeltype from pg_constraint where contype = 'f' and connamespace = 'public'::regnamespace`,
      );
    const rule = Object.fromEntries(rules.map((r) => [r.conname, r.confdeltype]));
    // c = cascade, n = set null, a = no action
    expect(rule).toMatchObject({
      machine_ssh_keys_machine_id_foreign: 'c',
      machine_ssh_keys_ssh_key_id_foreign: 'c',
      ip_lease_network_id_foreign: 'c',
      ip_lease_machine_id_foreign: 'n',
      machine_network_id_foreign: 'n',
      pool_parent_id_foreign: 'a',
      pool_account_id_foreign: 'n',
      pool_scope_id_foreign: 'a',
      address_scope_account_id_foreign: 'a',
    });
    const indexes = await orm.em.getConnection().execute<{ indexdef: string }[]>(`select indexdef from pg_indexes where indexname = 'ip_lease_live_unique'`);
    expect(indexes[0]?.indexdef).toMatch(/UNIQUE INDEX .* \(network_id, address\) WHERE \(state <> 'released'::text\)/);
    const triggers = await orm.em.getConnection().execute<{ tgname: string }[]>(`select tgname from pg_trigger where tgname = 'machine_release_leases'`);
    expect(triggers).toHaveLength(1);
    const drift = await orm.em
      .getConnection()
      .execute<{ indexdef: string }[]>(`select indexdef from pg_indexes where indexname = 'drift_finding_unresolved_unique'`);
    expect(drift[0]?.indexdef).toMatch(/UNIQUE INDEX .* \(resource_type, resource_id, kind\) WHERE \(state <> 'resolved'::text\)/);
  });

  it('match the entity metadata (no pending schema difference)', async () => {
    const diff = await orm.schema.getUpdateSchemaSQL({ wrap: false, safe: false, dropTables: false });
    // Exclusion constraints cannot be declared in MikroORM metadata; the diff would drop ours.
    const relevant = diff.split('\n').filter((l) => l.trim() && !l.includes('pool_siblings_no_overlap'));
    expect(relevant).toEqual([]);
  });

  it('revert completely and apply again', async () => {
    expect(await migrateDown(orm)).toEqual([...MIGRATIONS].reverse().map((m) => m.name));
    expect(await tables()).toEqual([]);
    expect(await migrateUp(orm)).toEqual(MIGRATIONS.map((m) => m.name));
  });
});
