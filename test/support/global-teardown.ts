// Stops the services the set-up started; leaves alone any the developer was already running.
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { rmSync } from 'node:fs';
import pg from 'pg';
import { ROOT, TEST_DATA_DIR, servicesFile, testServices } from './services.ts';

export default async function globalTeardown(): Promise<void> {
  const services = testServices();
  const admin = new pg.Client({ connectionString: services.adminDatabaseUrl });
  await admin.connect();
  await admin.query(`drop database if exists ${services.databaseName} with (force)`);
  await admin.end();
  rmSync(servicesFile(), { force: true });
  if (process.env.HANGAR_TEST_KEEP_SERVICES === '1') return;
  if (!services.started) return;
  execFileSync('bash', [resolve(ROOT, 'scripts/services.sh'), 'down'], {
    env: { ...process.env, HANGAR_DATA_DIR: TEST_DATA_DIR },
    // Quiet, so jest's summary stays the last line of the run.
    stdio: 'ignore',
    timeout: 60_000,
  });
}
