// Secrets at rest: AES-256-GCM round trip, binding to the owner, key ids, tampering, key parsing
// and the generated 0600 key file (also under a creation race).
import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { thrown } from '../support/errors.ts';
import { keyId, openSecret, parseSecretKey, sealSecret } from '../../domain/secrets.ts';
import { hostSecretKey, loadOrCreateKeyFile } from '../../keyfiles/host-key.ts';

const key = randomBytes(32);

describe('sealed secrets', () => {
  it('round-trips and never contains the plaintext', () => {
    const sealed = sealSecret(key, 'calvin-Sup3r-s3cret', 'host:1');
    expect(sealed).toMatch(/^v1\.[0-9a-f]{12}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain('calvin');
    expect(openSecret(key, sealed, 'host:1')).toBe('calvin-Sup3r-s3cret');
    // Fresh IV every time.
    expect(sealSecret(key, 'calvin-Sup3r-s3cret', 'host:1')).not.toBe(sealed);
  });

  it('refuses another owner, another key and tampering, without echoing anything secret', () => {
    const sealed = sealSecret(key, 'pw-abc', 'host:1');
    expect(thrown(() => openSecret(key, sealed, 'host:2')).code).toBe('secret_key_mismatch');
    const other = thrown(() => openSecret(randomBytes(32), sealed, 'host:1'));
    expect(other.code).toBe('secret_key_mismatch');
    expect(other.message).toContain(keyId(key));
    const parts = sealed.split('.');
    parts[4] = Buffer.from(`x${Buffer.from(parts[4]!, 'base64url').toString('latin1')}`, 'latin1').toString('base64url');
    expect(thrown(() => openSecret(key, parts.join('.'), 'host:1')).code).toBe('secret_key_mismatch');
    expect(thrown(() => openSecret(key, 'garbage', 'host:1')).code).toBe('secret_key_mismatch');
    for (const e of [other]) expect(`${e.message} ${JSON.stringify(e)}`).not.toContain('pw-abc');
  });

  it('parses 32-byte keys as base64 or hex only', () => {
    expect(parseSecretKey(key.toString('base64')).equals(key)).toBe(true);
    expect(parseSecretKey(key.toString('base64url')).equals(key)).toBe(true);
    expect(parseSecretKey(key.toString('hex')).equals(key)).toBe(true);
    expect(() => parseSecretKey(randomBytes(16).toString('base64'))).toThrow(/32 bytes/);
    let msg = '';
    try {
      parseSecretKey('not-a-key-but-a-secret');
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).not.toContain('not-a-key-but-a-secret');
  });
});

describe('key file', () => {
  const made: string[] = [];
  const keyDir = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'hangar-key-'));
    made.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('is generated 0600 on first use and read back after', () => {
    const dir = keyDir();
    const path = join(dir, 'secrets', 'host-key');
    const k1 = loadOrCreateKeyFile(path);
    expect(k1.length).toBe(32);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(loadOrCreateKeyFile(path).equals(k1)).toBe(true);
    expect(hostSecretKey({ dataDir: dir, hosts: { keyFile: '' } }).equals(k1)).toBe(true);
    // The configured key wins over the file.
    expect(hostSecretKey({ dataDir: dir, hosts: { keyFile: '', secretKey: key.toString('hex') } }).equals(key)).toBe(true);
    expect(readFileSync(path, 'utf8').trim()).toBe(k1.toString('base64'));
  });

  it('refuses a key file others can read', () => {
    const dir = keyDir();
    const path = join(dir, 'host-key');
    writeFileSync(path, key.toString('base64'));
    chmodSync(path, 0o644);
    expect(() => loadOrCreateKeyFile(path)).toThrow(/chmod 600/);
  });

  it('gives racing creators the same key', async () => {
    const dir = keyDir();
    const path = join(dir, 'k');
    const keys = await Promise.all(Array.from({ length: 8 }, async () => loadOrCreateKeyFile(path)));
    for (const k of keys) expect(k.equals(keys[0]!)).toBe(true);
  });
});
