// Where the test services live. The global set-up starts them (or finds them running) and writes
// their coordinates here; every test file reads them back with `testServices()`.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const TEST_DATA_DIR = process.env.HANGAR_TEST_DATA_DIR ?? resolve(ROOT, '.data/test');
/** Per jest run, so two runs (say, two developers' helpers) can share the services safely. */
export const servicesFile = () => process.env.HANGAR_TEST_SERVICES_FILE ?? resolve(TEST_DATA_DIR, `services-${process.pid}.json`);
export const TEMPORAL_BIN = resolve(ROOT, '.tools/bin/temporal');

export interface TestServices {
  /** The test database, migrated fresh for this run. */
  databaseUrl: string;
  databaseName: string;
  /** The server's maintenance database URL, for tests that create throwaway databases. */
  adminDatabaseUrl: string;
  temporalAddress: string;
  /** Whether the set-up started the services (then the teardown stops them). */
  started: boolean;
}

export function testServices(): TestServices {
  return JSON.parse(readFileSync(servicesFile(), 'utf8')) as TestServices;
}
