// The address-scope migration on a database that already holds pools: up moves them into the
// global scope, down restores the previous constraint (refusing while scopes overlap), up again.
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { openOrm, migrateDown, type MikroORM } from '../../db/orm.ts';
import { testServices } from '../support/services.ts';
import { withDatabase } from '../support/global-setup.ts';

const dbName = `hangar_scopes_mig_${randomUUID().slice(0, 8)}`;
const SCOPES = 'Migration20261129050000_address_scopes';
// The migration just before it: later ones are not this test's business.
const BEFORE = 'Migration20261129030000_host_drift_policy';
const GLOBAL = '00000000-0000-4000-8000-000000000000';
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

/** Applies the scope migration alone and returns what was applied. */
const upToScopes = async () => (await orm.migrator.up({ to: SCOPES })).map((m) => m.name);
const sql = <T = Record<string, unknown>>(text: string, params: unknown[] = []) => orm.em.getConnection().execute<T[]>(text, params);
const overlapDef = async () =>
  (await sql<{ def: string }>(`select pg_get_constraintdef(oid) as def from pg_constraint where conname = 'pool_siblings_no_overlap'`))[0]!.def;
const insertRoot = (cidr: string, extra = '', values: unknown[] = []) =>
  sql(
    `insert into pool (id, kind, name, cidr${extra ? `, ${extra}` : ''}, created_at, updated_at)
     values (gen_random_uuid(), 'pool', ?, ?::cidr${values.map(() => ', ?').join('')}, now(), now()) returning id`,
    [`p-${randomUUID().slice(0, 8)}`, cidr, ...values],
  );

describe('address-scope migration', () => {
  it('moves existing pools into the global scope, reverts to the old constraint and applies again', async () => {
    await orm.migrator.up({ to: BEFORE });
    const [root] = await insertRoot('172.31.0.0/16');
    await sql(
      `insert into pool (id, kind, name, cidr, parent_id, created_at, updated_at) values (gen_random_uuid(), 'allocation', 'a', '172.31.0.0/20', ?, now(), now())`,
      [root!.id],
    );
    expect(await overlapDef()).not.toContain('scope_id');

    expect(await upToScopes()).toEqual([SCOPES]);
    expect(await sql(`select distinct scope_id from pool`)).toEqual([{ scope_id: GLOBAL }]);
    expect(await overlapDef()).toMatch(/scope_id WITH =.*cidr inet_ops WITH &&/);
    const [other] = await sql<{ id: string }>(
      `insert into address_scope (id, name, created_at, updated_at) values (gen_random_uuid(), 'vpc-b', now(), now()) returning id`,
    );
    // The same CIDR in another scope is accepted; in the same scope it is not.
    const [dup] = await insertRoot('172.31.0.0/16', 'scope_id', [other!.id]);
    await expect(insertRoot('172.31.128.0/17')).rejects.toThrow(/pool_siblings_no_overlap/);

    // One global space cannot hold both: down refuses with a clear reason and changes nothing.
    await expect(migrateDown(orm, BEFORE)).rejects.toThrow(/top-level pools of different scopes overlap/);
    expect(await overlapDef()).toContain('scope_id');
    await sql(`delete from pool where id = ?`, [dup!.id]);

    expect(await migrateDown(orm, BEFORE)).toEqual([SCOPES]);
    expect(await overlapDef()).not.toContain('scope_id');
    expect(await sql(`select column_name from information_schema.columns where table_name = 'pool' and column_name = 'scope_id'`)).toEqual([]);
    expect(await sql(`select tablename from pg_tables where tablename = 'address_scope'`)).toEqual([]);
    expect(await sql(`select tgname from pg_trigger where tgname = 'pool_scope_follows_parent'`)).toEqual([]);
    await expect(insertRoot('172.31.128.0/17')).rejects.toThrow(/pool_siblings_no_overlap/);
    expect((await sql<{ n: string }>(`select count(*) as n from pool`))[0]!.n).toBe('2');

    expect(await upToScopes()).toEqual([SCOPES]);
    expect(await sql(`select distinct scope_id from pool`)).toEqual([{ scope_id: GLOBAL }]);
    expect(await sql(`select name from address_scope`)).toEqual([{ name: 'global' }]);
    expect(await sql(`select tgname from pg_trigger where tgname = 'pool_scope_follows_parent'`)).toHaveLength(1);
  });
});
