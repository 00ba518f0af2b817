import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { countBlocks, enumerateBlocks, type Block, type UsedRange } from '../../domain/blocks.ts';
import {
  cidrSize,
  compareCidr,
  containsCidr,
  formatCidr,
  lastAddress,
  maxPrefix,
  overlaps,
  parseAddress,
  parseCidr,
  type Cidr,
  type IpVersion,
} from '../../domain/cidr.ts';
import { thrown } from '../support/errors.ts';

const c = (text: string): Cidr => parseCidr(text);
const addr = (text: string): bigint => parseAddress(text).value;
const pool = (id: string, cidr: string): UsedRange => ({ cidr: c(cidr), owner: { kind: 'pool', id, name: id } });
const alloc = (id: string, cidr: string): UsedRange => ({ cidr: c(cidr), owner: { kind: 'allocation', id, accountId: 'aws:123456789012' } });
const summary = (blocks: Block[]) => blocks.map((b) => `${formatCidr(b.cidr)} ${b.status}${b.owners.length ? ` ${b.owners.map((o) => o.id).join('+')}` : ''}`);

describe('10.0.0.0/8 at /30 (4M blocks)', () => {
  const range = c('10.0.0.0/8');
  // Given unsorted on purpose; two /32s share the block 10.0.1.8/30.
  const used = [
    alloc('tail', '10.255.255.252/30'),
    alloc('b', '10.0.1.10/32'),
    pool('child', '10.0.0.0/24'),
    alloc('a', '10.0.1.9/32'),
    alloc('x', '10.0.1.4/30'),
  ];

  it('counts blocks arithmetically, a block shared by small ranges once', () => {
    expect(countBlocks(range, 30, used)).toEqual({ total: 1n << 22n, used: 64n + 3n, free: (1n << 22n) - 67n });
    expect(countBlocks(range, 8, used)).toEqual({ total: 1n, used: 1n, free: 0n });
    expect(countBlocks(range, 16, used)).toEqual({ total: 256n, used: 2n, free: 254n });
  });

  it('first page of all blocks', () => {
    const page = enumerateBlocks({ pool: range, prefixLength: 30, used, status: 'all', limit: 2 });
    expect(summary(page.items)).toEqual(['10.0.0.0/30 used child', '10.0.0.4/30 used child']);
    expect(page.items[0]!.owners).toEqual([{ kind: 'pool', id: 'child', name: 'child' }]);
    expect(page.nextAfter).toBe(addr('10.0.0.4'));
  });

  it('free pages skip used space, including a block shared by two small ranges', () => {
    const first = enumerateBlocks({ pool: range, prefixLength: 30, used, status: 'free', limit: 3 });
    expect(summary(first.items)).toEqual(['10.0.1.0/30 free', '10.0.1.12/30 free', '10.0.1.16/30 free']);
    expect(first.nextAfter).toBe(addr('10.0.1.16'));
    const second = enumerateBlocks({ pool: range, prefixLength: 30, used, status: 'free', after: first.nextAfter, limit: 2 });
    expect(summary(second.items)).toEqual(['10.0.1.20/30 free', '10.0.1.24/30 free']);
    // Near the end: the last /30 is used, so only one free block remains and no cursor comes back.
    const end = enumerateBlocks({ pool: range, prefixLength: 30, used, status: 'free', after: addr('10.255.255.244'), limit: 5 });
    expect(summary(end.items)).toEqual(['10.255.255.248/30 free']);
    expect(end.nextAfter).toBeNull();
  });

  it('used pages jump from used range to used range and list every owner', () => {
    const page = enumerateBlocks({ pool: range, prefixLength: 30, used, status: 'used', after: addr('10.0.0.248'), limit: 3 });
    expect(summary(page.items)).toEqual(['10.0.0.252/30 used child', '10.0.1.4/30 used x', '10.0.1.8/30 used a+b']);
    expect(page.nextAfter).toBe(addr('10.0.1.8'));
    const rest = enumerateBlocks({ pool: range, prefixLength: 30, used, status: 'used', after: page.nextAfter, limit: 3 });
    expect(summary(rest.items)).toEqual(['10.255.255.252/30 used tail']);
    expect(rest.nextAfter).toBeNull();
    const all = enumerateBlocks({ pool: range, prefixLength: 30, used, status: 'used', limit: 1000 });
    expect(all.items).toHaveLength(67);
    expect(all.nextAfter).toBeNull();
  });

  it('a block larger than the used ranges lists all of them in address order', () => {
    const page = enumerateBlocks({ pool: range, prefixLength: 16, used, status: 'used', limit: 10 });
    expect(summary(page.items)).toEqual(['10.0.0.0/16 used child+x+a+b', '10.255.0.0/16 used tail']);
  });

  it('treats an unaligned cursor as "after the block holding it", a cursor before the pool as the start', () => {
    const unaligned = enumerateBlocks({ pool: range, prefixLength: 30, used, status: 'all', after: addr('10.0.1.1'), limit: 1 });
    expect(summary(unaligned.items)).toEqual(['10.0.1.4/30 used x']);
    const before = enumerateBlocks({ pool: range, prefixLength: 30, used, status: 'all', after: addr('9.0.0.0'), limit: 1 });
    expect(summary(before.items)).toEqual(['10.0.0.0/30 used child']);
    const beyond = enumerateBlocks({ pool: range, prefixLength: 30, used, status: 'all', after: addr('10.255.255.252'), limit: 1 });
    expect(beyond).toEqual({ items: [], nextAfter: null });
  });

  it('validates the prefix length and the limit', () => {
    for (const prefixLength of [7, 33, 30.5]) {
      const err = thrown(() => enumerateBlocks({ pool: range, prefixLength, used, status: 'all', limit: 1 }));
      expect(err.code).toBe('validation_failed');
      expect(err.fields).toEqual({ prefix_length: 'must be between 8 and 32' });
    }
    expect(thrown(() => countBlocks(range, 40, used)).fields).toEqual({ prefix_length: 'must be between 8 and 32' });
    expect(thrown(() => enumerateBlocks({ pool: range, prefixLength: 30, used, status: 'all', limit: 0 })).fields).toEqual({
      limit: 'must be a positive integer',
    });
  });
});

