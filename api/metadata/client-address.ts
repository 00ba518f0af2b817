// Who is asking the metadata service: the client address for source-address mode and for the
// `from` of the fetch record, with X-Forwarded-For believed only from trusted proxies.
import { containsAddress, formatAddress, parseAddress, parseCidr, type Cidr } from '../../domain/cidr.ts';
import { HangarError } from '../../domain/errors.ts';

export interface AddressPolicy {
  trusted: Cidr[];
}

/** Parses config.metadata.trustedProxies; a bare address means that one host. Bad entries stop start-up. */
export function parseTrustedProxies(text: string): Cidr[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      try {
        if (entry.includes('/')) return parseCidr(entry, { strict: false });
        const a = parseAddress(normaliseAddress(entry));
        return { version: a.version, network: a.value, prefix: a.version === 4 ? 32 : 128 };
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        throw new HangarError('validation_failed', `HANGAR_METADATA_TRUSTED_PROXIES: ${JSON.stringify(entry)} is not a CIDR: ${why}`, {
          'metadata.trustedProxies': 'must be a comma-separated list of CIDRs',
        });
      }
    });
}

/** ::ffff:10.0.0.5 → 10.0.0.5 (dual-stack sockets), and no IPv6 zone id. */
export function normaliseAddress(text: string): string {
  let a = text.trim().toLowerCase();
  const zone = a.indexOf('%');
  if (zone >= 0) a = a.slice(0, zone);
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(a);
  return mapped ? mapped[1]! : a;
}

/** Canonical text of an address, or null when it is not one. */
function canonical(text: string): string | null {
  try {
    const a = parseAddress(normaliseAddress(text));
    return formatAddress(a.version, a.value);
  } catch {
    return null;
  }
}

function isTrusted(policy: AddressPolicy, address: string): boolean {
  const a = parseAddress(address);
  return policy.trusted.some((c) => containsAddress(c, a));
}

/**
 * Who is asking. The socket's peer address, unless that peer is a trusted proxy: then
 * X-Forwarded-For is read from the RIGHT, skipping trusted proxies, and the first address that
 * is not one is the client. Each proxy appends the address it received the request from, so
 * entries right of the first untrusted hop were written by proxies we trust, while anything to
 * its left came from the client and may be forged (taking the left-most entry would let a
 * machine claim another's address). If every entry is a trusted proxy, the left-most one is the
 * client. A malformed entry on the path makes the client unknown (null): guessing past it
 * could attribute the request to someone else. X-Forwarded-For from an untrusted peer is ignored.
 */
export function clientAddress(policy: AddressPolicy, peer: string | undefined, forwardedFor: string | string[] | undefined): string | null {
  const direct = peer ? canonical(peer) : null;
  if (direct === null || !isTrusted(policy, direct)) return direct;
  const header = Array.isArray(forwardedFor) ? forwardedFor.join(',') : (forwardedFor ?? '');
  const hops = header
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!hops.length) return direct;
  let address: string | null = direct;
  for (let i = hops.length - 1; i >= 0; i--) {
    address = canonical(hops[i]!);
    if (address === null) return null;
    if (!isTrusted(policy, address)) return address;
  }
  return address;
}
