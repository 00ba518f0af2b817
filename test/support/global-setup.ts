// Starts PostgreSQL and Temporal for the suite unless DATABASE_URL / TEMPORAL_ADDRESS point at
// running ones, then creates a fresh, migrated test database.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import pg from 'pg';
import { ROOT, TEST_DATA_DIR, servicesFile, type TestServices } from './services.ts';
import { openOrm, migrateUp } from '../../db/orm.ts';

const PG_PORT = process.env.HANGAR_TEST_PG_PORT ?? '54339';
const TEMPORAL_PORT = process.env.HANGAR_TEST_TEMPORAL_PORT ?? '17233';

export default async function globalSetup(): Promise<void> {
  mkdirSync(TEST_DATA_DIR, { recursive: true });
  const external = process.env.HANGAR_TEST_DATABASE_URL && process.env.HANGAR_TEST_TEMPORAL_ADDRESS;
  let adminUrl: string;
  let temporalAddress: string;
  if (external) {
    adminUrl = process.env.HANGAR_TEST_DATABASE_URL!;
    temporalAddress = process.env.HANGAR_TEST_TEMPORAL_ADDRESS!;
  } else {
    const out = execFileSync('bash', [resolve(ROOT, 'scripts/services.sh'), 'up'], {
      env: {
        ...process.env,
        HANGAR_DATA_DIR: TEST_DATA_DIR,
        HANGAR_PG_PORT: PG_PORT,
        HANGAR_TEMPORAL_PORT: TEMPORAL_PORT,
        HANGAR_TEMPORAL_HEADLESS: '1',
        DATABASE_URL: '',
        TEMPORAL_ADDRESS: '',
      },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: 180_000,
    });
    const file = /DATABASE_URL_FILE=(.+)/.exec(out)?.[1];
    temporalAddress = /TEMPORAL_ADDRESS=(.+)/.exec(out)?.[1] ?? '';
    if (!file || !temporalAddress) throw new Error(`services.sh up printed no coordinates:\n${out}`);
    adminUrl = readFileSync(file.trim(), 'utf8').trim();
  }

  // A fresh database per run: tests never see data from an earlier run.
  const testDb = `hangar_test_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`drop database if exists ${testDb} with (force)`);
  await admin.query(`create database ${testDb}`);
  await admin.end();
  const databaseUrl = withDatabase(adminUrl, testDb);
  const orm = await openOrm({ url: databaseUrl, poolSize: 2 });
  await migrateUp(orm);
  await orm.close();

  const services: TestServices = { databaseUrl, databaseName: testDb, adminDatabaseUrl: adminUrl, temporalAddress, started: !external };
  const file = servicesFile();
  writeFileSync(file, JSON.stringify(services, null, 2), { mode: 0o600 });
  // Test workers are forked after this and inherit the variable.
  process.env.HANGAR_TEST_SERVICES_FILE = file;
}

export function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}
