// OpenSSH public keys: parsed from the wire format inside the base64 blob, not trusted by the
// type word in front of it; fingerprinted the way `ssh-keygen -l` does (SHA256, unpadded base64).
import { createHash } from 'node:crypto';
import { HangarError } from './errors.ts';

export interface ParsedSshKey {
  type: string;
  bits: number;
  fingerprint: string;
  comment: string | null;
  /** `<type> <base64> [comment]`, single-spaced: what goes into authorized_keys. */
  normalized: string;
}

const ECDSA_CURVES: Record<string, { curve: string; bits: number; pointLength: number }> = {
  'ecdsa-sha2-nistp256': { curve: 'nistp256', bits: 256, pointLength: 65 },
  'ecdsa-sha2-nistp384': { curve: 'nistp384', bits: 384, pointLength: 97 },
  'ecdsa-sha2-nistp521': { curve: 'nistp521', bits: 521, pointLength: 133 },
};
export const SUPPORTED_KEY_TYPES = ['ssh-ed25519', 'ssh-rsa', ...Object.keys(ECDSA_CURVES)];
export const MIN_RSA_BITS = 2048;

const invalid = (detail: string) => new HangarError('invalid_ssh_key', detail, { public_key: detail });

/** Reads SSH wire-format strings (uint32 length + bytes) from a blob. */
class WireReader {
  private offset = 0;
  private readonly buf: Buffer;
  constructor(buf: Buffer) {
    this.buf = buf;
  }
  string(): Buffer {
    if (this.offset + 4 > this.buf.length) throw invalid('key data is truncated');
    const len = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    if (len > this.buf.length - this.offset) throw invalid('key data is truncated');
    const out = this.buf.subarray(this.offset, this.offset + len);
    this.offset += len;
    return out;
  }
  done(): boolean {
    return this.offset === this.buf.length;
  }
}

function bitLength(mpint: Buffer): number {
  let i = 0;
  while (i < mpint.length && mpint[i] === 0) i++;
  if (i === mpint.length) return 0;
  return (mpint.length - i - 1) * 8 + (32 - Math.clz32(mpint[i]!));
}

export function sshFingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export function parseSshPublicKey(text: string): ParsedSshKey {
  if (typeof text !== 'string') throw invalid('public key must be a string');
  const line = text.trim();
  if (!line) throw invalid('public key is empty');
  if (/[\r\n]/.test(line)) throw invalid('public key must be a single line');
  if (line.length > 16_384) throw invalid('public key is too long');
  const [type, data, ...rest] = line.split(/\s+/);
  if (!type || !data) throw invalid('expected "<type> <base64 key> [comment]"');
  if (!SUPPORTED_KEY_TYPES.includes(type)) {
    throw invalid(`unsupported key type "${type.slice(0, 40)}"; use one of ${SUPPORTED_KEY_TYPES.join(', ')}`);
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(data)) throw invalid('key data is not base64');
  const blob = Buffer.from(data, 'base64');
  if (blob.toString('base64') !== data) throw invalid('key data is not canonical base64');

  const reader = new WireReader(blob);
  const innerType = reader.string().toString('latin1');
  if (innerType !== type) throw invalid(`key data says "${innerType.slice(0, 40)}" but the line says "${type}"`);

  let bits: number;
  if (type === 'ssh-ed25519') {
    if (reader.string().length !== 32) throw invalid('ed25519 key must be 32 bytes');
    bits = 256;
  } else if (type === 'ssh-rsa') {
    const e = reader.string();
    const n = reader.string();
    if (bitLength(e) < 2) throw invalid('RSA exponent is invalid');
    bits = bitLength(n);
    if (bits < MIN_RSA_BITS) throw invalid(`RSA key has ${bits} bits; at least ${MIN_RSA_BITS} are required`);
  } else {
    const spec = ECDSA_CURVES[type]!;
    const curve = reader.string().toString('latin1');
    if (curve !== spec.curve) throw invalid(`ECDSA curve "${curve.slice(0, 20)}" does not match ${type}`);
    const point = reader.string();
    if (point.length !== spec.pointLength || point[0] !== 0x04) throw invalid(`ECDSA ${spec.curve} point is malformed`);
    bits = spec.bits;
  }
  if (!reader.done()) throw invalid('key data has trailing bytes');

  const comment = rest.join(' ') || null;
  return { type, bits, fingerprint: sshFingerprint(blob), comment, normalized: comment ? `${type} ${data} ${comment}` : `${type} ${data}` };
}
