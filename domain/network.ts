// Network validation and the leasable address range. Pure; addresses are BigInt.
import { z } from 'zod';
import { HangarError } from './errors.ts';
import { safeName, safeText } from './text.ts';
import { containsAddress, formatAddress, formatCidr, lastAddress, parseAddress, parseCidr, type Cidr, type IpVersion } from './cidr.ts';

// The length is max()'s job: a look-ahead in the pattern makes schema-driven generators (schemathesis) crawl.
const domainName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i, 'must be a DNS domain name');

export const networkInputSchema = z.strictObject({
  name: safeName,
  cidr: safeText(64, 1),
  gateway: safeText(64).nullable().optional(),
  dns_servers: z.array(safeText(64)).max(8).optional(),
  search_domains: z.array(domainName).max(6).optional(),
  vlan: z.number().int().min(1).max(4094).nullable().optional(),
  // Linux interface names: at most 15 characters.
  bridge: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,15}$/, 'must be a Linux interface name (1-15 of A-Z a-z 0-9 _ . -)')
    .nullable()
    .optional(),
  range_start: safeText(64).nullable().optional(),
  range_end: safeText(64).nullable().optional(),
  reserved: z.array(safeText(64)).max(4096).optional(),
});
export type NetworkInput = z.infer<typeof networkInputSchema>;

export interface ValidNetwork {
  name: string;
  cidr: Cidr;
  gateway: bigint | null;
  dnsServers: string[];
  searchDomains: string[];
  vlan: number | null;
  bridge: string | null;
  rangeStart: bigint | null;
  rangeEnd: bigint | null;
  reserved: bigint[];
}

/** Throws one 422 naming every field that is wrong (and why), or returns normalised values. */
export function validateNetwork(input: NetworkInput): ValidNetwork {
  const fields: Record<string, string> = {};
  let cidr: Cidr | null = null;
  try {
    cidr = parseCidr(input.cidr);
  } catch (err) {
    if (err instanceof HangarError) throw new HangarError('invalid_cidr', err.message, { cidr: err.message });
    throw err;
  }
  const version = cidr.version;
  const address = (field: string, text: string | null | undefined, mustBeInside = true): bigint | null => {
    if (text === null || text === undefined) return null;
    try {
      const a = parseAddress(text);
      if (a.version !== version) {
        fields[field] = `must be an IPv${version} address`;
        return null;
      }
      if (mustBeInside && !containsAddress(cidr!, a.value)) {
        fields[field] = `${text} is outside ${formatCidr(cidr!)}`;
        return null;
      }
      return a.value;
    } catch {
      fields[field] = `${text} is not an IP address`;
      return null;
    }
  };
  const gateway = address('gateway', input.gateway);
  if (gateway !== null && isNetworkOrBroadcast(cidr, gateway)) fields.gateway = 'must not be the network or broadcast address';
  const rangeStart = address('range_start', input.range_start);
  const rangeEnd = address('range_end', input.range_end);
  if (rangeStart !== null && rangeEnd !== null && rangeStart > rangeEnd) fields.range_end = 'must not be below range_start';
  const reserved: bigint[] = [];
  (input.reserved ?? []).forEach((text, i) => {
    const v = address(`reserved.${i}`, text);
    if (v !== null) reserved.push(v);
  });
  const dnsServers: string[] = [];
  (input.dns_servers ?? []).forEach((text, i) => {
    try {
      const a = parseAddress(text);
      dnsServers.push(formatAddress(a.version, a.value));
    } catch {
      fields[`dns_servers.${i}`] = `${text} is not an IP address`;
    }
  });
  if (Object.keys(fields).length) {
    throw new HangarError(
      'unprocessable',
      `invalid network: ${Object.entries(fields)
        .map(([k, v]) => `${k}: ${v}`)
        .join('; ')}`,
      fields,
    );
  }
  return {
    name: input.name,
    cidr,
    gateway,
    dnsServers,
    searchDomains: (input.search_domains ?? []).map((d) => d.toLowerCase()),
    vlan: input.vlan ?? null,
    bridge: input.bridge ?? null,
    rangeStart,
    rangeEnd,
    reserved: [...new Set(reserved)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
  };
}

/** IPv4 networks up to /30 lose their first and last address; /31 and /32 keep both (RFC 3021). */
export function isNetworkOrBroadcast(cidr: Cidr, value: bigint): boolean {
  if (cidr.version === 4) return cidr.prefix <= 30 && (value === cidr.network || value === lastAddress(cidr));
  // IPv6: the subnet-router anycast address (all host bits zero) is never leased.
  return cidr.prefix < 127 && value === cidr.network;
}

/** The first and last addresses dynamic allocation may hand out, or null when there are none. */
export function leasableRange(n: { cidr: Cidr; rangeStart: bigint | null; rangeEnd: bigint | null }): { lo: bigint; hi: bigint } | null {
  let lo = n.cidr.network;
  let hi = lastAddress(n.cidr);
  if (isNetworkOrBroadcast(n.cidr, lo)) lo += 1n;
  if (isNetworkOrBroadcast(n.cidr, hi)) hi -= 1n;
  if (n.rangeStart !== null && n.rangeStart > lo) lo = n.rangeStart;
  if (n.rangeEnd !== null && n.rangeEnd < hi) hi = n.rangeEnd;
  return lo <= hi ? { lo, hi } : null;
}

export function fmt(version: IpVersion, v: bigint | null): string | null {
  return v === null ? null : formatAddress(version, v);
}

const MAC = /^([0-9a-f]{2})([:-]?)([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})$/i;

/** Accepts aa:bb:cc:dd:ee:ff, aa-bb-…, or aabbccddeeff; returns lowercase colon form. */
export function normalizeMac(text: string): string {
  const m = MAC.exec(text.trim());
  if (!m) throw new HangarError('validation_failed', `${text} is not a MAC address`, { mac: 'expected aa:bb:cc:dd:ee:ff' });
  return [m[1], m[3], m[4], m[5], m[6], m[7]].join(':').toLowerCase();
}
