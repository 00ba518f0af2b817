// Secrets at rest: AES-256-GCM with a 32-byte key, for credentials Hangar must be able to use
// again (BMC passwords). A sealed value names the key it was sealed with (a short key id) and is
// bound to its owner by additional authenticated data, so a ciphertext copied onto another row
// does not open. Where the key comes from (configuration or a generated key file) is
// keyfiles/host-key.ts: this module only seals, opens and parses, and touches no files.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { HangarError } from './errors.ts';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A 32-byte key from base64 (44 characters, standard or url alphabet) or hex (64 digits). */
export function parseSecretKey(text: string, origin = 'the host secret key'): Buffer {
  const t = text.trim();
  let key: Buffer | null = null;
  if (/^[0-9a-fA-F]{64}$/.test(t)) key = Buffer.from(t, 'hex');
  else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(t)) key = Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (!key || key.length !== 32) {
    // Never echo the value: it is (meant to be) a secret.
    throw new HangarError('validation_failed', `${origin} must be 32 bytes as base64 (44 characters) or hex (64 digits)`);
  }
  return key;
}

/** A short, non-secret fingerprint of the key: which key sealed a value. */
export function keyId(key: Buffer): string {
  return createHash('sha256').update('hangar-secret-key-id\0').update(key).digest('hex').slice(0, 12);
}

/** Seals `plaintext` for `owner` (e.g. `host:<id>`): `v1.<key id>.<iv>.<tag>.<ciphertext>` (base64url). */
export function sealSecret(key: Buffer, plaintext: string, owner: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(owner, 'utf8'));
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [VERSION, keyId(key), iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
}

/** Opens a value sealed by sealSecret for the same owner; a wrong key, owner or tampering is refused. */
export function openSecret(key: Buffer, sealed: string, owner: string): string {
  const parts = sealed.split('.');
  if (parts.length !== 5 || parts[0] !== VERSION) {
    throw new HangarError('secret_key_mismatch', 'stored credentials are not in a format this version understands');
  }
  const [, kid, iv, tag, ct] = parts as [string, string, string, string, string];
  if (kid !== keyId(key)) {
    throw new HangarError(
      'secret_key_mismatch',
      `stored credentials were sealed with key ${kid} but the configured key is ${keyId(key)}; restore that key (HANGAR_HOST_SECRET_KEY or the key file) or set the password again`,
    );
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(owner, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    throw new HangarError('secret_key_mismatch', 'stored credentials failed authentication (tampered, or sealed for another record); set the password again');
  }
}
