// CIDR and IP address math for IPv4 and IPv6. Pure and dependency-free: addresses are bigints so
// one code path serves both families, and nothing here ever walks the address space — every
// operation is proportional to the number of ranges involved times the prefix bits.
import { HangarError } from './errors.ts';

export type IpVersion = 4 | 6;

export interface IpAddress {
  version: IpVersion;
  value: bigint;
}

export interface Cidr {
  version: IpVersion;
  /** The first address of the block. */
  network: bigint;
  prefix: number;
}

const V4_MAX = (1n << 32n) - 1n;
const V6_MAX = (1n << 128n) - 1n;

export function maxPrefix(version: IpVersion): number {
  return version === 4 ? 32 : 128;
}

function maxValue(version: IpVersion): bigint {
  return version === 4 ? V4_MAX : V6_MAX;
}

function addressError(text: string, reason: string): HangarError {
  return new HangarError('invalid_address', `${JSON.stringify(text)} is not a valid IP address: ${reason}`, { address: reason });
}

// ---------------------------------------------------------------------------------------------
// Addresses

const V4_OCTET = /^(0|[1-9][0-9]{0,2})$/;
const V6_GROUP = /^[0-9a-fA-F]{1,4}$/;

/** Parses a dotted quad; returns a reason string instead of throwing so callers word the error. */
function parseV4(text: string): bigint | string {
  const parts = text.split('.');
  if (parts.length !== 4) return 'an IPv4 address has four dot-separated octets';
  let value = 0n;
  for (const part of parts) {
    if (!V4_OCTET.test(part)) {
      return /^[0-9]+$/.test(part) ? `octet "${part}" has a leading zero` : `octet "${part}" is not a decimal number`;
    }
    const octet = Number(part);
    if (octet > 255) return `octet ${part} is greater than 255`;
    value = (value << 8n) | BigInt(octet);
  }
  return value;
}

/** Parses the groups of one side of "::" into 16-bit numbers; an IPv4 tail counts as two groups. */
function parseV6Groups(side: string, ipv4TailAllowed: boolean): number[] | string {
  if (side === '') return [];
  const parts = side.split(':');
  const groups: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (part.includes('.')) {
      if (!ipv4TailAllowed || i !== parts.length - 1) return 'an embedded IPv4 address may only appear at the end';
      const v4 = parseV4(part);
      if (typeof v4 === 'string') return `embedded IPv4 address: ${v4}`;
      groups.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
    } else if (part === '') {
      return 'empty group (a single ":" at the start or end, or ":::")';
    } else if (!V6_GROUP.test(part)) {
      return `group "${part}" is not 1-4 hexadecimal digits`;
    } else {
      groups.push(parseInt(part, 16));
    }
  }
  return groups;
}

function parseV6(text: string): bigint | string {
  if (text.includes('%')) return 'zone identifiers (%...) are not accepted';
  const halves = text.split('::');
  if (halves.length > 2) return '"::" may appear only once';
  let groups: number[];
  if (halves.length === 2) {
    const head = parseV6Groups(halves[0]!, false);
    if (typeof head === 'string') return head;
    const tail = parseV6Groups(halves[1]!, true);
    if (typeof tail === 'string') return tail;
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return 'too many groups for "::" to stand for any';
    groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    const all = parseV6Groups(text, true);
    if (typeof all === 'string') return all;
    if (all.length !== 8) return `expected 8 groups, found ${all.length}`;
    groups = all;
  }
  let value = 0n;
  for (const group of groups) value = (value << 16n) | BigInt(group);
  return value;
}

/** Strict parse: dotted-quad IPv4 without leading zeros, or IPv6 (with "::" and an IPv4 tail, no zone). */
export function parseAddress(text: string): IpAddress {
  if (typeof text !== 'string' || text === '') throw addressError(String(text), 'empty');
  if (/\s/.test(text)) throw addressError(text, 'contains whitespace');
  if (text.includes(':')) {
    const v6 = parseV6(text);
    if (typeof v6 === 'string') throw addressError(text, v6);
    return { version: 6, value: v6 };
  }
  const v4 = parseV4(text);
  if (typeof v4 === 'string') throw addressError(text, v4);
  return { version: 4, value: v4 };
}

