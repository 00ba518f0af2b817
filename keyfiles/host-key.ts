// The key that seals host credentials (domain/secrets.ts): HANGAR_HOST_SECRET_KEY (or its 0600
// _FILE), else a key file under the data folder that is generated, mode 0600, on first use.
// Reads and writes files, so it lives outside domain/.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { HangarError } from '../domain/errors.ts';
import { parseSecretKey } from '../domain/secrets.ts';

/**
 * Reads the key file, or creates it (32 random bytes, base64, mode 0600, folder 0700) when it does
 * not exist. Two processes racing to create it both end up with the one that won (O_EXCL).
 */
export function loadOrCreateKeyFile(path: string): Buffer {
  const file = resolve(path);
  const read = (): Buffer => {
    const mode = statSync(file).mode;
    if ((mode & 0o077) !== 0) {
      throw new HangarError('validation_failed', `${file} is readable by group or others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`);
    }
    return parseSecretKey(readFileSync(file, 'utf8'), file);
  };
  try {
    return read();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  try {
    writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  // Another process may have won the race and still be writing: give it a moment.
  for (let i = 0; ; i++) {
    try {
      return read();
    } catch (err) {
      if (i >= 20) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 25); // only on a creation race
    }
  }
}

export interface SecretKeySettings {
  dataDir: string;
  hosts: { secretKey?: string; keyFile: string };
}

/** The key for host credentials: the configured secret, else the key file (default <dataDir>/secrets/host-key). */
export function hostSecretKey(config: SecretKeySettings): Buffer {
  if (config.hosts.secretKey) return parseSecretKey(config.hosts.secretKey, 'HANGAR_HOST_SECRET_KEY');
  return loadOrCreateKeyFile(config.hosts.keyFile || resolve(config.dataDir, 'secrets', 'host-key'));
}
