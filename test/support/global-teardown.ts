// Stops the services the set-up started; leaves alone any the developer was already running.
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { ROOT, TEST_DATA_DIR, testServices } from './services.ts';

export default async function globalTeardown(): Promise<void> {
  if (process.env.HANGAR_TEST_KEEP_SERVICES === '1') return;
  if (!testServices().started) return;
  execFileSync('bash', [resolve(ROOT, 'scripts/services.sh'), 'down'], {
    env: { ...process.env, HANGAR_DATA_DIR: TEST_DATA_DIR },
    // Quiet, so jest's summary stays the last line of the run.
    stdio: 'ignore',
    timeout: 60_000,
  });
}
