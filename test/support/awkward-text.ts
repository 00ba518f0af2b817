// Text that PostgreSQL refuses, and text that is merely unusual, for property tests at the API.
import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';

/** NUL or a lone UTF-16 surrogate somewhere: PostgreSQL cannot store it (or the driver alters it). */
export const isUnstorable = (s: string): boolean => s.includes('\u0000') || /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);

const poison = fc.constantFrom('\u0000', '\uD800', '\uDBFF', '\uDC00', '\uDFFF', '\uD83D');

/** Arbitrary unicode (every code point, half surrogates included), often with NUL or a lone surrogate spliced in. */
export const awkwardText: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 24 }),
  fc.tuple(fc.string({ unit: 'binary', maxLength: 12 }), poison, fc.string({ unit: 'binary', maxLength: 12 })).map(([a, p, b]) => `${a}${p}${b}`),
  fc.tuple(fc.constantFrom('web', 'a.b', '10.0.0.1', 'aws:123456789012'), poison).map(([a, p]) => `${a}${p}`),
  fc.string({ unit: 'binary', minLength: 250, maxLength: 1200 }),
);

/**
 * Percent-encodes any JS string for a URL, lone surrogates included (as their WTF-8 bytes, which is
 * what a client that does not check would send); encodeURIComponent throws on those.
 */
export function encodeAny(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0xd800 && cp <= 0xdfff) {
      out += [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
    } else {
      out += encodeURIComponent(ch);
    }
  }
  return out;
}

/** A fresh, valid OpenSSH ed25519 public key line. */
export function ed25519PublicKey(comment = 'test@hangar'): string {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const str = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  return `ssh-ed25519 ${Buffer.concat([str(Buffer.from('ssh-ed25519')), str(raw)]).toString('base64')} ${comment}`;
}

/** Where a property test puts its text in a request body: a field (dotted path) or a record key. */
export interface TextSlot {
  /** The field the 400 must name (its top-level name is enough). */
  field: string;
  put: (body: Record<string, unknown>, text: string) => Record<string, unknown>;
}

/** The value at a dotted path ("regions.0", "user_data_extras.motd"); arrays are made for numeric parts. */
export function at(path: string): TextSlot {
  const parts = path.split('.');
  return {
    field: parts[0]!,
    put: (body, text) => {
      const copy = structuredClone(body);
      let node = copy as Record<string, unknown>;
      parts.slice(0, -1).forEach((part, i) => {
        node[part] ??= /^\d+$/.test(parts[i + 1]!) ? [] : {};
        node = node[part] as Record<string, unknown>;
      });
      node[parts.at(-1)!] = text;
      return copy;
    },
  };
}

/** A key of the record at `path` (tags, user-data extras). */
export function keyOf(path: string): TextSlot {
  return { field: path, put: (body, text) => ({ ...structuredClone(body), [path]: { [text]: 'value' } }) };
}