function formatV4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
}

const V4_MAPPED_PREFIX = 0xffffn << 32n;

/** RFC 5952: lowercase, no leading zeros, longest run (≥ 2) of zero groups as "::", leftmost on a tie. */
function formatV6(value: bigint): string {
  // RFC 5952 §5: IPv4-mapped addresses keep the dotted tail, as PostgreSQL's inet output does.
  if (value >> 32n === 0xffffn) return `::ffff:${formatV4(value - V4_MAPPED_PREFIX)}`;
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((value >> shift) & 0xffffn));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export function formatAddress(version: IpVersion, value: bigint): string {
  if (value < 0n || value > maxValue(version)) {
    throw new HangarError('invalid_address', `${value} is outside the IPv${version} address space`, { address: 'out of range' });
  }
  return version === 4 ? formatV4(value) : formatV6(value);
}

// ---------------------------------------------------------------------------------------------
// CIDR blocks

function cidrError(detail: string, reason: string): HangarError {
  return new HangarError('invalid_cidr', detail, { cidr: reason });
}

function hostMask(version: IpVersion, prefix: number): bigint {
  return (1n << BigInt(maxPrefix(version) - prefix)) - 1n;
}

export function parseCidr(text: string, options: { strict?: boolean } = {}): Cidr {
  const strict = options.strict ?? true;
  if (typeof text !== 'string' || text === '') throw cidrError('a CIDR is required, for example 10.0.0.0/24', 'empty');
  const quoted = JSON.stringify(text);
  const slash = text.indexOf('/');
  if (slash < 0) throw cidrError(`${quoted} has no prefix length; write it as address/prefix, for example 10.0.0.0/24`, 'missing prefix length');
  const addressText = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  let address: IpAddress;
  try {
    address = parseAddress(addressText);
  } catch (err) {
    if (!(err instanceof HangarError)) throw err;
    throw cidrError(`${quoted} is not a valid CIDR: ${err.message}`, 'malformed address');
  }
  const max = maxPrefix(address.version);
  if (!/^(0|[1-9][0-9]*)$/.test(prefixText)) {
    throw cidrError(`${quoted} is not a valid CIDR: prefix length ${JSON.stringify(prefixText)} is not a decimal number (0-${max})`, 'malformed prefix length');
  }
  const prefix = Number(prefixText);
  if (prefix > max) {
    throw cidrError(`${quoted} is not a valid CIDR: prefix length ${prefix} is out of range 0-${max} for IPv${address.version}`, 'prefix length out of range');
  }
  const network = address.value & ~hostMask(address.version, prefix);
  const cidr: Cidr = { version: address.version, network, prefix };
  if (strict && network !== address.value) {
    throw cidrError(`${text} is not a network address; did you mean ${formatCidr(cidr)}?`, 'host bits set');
  }
  return cidr;
}

export function formatCidr(c: Cidr): string {
  return `${formatAddress(c.version, c.network)}/${c.prefix}`;
}

export function cidrSize(c: Cidr): bigint {
  return 1n << BigInt(maxPrefix(c.version) - c.prefix);
}

export function lastAddress(c: Cidr): bigint {
  return c.network + cidrSize(c) - 1n;
}

export function containsCidr(outer: Cidr, inner: Cidr): boolean {
  return outer.version === inner.version && outer.prefix <= inner.prefix && inner.network >= outer.network && inner.network <= lastAddress(outer);
}

/** A bare bigint is taken to be of the block's version; an IpAddress must also match the version. */
export function containsAddress(c: Cidr, address: bigint | IpAddress): boolean {
  if (typeof address !== 'bigint') {
    if (address.version !== c.version) return false;
    address = address.value;
  }
  return address >= c.network && address <= lastAddress(c);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.version === b.version && a.network <= lastAddress(b) && b.network <= lastAddress(a);
}

