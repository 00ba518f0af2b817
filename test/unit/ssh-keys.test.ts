import { afterAll, describe, expect, it, beforeAll } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HangarError } from '../../domain/errors.ts';
import { parseSshPublicKey } from '../../domain/ssh-keys.ts';

const dir = mkdtempSync(join(tmpdir(), 'hangar-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const keys: Record<string, { line: string; fingerprint: string; bits: number }> = {};

function generate(name: string, args: string[]) {
  const file = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-N', '', '-C', `${name}@test`, '-f', file, ...args]);
  const line = readFileSync(`${file}.pub`, 'utf8').trim();
  // `ssh-keygen -l` is the reference for bits and fingerprint.
  const [bits, fingerprint] = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`], { encoding: 'utf8' }).split(' ');
  keys[name] = { line, fingerprint: fingerprint!, bits: Number(bits) };
}

beforeAll(() => {
  generate('ed25519', ['-t', 'ed25519']);
  generate('ecdsa256', ['-t', 'ecdsa', '-b', '256']);
  generate('ecdsa384', ['-t', 'ecdsa', '-b', '384']);
  generate('ecdsa521', ['-t', 'ecdsa', '-b', '521']);
  generate('rsa2048', ['-t', 'rsa', '-b', '2048']);
  generate('rsa4096', ['-t', 'rsa', '-b', '4096']);
  generate('rsa1024', ['-t', 'rsa', '-b', '1024']);
});

const rejects = (text: string, pattern: RegExp) => {
  let err: unknown;
  try {
    parseSshPublicKey(text);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(HangarError);
  expect((err as HangarError).code).toBe('invalid_ssh_key');
  expect((err as HangarError).message).toMatch(pattern);
};

describe('SSH public keys', () => {
  for (const name of ['ed25519', 'ecdsa256', 'ecdsa384', 'ecdsa521', 'rsa2048', 'rsa4096']) {
    it(`accepts ${name} with the fingerprint and size ssh-keygen reports`, () => {
      const parsed = parseSshPublicKey(`  ${keys[name]!.line}  `);
      expect(parsed.fingerprint).toBe(keys[name]!.fingerprint);
      expect(parsed.bits).toBe(keys[name]!.bits);
      expect(parsed.comment).toBe(`${name}@test`);
      expect(parsed.normalized).toBe(keys[name]!.line);
    });
  }

  it('refuses RSA keys under 2048 bits', () => {
    rejects(keys.rsa1024!.line, /1024 bits; at least 2048/);
  });

  it('refuses a type word that disagrees with the key data', () => {
    const [, data] = keys.ed25519!.line.split(' ');
    rejects(`ssh-rsa ${data}`, /key data says "ssh-ed25519"/);
  });

  it('refuses malformed, truncated and unsupported keys', () => {
    const [type, data] = keys.ed25519!.line.split(' ');
    rejects('', /empty/);
    rejects('ssh-ed25519', /expected/);
    rejects(`ssh-dss ${data}`, /unsupported key type/);
    rejects(`${type} not*base64`, /not base64/);
    rejects(`${type} ${data!.slice(0, 40)}`, /truncated|canonical/);
    rejects(`${keys.ed25519!.line}\n${keys.rsa2048!.line}`, /single line/);
    rejects(`${type} ${Buffer.concat([Buffer.from(data!, 'base64'), Buffer.from([0, 0, 0, 0])]).toString('base64')}`, /trailing bytes/);
  });
});
