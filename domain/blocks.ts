// Paged enumeration of the aligned /N blocks of a pool. A page costs O(page + log(used)) whatever
// the pool's size (10.0.0.0/8 at /30, an IPv6 /32 at /64): the used ranges are sorted once per
// call, and the walk jumps over used or free space arithmetically instead of stepping through it.
import { HangarError } from './errors.ts';
import { alignUp, cidrSize, compareCidr, lastAddress, maxPrefix, overlaps, type Cidr } from './cidr.ts';

export interface UsedRange {
  cidr: Cidr;
  owner: { kind: 'allocation' | 'pool'; id: string; name?: string | null; accountId?: string | null };
}

export interface Block {
  cidr: Cidr;
  status: 'free' | 'used';
  owners: UsedRange['owner'][];
}

export type BlockStatusFilter = 'free' | 'used' | 'all';

export interface EnumerateBlocksInput {
  pool: Cidr;
  prefixLength: number;
  used: readonly UsedRange[];
  status: BlockStatusFilter;
  /** Network address of the last block of the previous page (exclusive). */
  after?: bigint | null;
  limit: number;
}

export interface BlockPage {
  items: Block[];
  /** The last item's network when more blocks follow, else null. */
  nextAfter: bigint | null;
}

function validatePrefixLength(pool: Cidr, prefixLength: number): void {
  const max = maxPrefix(pool.version);
  if (!Number.isInteger(prefixLength) || prefixLength < pool.prefix || prefixLength > max) {
    throw new HangarError('validation_failed', `prefix length ${prefixLength} must be an integer between ${pool.prefix} (the pool's own prefix) and ${max}`, {
      prefix_length: `must be between ${pool.prefix} and ${max}`,
    });
  }
}

/** What one call needs, built once: used ranges sorted, plus the used space merged at block granularity. */
interface Prepared {
  blockSize: bigint;
  /** In-pool used ranges of the pool's version, in address order. */
  ranges: UsedRange[];
  /** Running maximum of the ranges' last addresses, so "first range ending at or after x" is a binary search. */
  maxEnd: bigint[];
  /**
   * Used space widened to whole blocks and merged (touching intervals too): every block inside one
   * of these is used, every block between two of them is free. Starts and ends are block-aligned.
   */
  merged: Array<[bigint, bigint]>;
}

function prepare(pool: Cidr, prefixLength: number, used: readonly UsedRange[]): Prepared {
  const blockSize = 1n << BigInt(maxPrefix(pool.version) - prefixLength);
  const poolEnd = lastAddress(pool);
  const ranges = used.filter((u) => overlaps(pool, u.cidr)).sort((a, b) => compareCidr(a.cidr, b.cidr));
  const maxEnd: bigint[] = [];
  const merged: Array<[bigint, bigint]> = [];
  let runningMax = -1n;
  for (const { cidr } of ranges) {
    const end = lastAddress(cidr);
    if (end > runningMax) runningMax = end;
    maxEnd.push(runningMax);
    // Clip to the pool (defensive: used ranges should lie inside it), then widen to whole blocks.
    const from = cidr.network > pool.network ? cidr.network : pool.network;
    const to = end < poolEnd ? end : poolEnd;
    const start = from - ((from - pool.network) % blockSize);
    const stop = to - ((to - pool.network) % blockSize) + blockSize - 1n;
    const last = merged[merged.length - 1];
    if (last && start <= last[1] + 1n) {
      if (stop > last[1]) last[1] = stop;
    } else {
      merged.push([start, stop]);
    }
  }
  return { blockSize, ranges, maxEnd, merged };
}

/** First index whose value is ≥ x in a non-decreasing array (length when none). */
function lowerBound(values: readonly bigint[], x: bigint): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First merged interval ending at or after x (binary search on the ends, which ascend). */
function mergedIndexAt(merged: ReadonlyArray<[bigint, bigint]>, x: bigint): number {
  let lo = 0;
  let hi = merged.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (merged[mid]![1] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Owners of every used range overlapping [start, end], in address order: O(log n + owners). */
function ownersOf(p: Prepared, start: bigint, end: bigint): UsedRange['owner'][] {
  const owners: UsedRange['owner'][] = [];
  for (let i = lowerBound(p.maxEnd, start); i < p.ranges.length; i++) {
    const { cidr, owner } = p.ranges[i]!;
    if (cidr.network > end) break;
    if (lastAddress(cidr) >= start) owners.push(owner);
  }
  return owners;
}

export function enumerateBlocks(input: EnumerateBlocksInput): BlockPage {
  const { pool, prefixLength, used, status, after, limit } = input;
  validatePrefixLength(pool, prefixLength);
  if (!Number.isInteger(limit) || limit < 1) {
    throw new HangarError('validation_failed', `limit ${limit} must be a positive integer`, { limit: 'must be a positive integer' });
  }
  const p = prepare(pool, prefixLength, used);
  const poolEnd = lastAddress(pool);
  const { blockSize, merged } = p;

  let x = after === undefined || after === null || after < pool.network ? pool.network : alignUp(after + 1n, prefixLength, pool.version);
  let j = mergedIndexAt(merged, x);
  const items: Block[] = [];
  // One block beyond the page is located (not built) so nextAfter is exact and no page comes back empty.
  let more = false;

  while (x <= poolEnd) {
    const span = merged[j];
    const inUsed = span !== undefined && span[0] <= x;
    if (status === 'free' && inUsed) {
      x = span[1] + 1n; // skip the whole used stretch
      j++;
      continue;
    }
    if (status === 'used' && !inUsed) {
      if (span === undefined) break;
      x = span[0]; // jump to the next used stretch
      continue;
    }
    if (items.length === limit) {
      more = true;
      break;
    }
    const cidr: Cidr = { version: pool.version, network: x, prefix: prefixLength };
    items.push(inUsed ? { cidr, status: 'used', owners: ownersOf(p, x, x + blockSize - 1n) } : { cidr, status: 'free', owners: [] });
    x += blockSize;
    if (span !== undefined && x > span[1]) j++;
  }
  const lastItem = items[items.length - 1];
  return { items, nextAfter: more && lastItem ? lastItem.cidr.network : null };
}

/** Block counts by arithmetic over the merged used space; several small used ranges in one block count once. */
export function countBlocks(pool: Cidr, prefixLength: number, used: readonly UsedRange[]): { total: bigint; used: bigint; free: bigint } {
  validatePrefixLength(pool, prefixLength);
  const { blockSize, merged } = prepare(pool, prefixLength, used);
  const total = cidrSize(pool) / blockSize;
  let taken = 0n;
  for (const [start, stop] of merged) taken += (stop - start + 1n) / blockSize;
  return { total, used: taken, free: total - taken };
}
