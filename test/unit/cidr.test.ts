import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  alignUp,
  bestFit,
  cidrSize,
  compareCidr,
  containsAddress,
  containsCidr,
  formatAddress,
  formatCidr,
  freeCidrs,
  lastAddress,
  maxPrefix,
  overlaps,
  parseAddress,
  parseCidr,
  usageSummary,
  type Cidr,
  type IpVersion,
} from '../../domain/cidr.ts';
import { thrown } from '../support/errors.ts';

const c = (text: string): Cidr => parseCidr(text);
const fmt = (list: Cidr[]): string[] => list.map(formatCidr);

describe('parseAddress / formatAddress', () => {
  it('parses IPv4 dotted quads', () => {
    expect(parseAddress('0.0.0.0')).toEqual({ version: 4, value: 0n });
    expect(parseAddress('10.1.2.3')).toEqual({ version: 4, value: 0x0a010203n });
    expect(parseAddress('255.255.255.255')).toEqual({ version: 4, value: 0xffffffffn });
  });

  it.each([
    ['010.0.0.1', 'leading zero'],
    ['256.0.0.1', 'greater than 255'],
    ['10.0.0', 'four'],
    ['10.0.0.0.0', 'four'],
    ['10.0.0.a', 'not a decimal'],
    ['10..0.1', 'not a decimal'],
    [' 10.0.0.1', 'whitespace'],
    ['', 'empty'],
  ])('rejects IPv4 %j (%s)', (text, reason) => {
    const err = thrown(() => parseAddress(text));
    expect(err.code).toBe('invalid_address');
    expect(err.message).toContain(reason);
  });

  it('parses IPv6 with compression and an embedded IPv4 tail', () => {
    expect(parseAddress('::')).toEqual({ version: 6, value: 0n });
    expect(parseAddress('::1')).toEqual({ version: 6, value: 1n });
    expect(parseAddress('2001:DB8::1').value).toBe(0x20010db8000000000000000000000001n);
    expect(parseAddress('2001:0db8:0000:0000:0000:0000:0000:0001').value).toBe(0x20010db8000000000000000000000001n);
    expect(parseAddress('fe80::').value).toBe(0xfe800000000000000000000000000000n);
    expect(parseAddress('::ffff:1.2.3.4').value).toBe(0xffff01020304n);
    expect(parseAddress('64:ff9b::192.0.2.33').value).toBe(0x0064ff9b0000000000000000c0000221n);
    expect(parseAddress('1:2:3:4:5:6:1.2.3.4').value).toBe(0x00010002000300040005000601020304n);
  });

  it.each([
    ['fe80::1%eth0', 'zone'],
    ['1::2::3', 'only once'],
    ['1:2:3:4:5:6:7:8:9', 'expected 8 groups'],
    ['1:2:3:4:5:6:7', 'expected 8 groups'],
    ['1:2:3:4::5:6:7:8', 'too many groups'],
    [':1::', 'empty group'],
    ['1:::2', 'empty group'],
    ['12345::', '1-4 hexadecimal'],
    ['g::', '1-4 hexadecimal'],
    ['1.2.3.4::', 'at the end'],
    ['::1.2.3.4:5', 'at the end'],
    ['::1.2.3.04', 'leading zero'],
  ])('rejects IPv6 %j (%s)', (text, reason) => {
    const err = thrown(() => parseAddress(text));
    expect(err.code).toBe('invalid_address');
    expect(err.message).toContain(reason);
  });

  it.each([
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'], // lowercase, no leading zeros
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // leftmost of two equal runs
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // the longest run wins
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['fe80:0:0:0:0:0:0:abcd', 'fe80::abcd'],
    ['0:0:0:0:0:ffff:102:304', '::ffff:1.2.3.4'], // RFC 5952 §5 mixed notation for IPv4-mapped
  ])('formats %s as %s (RFC 5952)', (input, canonical) => {
    const { version, value } = parseAddress(input);
    expect(formatAddress(version, value)).toBe(canonical);
  });

  it('refuses to format values outside the address space', () => {
    expect(thrown(() => formatAddress(4, 1n << 32n)).code).toBe('invalid_address');
    expect(thrown(() => formatAddress(6, -1n)).code).toBe('invalid_address');
  });

  it('round-trips: format(parse(format(v))) is stable for random addresses', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 32n) - 1n }), (v) => {
        const text = formatAddress(4, v);
        expect(parseAddress(text)).toEqual({ version: 4, value: v });
      }),
      { numRuns: 200 },
    );
    // Groups drawn mostly from {0, small, any} so zero runs (and the mapped prefix) actually occur.
    const group = fc.oneof(fc.constant(0), fc.constant(0xffff), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(
      fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), (groups) => {
        const v = groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
        const text = formatAddress(6, v);
        expect(parseAddress(text)).toEqual({ version: 6, value: v });
        expect(text).toBe(text.toLowerCase());
        expect(text).not.toMatch(/(^|:)0[0-9a-f]/); // no leading zeros in a group
        expect(text.split('::').length).toBeLessThanOrEqual(2);
      }),
      { numRuns: 200 },
    );
  });
});