describe('2001:db8::/32 at /64 (2^32 blocks)', () => {
  const range = c('2001:db8::/32');
  const used = [
    alloc('s2', '2001:db8:1:1:1::/80'),
    pool('child', '2001:db8::/48'),
    alloc('one', '2001:db8:1::/64'),
    alloc('s1', '2001:db8:1:1::/80'),
    // Ranges of the other family or outside the pool are never counted.
    alloc('v4', '10.0.0.0/8'),
    alloc('elsewhere', '2001:db9::/64'),
  ];

  it('counts blocks', () => {
    expect(countBlocks(range, 64, used)).toEqual({ total: 1n << 32n, used: (1n << 16n) + 2n, free: (1n << 32n) - (1n << 16n) - 2n });
  });

  it('first pages of free and used blocks', () => {
    const free = enumerateBlocks({ pool: range, prefixLength: 64, used, status: 'free', limit: 2 });
    expect(summary(free.items)).toEqual(['2001:db8:1:2::/64 free', '2001:db8:1:3::/64 free']);
    expect(free.nextAfter).toBe(addr('2001:db8:1:3::'));
    const usedPage = enumerateBlocks({ pool: range, prefixLength: 64, used, status: 'used', after: addr('2001:db8:0:fffe::'), limit: 5 });
    expect(summary(usedPage.items)).toEqual(['2001:db8:0:ffff::/64 used child', '2001:db8:1::/64 used one', '2001:db8:1:1::/64 used s1+s2']);
    expect(usedPage.nextAfter).toBeNull();
  });

  it('pages to the very end of the pool', () => {
    const page = enumerateBlocks({ pool: range, prefixLength: 64, used, status: 'all', after: addr('2001:db8:ffff:fffe::'), limit: 5 });
    expect(summary(page.items)).toEqual(['2001:db8:ffff:ffff::/64 free']);
    expect(page.nextAfter).toBeNull();
  });

  it('skips used space arithmetically even across a whole /1 of ::/0 at /128', () => {
    // Stepping through 2^127 used addresses would never finish; jumping is instant.
    const page = enumerateBlocks({ pool: c('::/0'), prefixLength: 128, used: [pool('half', '::/1')], status: 'free', limit: 2 });
    expect(summary(page.items)).toEqual(['8000::/128 free', '8000::1/128 free']);
    expect(countBlocks(c('::/0'), 128, [pool('half', '::/1')]).free).toBe(1n << 127n);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties against a brute-force reference on small pools

interface Scenario {
  pool: Cidr;
  used: UsedRange[];
  prefixLength: number;
}

/** A small pool (v4 /20–/28 or v6 /116–/124), random non-overlapping used ranges, random N. */
const arbScenario: fc.Arbitrary<Scenario> = fc
  .tuple(
    fc.constantFrom<IpVersion>(4, 6),
    fc.integer({ min: 0, max: 8 }),
    fc.bigInt({ min: 0n, max: (1n << 32n) - 1n }),
    fc.array(fc.tuple(fc.integer({ min: 0, max: 12 }), fc.bigInt({ min: 0n, max: (1n << 12n) - 1n }), fc.boolean()), { maxLength: 12 }),
    fc.integer({ min: 0, max: 12 }),
  )
  .map(([version, prefixOffset, seed, picks, nOffset]) => {
    const bits = maxPrefix(version);
    const prefix = bits - 12 + prefixOffset;
    const size = 1n << BigInt(bits - prefix);
    const base = version === 4 ? seed : (0x20010db8n << 96n) | (seed << 32n);
    const poolCidr: Cidr = { version, network: base - (base % size), prefix };
    const used: UsedRange[] = [];
    picks.forEach(([depth, offset, isPool], i) => {
      const p = Math.min(prefix + depth, bits);
      const bsize = 1n << BigInt(bits - p);
      const cidr: Cidr = { version, network: poolCidr.network + ((offset % size) - ((offset % size) % bsize)), prefix: p };
      if (!used.some((u) => overlaps(u.cidr, cidr))) used.push({ cidr, owner: { kind: isPool ? 'pool' : 'allocation', id: `u${i}` } });
    });
    return { pool: poolCidr, used, prefixLength: Math.min(prefix + nOffset, bits) };
  });

function bruteForce({ pool: p, used, prefixLength }: Scenario): Block[] {
  const sorted = [...used].sort((a, b) => compareCidr(a.cidr, b.cidr));
  const step = 1n << BigInt(maxPrefix(p.version) - prefixLength);
  const out: Block[] = [];
  for (let x = p.network; x <= lastAddress(p); x += step) {
    const cidr: Cidr = { version: p.version, network: x, prefix: prefixLength };
    const owners = sorted.filter((u) => overlaps(u.cidr, cidr)).map((u) => u.owner);
    out.push({ cidr, status: owners.length ? 'used' : 'free', owners });
  }
  return out;
}

const arbStatus = fc.constantFrom<'free' | 'used' | 'all'>('free', 'used', 'all');
const matches = (status: 'free' | 'used' | 'all') => (b: Block) => status === 'all' || b.status === status;

describe('enumerateBlocks properties', () => {
  it('a page is disjoint, inside the pool, strictly ascending and equals the brute-force slice', () => {
    fc.assert(
      fc.property(arbScenario, arbStatus, fc.integer({ min: 1, max: 40 }), fc.bigInt({ min: 0n, max: 1n << 12n }), (s, status, limit, afterOffset) => {
        // Cursors are sometimes unaligned and sometimes past the end, as a hand-edited cursor could be.
        const after = afterOffset === 0n ? null : s.pool.network + afterOffset - 1n;
        const page = enumerateBlocks({ ...s, status, after, limit });
        const expected = bruteForce(s)
          .filter(matches(status))
          .filter((b) => after === null || b.cidr.network > after);
        expect(page.items).toEqual(expected.slice(0, limit));
        expect(page.nextAfter).toBe(expected.length > limit ? expected[limit - 1]!.cidr.network : null);
        for (let i = 0; i < page.items.length; i++) {
          const b = page.items[i]!.cidr;
          expect(containsCidr(s.pool, b)).toBe(true);
          expect(b.prefix).toBe(s.prefixLength);
          if (i > 0) expect(lastAddress(page.items[i - 1]!.cidr)).toBeLessThan(b.network);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('paging with random limits returns every block exactly once, as brute force does', () => {
    fc.assert(
      fc.property(arbScenario, arbStatus, fc.array(fc.integer({ min: 1, max: 60 }), { minLength: 1, maxLength: 8 }), (s, status, limits) => {
        const seen: Block[] = [];
        let after: bigint | null = null;
        for (let i = 0; ; i++) {
          const limit = limits[i % limits.length]!;
          const page = enumerateBlocks({ ...s, status, after, limit });
          seen.push(...page.items);
          if (page.nextAfter === null) break;
          expect(page.items).toHaveLength(limit); // a cursor only follows a full page
          expect(page.nextAfter).toBe(page.items[page.items.length - 1]!.cidr.network);
          after = page.nextAfter;
        }
        expect(seen).toEqual(bruteForce(s).filter(matches(status)));
      }),
      { numRuns: 200 },
    );
  });

  it('countBlocks: free + used = total, matching brute force', () => {
    fc.assert(
      fc.property(arbScenario, (s) => {
        const all = bruteForce(s);
        const counts = countBlocks(s.pool, s.prefixLength, s.used);
        expect(counts).toEqual({
          total: BigInt(all.length),
          used: BigInt(all.filter((b) => b.status === 'used').length),
          free: BigInt(all.filter((b) => b.status === 'free').length),
        });
        expect(counts.free + counts.used).toBe(counts.total);
        expect(counts.total).toBe(cidrSize(s.pool) >> BigInt(maxPrefix(s.pool.version) - s.prefixLength));
      }),
      { numRuns: 200 },
    );
  });
});
