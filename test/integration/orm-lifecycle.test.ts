// A closed ORM stays closed. MikroORM would otherwise reconnect for a query that arrives after
// close() (a deferred write outliving shutdown) and the new pool's idle connection would keep
// the process alive: the cause of jest force-exiting a worker at the end of the suite.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { openOrm } from '../../db/orm.ts';
import { withDatabase } from '../support/global-setup.ts';
import { waitFor } from '../support/harness.ts';
import { testServices } from '../support/services.ts';

// A database of its own, so the connections counted are this test's alone.
const dbName = `hangar_orm_lifecycle_${randomUUID().slice(0, 8)}`;
let admin: pg.Client;

beforeAll(async () => {
  admin = new pg.Client({ connectionString: testServices().adminDatabaseUrl });
  await admin.connect();
  await admin.query(`create database ${dbName}`);
});

afterAll(async () => {
  await admin.query(`drop database if exists ${dbName} with (force)`);
  await admin.end();
});

const connections = async () => (await admin.query<{ n: number }>('select count(*)::int as n from pg_stat_activity where datname = $1', [dbName])).rows[0]!.n;

describe('the ORM after close()', () => {
  it('refuses queries instead of opening a new pool', async () => {
    const orm = await openOrm({ url: withDatabase(testServices().adminDatabaseUrl, dbName), poolSize: 2 });
    await orm.em.fork().getConnection().execute('select 1');
    expect(await connections()).toBe(1);
    await orm.close();
    // The server notices a closed connection a moment later.
    await waitFor('the closed pool to leave pg_stat_activity', async () => (await connections()) === 0, 10_000, 50);

    await expect(orm.em.fork().getConnection().execute('select 1')).rejects.toThrow('the database connection was closed');
    expect(await connections()).toBe(0);
  });
});