export function compareCidr(a: Cidr, b: Cidr): number {
  if (a.version !== b.version) return a.version - b.version;
  if (a.network !== b.network) return a.network < b.network ? -1 : 1;
  return a.prefix - b.prefix;
}

/**
 * Smallest address ≥ value on a /prefix boundary. May return one past the end of the address
 * space (2^32 or 2^128) when no such boundary exists; callers compare with their range's end.
 */
export function alignUp(value: bigint, prefix: number, version: IpVersion): bigint {
  const size = 1n << BigInt(maxPrefix(version) - prefix);
  const rem = value % size;
  return rem === 0n ? value : value - rem + size;
}

/** Used ranges of range's version clipped to range, sorted by start: [start, end] inclusive. */
function clippedIntervals(range: Cidr, used: readonly Cidr[]): Array<[bigint, bigint]> {
  const lo = range.network;
  const hi = lastAddress(range);
  const out: Array<[bigint, bigint]> = [];
  for (const u of used) {
    if (!overlaps(range, u)) continue;
    const start = u.network > lo ? u.network : lo;
    const end = lastAddress(u) < hi ? lastAddress(u) : hi;
    out.push([start, end]);
  }
  out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return out;
}

/** Appends the minimal CIDR cover of [start, end]; each block is as large as alignment and length allow. */
function pushCover(out: Cidr[], version: IpVersion, start: bigint, end: bigint): void {
  const bits = maxPrefix(version);
  let cursor = start;
  while (cursor <= end) {
    const remaining = end - cursor + 1n;
    let hostBits = 0;
    // O(bits) per block: grow while still aligned and still inside [cursor, end].
    while (hostBits < bits) {
      const next = 1n << BigInt(hostBits + 1);
      if (cursor % next !== 0n || next > remaining) break;
      hostBits++;
    }
    out.push({ version, network: cursor, prefix: bits - hostBits });
    cursor += 1n << BigInt(hostBits);
  }
}

/**
 * The free space of range minus used, as maximal aligned blocks in ascending order. Each gap
 * between used ranges is covered greedily, which yields exactly the blocks whose parent block
 * is not entirely free. Overlapping or out-of-range entries in used are tolerated (clipped).
 */
export function freeCidrs(range: Cidr, used: readonly Cidr[]): Cidr[] {
  const out: Cidr[] = [];
  let cursor = range.network;
  const end = lastAddress(range);
  for (const [start, stop] of clippedIntervals(range, used)) {
    if (start > cursor) pushCover(out, range.version, cursor, start - 1n);
    if (stop + 1n > cursor) cursor = stop + 1n;
  }
  if (cursor <= end) pushCover(out, range.version, cursor, end);
  return out;
}

/**
 * The first aligned /prefixLength of the smallest free maximal block that can hold one (lowest
 * address on ties), so large holes stay intact for large requests. Null when nothing fits.
 */
export function bestFit(range: Cidr, used: readonly Cidr[], prefixLength: number): Cidr | null {
  if (!Number.isInteger(prefixLength) || prefixLength < range.prefix || prefixLength > maxPrefix(range.version)) return null;
  let best: Cidr | null = null;
  for (const block of freeCidrs(range, used)) {
    // Strictly greater keeps the lowest address among equally small holes (freeCidrs ascends).
    if (block.prefix <= prefixLength && (best === null || block.prefix > best.prefix)) best = block;
  }
  return best === null ? null : { version: range.version, network: best.network, prefix: prefixLength };
}

export function usageSummary(range: Cidr, used: readonly Cidr[]): { total: bigint; used: bigint; free: bigint } {
  const total = cidrSize(range);
  let taken = 0n;
  let cursor = range.network;
  // Sweep so that overlapping entries are not counted twice.
  for (const [start, stop] of clippedIntervals(range, used)) {
    const from = start > cursor ? start : cursor;
    if (stop >= from) taken += stop - from + 1n;
    if (stop + 1n > cursor) cursor = stop + 1n;
  }
  return { total, used: taken, free: total - taken };
}