describe('parseCidr / formatCidr', () => {
  it('parses IPv4 and IPv6 networks', () => {
    expect(c('10.0.0.0/8')).toEqual({ version: 4, network: 0x0a000000n, prefix: 8 });
    expect(c('0.0.0.0/0')).toEqual({ version: 4, network: 0n, prefix: 0 });
    expect(c('192.168.1.7/32')).toEqual({ version: 4, network: 0xc0a80107n, prefix: 32 });
    expect(c('2001:DB8::/32')).toEqual({ version: 6, network: 0x20010db8n << 96n, prefix: 32 });
    expect(formatCidr(c('2001:0db8:0:0::/48'))).toBe('2001:db8::/48');
    expect(formatCidr(c('::/0'))).toBe('::/0');
  });

  it('names the canonical network when host bits are set (strict)', () => {
    const err = thrown(() => parseCidr('10.0.0.1/24'));
    expect(err.code).toBe('invalid_cidr');
    expect(err.status).toBe(422);
    expect(err.message).toBe('10.0.0.1/24 is not a network address; did you mean 10.0.0.0/24?');
    expect(err.fields).toEqual({ cidr: 'host bits set' });
    expect(thrown(() => parseCidr('2001:db8::1/32')).message).toContain('did you mean 2001:db8::/32?');
  });

  it('masks host bits when not strict', () => {
    expect(formatCidr(parseCidr('10.0.0.1/24', { strict: false }))).toBe('10.0.0.0/24');
    expect(formatCidr(parseCidr('2001:db8:ffff::1/33', { strict: false }))).toBe('2001:db8:8000::/33');
  });

  it.each([
    ['10.0.0.0/33', 'prefix length 33 is out of range 0-32 for IPv4', 'prefix length out of range'],
    ['::/129', 'prefix length 129 is out of range 0-128 for IPv6', 'prefix length out of range'],
    ['10.0.0/8', 'four dot-separated octets', 'malformed address'],
    ['abc', 'no prefix length', 'missing prefix length'],
    ['abc/8', 'not a valid IP address', 'malformed address'],
    ['10.0.0.0', 'no prefix length', 'missing prefix length'],
    ['10.0.0.0/', 'is not a decimal number', 'malformed prefix length'],
    ['10.0.0.0/08', 'is not a decimal number', 'malformed prefix length'],
    ['10.0.0.0/-1', 'is not a decimal number', 'malformed prefix length'],
    ['10.0.0.0/8/8', 'is not a decimal number', 'malformed prefix length'],
    ['', 'required', 'empty'],
  ])('rejects %j', (text, detail, reason) => {
    const err = thrown(() => parseCidr(text));
    expect(err.code).toBe('invalid_cidr');
    expect(err.message).toContain(detail);
    expect(err.fields).toEqual({ cidr: reason });
  });

  it('round-trips random canonical CIDRs', () => {
    fc.assert(
      fc.property(arbCidr(4), (x) => {
        expect(parseCidr(formatCidr(x))).toEqual(x);
      }),
      { numRuns: 200 },
    );
    fc.assert(
      fc.property(arbCidr(6), (x) => {
        expect(parseCidr(formatCidr(x))).toEqual(x);
      }),
      { numRuns: 200 },
    );
  });
});

