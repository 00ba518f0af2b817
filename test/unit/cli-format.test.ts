// How the CLI shows numbers and times: rounded BigInt-safe percentages, grouped counts, durations
// and relative times.
import { describe, expect, it } from '@jest/globals';
import { groupThousands, percentOf } from '../../domain/numbers.ts';
import { absoluteAndRelative, duration, relative } from '../../cli/time.ts';

describe('percentOf', () => {
  it('rounds instead of truncating (320 of 65,536 is 0.49 %)', () => {
    expect(percentOf(320n, 65536n)).toBe(0.49);
    expect(percentOf(65536n, 16777216n)).toBe(0.39);
    expect(percentOf(1n, 3n)).toBe(33.33);
    expect(percentOf(2n, 3n)).toBe(66.67);
    expect(percentOf(0n, 0n)).toBe(0);
  });

  it('stays exact for IPv6-sized totals', () => {
    const total = 2n ** 96n;
    expect(percentOf(total / 2n, total)).toBe(50);
    expect(percentOf(total / 3n, total)).toBe(33.33);
    expect(percentOf(1n, total)).toBe(0);
  });
});

describe('groupThousands', () => {
  it('groups digits of numbers, bigints and decimal strings', () => {
    expect(groupThousands(65536)).toBe('65,536');
    expect(groupThousands(2n ** 64n)).toBe('18,446,744,073,709,551,616');
    expect(groupThousands('16777216')).toBe('16,777,216');
    expect(groupThousands('999')).toBe('999');
    expect(groupThousands('n/a')).toBe('n/a');
  });
});

describe('times', () => {
  it('prints durations people read', () => {
    expect(duration(1234)).toBe('1.2 s');
    expect(duration(45_000)).toBe('45 s');
    expect(duration(185_000)).toBe('3 min 5 s');
    expect(duration(2 * 3600_000 + 600_000)).toBe('2 h 10 min');
  });

  it('shows timestamps absolute and relative', () => {
    const now = Date.parse('2026-11-29T10:05:00Z');
    expect(relative('2026-11-29T10:02:00.000Z', now)).toBe('3 min ago');
    expect(relative('2026-11-29T10:05:20.000Z', now)).toBe('in 20 s');
    expect(absoluteAndRelative('2026-11-29T10:02:00.000Z', now)).toBe('2026-11-29 10:02:00Z (3 min ago)');
  });
});