describe('block arithmetic', () => {
  it('sizes, last addresses and maxPrefix', () => {
    expect(cidrSize(c('10.0.0.0/8'))).toBe(1n << 24n);
    expect(cidrSize(c('::/0'))).toBe(1n << 128n);
    expect(formatAddress(4, lastAddress(c('10.0.0.0/8')))).toBe('10.255.255.255');
    expect(formatAddress(6, lastAddress(c('2001:db8::/32')))).toBe('2001:db8:ffff:ffff:ffff:ffff:ffff:ffff');
    expect(maxPrefix(4)).toBe(32);
    expect(maxPrefix(6)).toBe(128);
  });

  it('containment and overlap, never across versions', () => {
    expect(containsCidr(c('10.0.0.0/8'), c('10.1.0.0/16'))).toBe(true);
    expect(containsCidr(c('10.0.0.0/8'), c('10.0.0.0/8'))).toBe(true);
    expect(containsCidr(c('10.1.0.0/16'), c('10.0.0.0/8'))).toBe(false);
    expect(containsCidr(c('10.0.0.0/8'), c('11.0.0.0/16'))).toBe(false);
    expect(containsCidr(c('::/0'), c('0.0.0.0/0'))).toBe(false);
    expect(overlaps(c('10.0.0.0/8'), c('10.255.0.0/16'))).toBe(true);
    expect(overlaps(c('10.0.0.0/25'), c('10.0.0.128/25'))).toBe(false);
    expect(overlaps(c('::/96'), c('0.0.0.0/0'))).toBe(false);
    expect(containsAddress(c('10.0.0.0/24'), parseAddress('10.0.0.255'))).toBe(true);
    expect(containsAddress(c('10.0.0.0/24'), parseAddress('10.0.1.0'))).toBe(false);
    expect(containsAddress(c('10.0.0.0/24'), 0x0a000005n)).toBe(true);
    expect(containsAddress(c('::/64'), parseAddress('0.0.0.5'))).toBe(false);
  });

  it('orders by version, network, then prefix', () => {
    const sorted = [c('::/0'), c('10.0.0.0/16'), c('10.0.0.0/8'), c('9.0.0.0/8')].sort(compareCidr);
    expect(fmt(sorted)).toEqual(['9.0.0.0/8', '10.0.0.0/8', '10.0.0.0/16', '::/0']);
  });

  it('aligns up to block boundaries', () => {
    expect(alignUp(0x0a000001n, 24, 4)).toBe(0x0a000100n);
    expect(alignUp(0x0a000100n, 24, 4)).toBe(0x0a000100n);
    expect(alignUp(0n, 0, 4)).toBe(0n);
    expect(alignUp(1n, 0, 4)).toBe(1n << 32n); // past the end of the space: callers bound-check
    expect(alignUp(1n, 64, 6)).toBe(1n << 64n);
  });
});

describe('freeCidrs', () => {
  it('is the whole range when nothing is used', () => {
    expect(fmt(freeCidrs(c('10.0.0.0/8'), []))).toEqual(['10.0.0.0/8']);
  });

  it('returns maximal aligned blocks in ascending order, whatever the order of used', () => {
    const free = freeCidrs(c('10.0.0.0/24'), [c('10.0.0.64/26'), c('10.0.0.5/32')]);
    expect(fmt(free)).toEqual(['10.0.0.0/30', '10.0.0.4/32', '10.0.0.6/31', '10.0.0.8/29', '10.0.0.16/28', '10.0.0.32/27', '10.0.0.128/25']);
  });

  it('works on a huge IPv6 range without enumerating it', () => {
    const free = freeCidrs(c('2001:db8::/32'), [c('2001:db8::/64'), c('2001:db8:ffff:ffff::/64')]);
    // Each /33 half minus one /64 is 2^31 - 1 /64s: one block per prefix /34 … /64, so 31 per half.
    expect(free).toHaveLength(31 + 31);
    expect(free[30]!.prefix).toBe(34);
    expect(formatCidr(free[0]!)).toBe('2001:db8:0:1::/64');
    expect(formatCidr(free[free.length - 1]!)).toBe('2001:db8:ffff:fffe::/64');
    expect(usageSummary(c('2001:db8::/32'), [c('2001:db8::/64')]).free).toBe((1n << 96n) - (1n << 64n));
  });

  it('is empty when the range is full', () => {
    expect(freeCidrs(c('10.0.0.0/24'), [c('10.0.0.0/25'), c('10.0.0.128/25')])).toEqual([]);
  });
});

describe('bestFit', () => {
  // Holes: 10.0.0.16/28 (small), 10.0.0.64/26 (large), 10.0.0.160/27 (medium), 10.0.0.224/27 (medium).
  const range = c('10.0.0.0/24');
  const used = [c('10.0.0.0/28'), c('10.0.0.32/27'), c('10.0.0.128/27'), c('10.0.0.192/27')];

  it('chooses the smallest hole that fits', () => {
    expect(formatCidr(bestFit(range, used, 28)!)).toBe('10.0.0.16/28');
    expect(formatCidr(bestFit(range, used, 30)!)).toBe('10.0.0.16/30');
    expect(formatCidr(bestFit(range, used, 26)!)).toBe('10.0.0.64/26');
  });

  it('breaks ties by the lowest address', () => {
    expect(formatCidr(bestFit(range, used, 27)!)).toBe('10.0.0.160/27');
  });

  it('returns null when nothing fits or the length is out of bounds', () => {
    expect(bestFit(range, used, 25)).toBeNull();
    expect(bestFit(range, used, 23)).toBeNull();
    expect(bestFit(range, used, 33)).toBeNull();
    expect(bestFit(range, [range], 32)).toBeNull();
    expect(formatCidr(bestFit(range, [], 24)!)).toBe('10.0.0.0/24');
  });

  it('matches a brute-force best fit on random small ranges', () => {
    fc.assert(
      fc.property(arbScenario(), fc.integer({ min: 0, max: 8 }), ({ range: r, used: u }, extra) => {
        const n = Math.min(r.prefix + extra, maxPrefix(r.version));
        const isFree = (x: Cidr) => !u.some((y) => overlaps(x, y));
        // Reference: walk every aligned /n; score a free one by its largest free ancestor inside the range.
        let best: { cidr: Cidr; holePrefix: number } | null = null;
        const step = 1n << BigInt(maxPrefix(r.version) - n);
        for (let x = r.network; x <= lastAddress(r); x += step) {
          const block: Cidr = { version: r.version, network: x, prefix: n };
          if (!isFree(block)) continue;
          let hole = block;
          while (hole.prefix > r.prefix) {
            const parentSize = cidrSize(hole) * 2n;
            const parent: Cidr = { version: r.version, network: hole.network - (hole.network % parentSize), prefix: hole.prefix - 1 };
            if (!isFree(parent)) break;
            hole = parent;
          }
          if (best === null || hole.prefix > best.holePrefix) best = { cidr: block, holePrefix: hole.prefix };
        }
        expect(bestFit(r, u, n)).toEqual(best?.cidr ?? null);
      }),
      { numRuns: 200 },
    );
  });
});

describe('freeCidrs properties', () => {
  it('blocks are maximal, disjoint, inside the range, ascending, and with used cover it exactly', () => {
    fc.assert(
      fc.property(arbScenario(), ({ range, used }) => {
        const free = freeCidrs(range, used);
        const space = (list: Cidr[]) => list.reduce((acc, x) => acc + cidrSize(x), 0n);
        expect(space(free) + space(used)).toBe(cidrSize(range));
        for (let i = 0; i < free.length; i++) {
          const block = free[i]!;
          expect(containsCidr(range, block)).toBe(true);
          expect(block.network % cidrSize(block)).toBe(0n);
          expect(used.some((u) => overlaps(u, block))).toBe(false);
          if (i > 0) expect(free[i - 1]!.network + cidrSize(free[i - 1]!)).toBeLessThanOrEqual(block.network);
          // Maximal: the parent block either leaves the range or touches used space.
          if (block.prefix > range.prefix) {
            const parentSize = cidrSize(block) * 2n;
            const parent: Cidr = { version: block.version, network: block.network - (block.network % parentSize), prefix: block.prefix - 1 };
            expect(used.some((u) => overlaps(u, parent))).toBe(true);
          }
        }
        const summary = usageSummary(range, used);
        expect(summary).toEqual({ total: cidrSize(range), used: space(used), free: space(free) });
      }),
      { numRuns: 200 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Generators (shared shape with blocks.test.ts, kept local so each file stands alone)

function arbCidr(version: IpVersion): fc.Arbitrary<Cidr> {
  const bits = maxPrefix(version);
  return fc.tuple(fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n }), fc.integer({ min: 0, max: bits })).map(([v, prefix]) => {
    const size = 1n << BigInt(bits - prefix);
    return { version, network: v - (v % size), prefix };
  });
}

/** A small range (v4 /20–/28 or v6 /116–/124) with random non-overlapping used blocks inside it. */
function arbScenario(): fc.Arbitrary<{ range: Cidr; used: Cidr[] }> {
  return fc
    .tuple(
      fc.constantFrom<IpVersion>(4, 6),
      fc.integer({ min: 0, max: 8 }),
      fc.bigInt({ min: 0n, max: (1n << 32n) - 1n }),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 12 }), fc.bigInt({ min: 0n, max: (1n << 12n) - 1n })), { maxLength: 12 }),
    )
    .map(([version, prefixOffset, seed, picks]) => {
      const bits = maxPrefix(version);
      const prefix = bits - 12 + prefixOffset;
      const size = 1n << BigInt(bits - prefix);
      const base = version === 4 ? seed : (0x20010db8n << 96n) | (seed << 32n);
      const range: Cidr = { version, network: base - (base % size), prefix };
      const used: Cidr[] = [];
      for (const [depth, offset] of picks) {
        const p = Math.min(prefix + depth, bits);
        const bsize = 1n << BigInt(bits - p);
        const network = range.network + ((offset % size) - ((offset % size) % bsize));
        const candidate: Cidr = { version, network, prefix: p };
        if (!used.some((u) => overlaps(u, candidate))) used.push(candidate);
      }
      return { range, used };
    });
}
