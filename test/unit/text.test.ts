// The text building blocks refuse exactly what PostgreSQL cannot store, and say where it was.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { findUnstorable, isStorable, safeJson, safeText, NUL_MESSAGE, SURROGATE_MESSAGE } from '../../domain/text.ts';
import { isUnstorable } from '../support/awkward-text.ts';

describe('domain/text', () => {
  it('safeText accepts any storable string within its length and refuses NUL and lone surrogates', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (s) => {
        const result = safeText(80).safeParse(s); // 40 code points are at most 80 UTF-16 units
        expect(result.success).toBe(!isUnstorable(s));
        expect(isStorable(s)).toBe(!isUnstorable(s));
      }),
      { numRuns: 300 },
    );
    expect(safeText(3).safeParse('a\u0000').error?.issues[0]?.message).toBe(NUL_MESSAGE);
    expect(safeText(3).safeParse('\uDE00').error?.issues[0]?.message).toBe(SURROGATE_MESSAGE);
    expect(safeText(3).safeParse('\uD83D\uDE00').success).toBe(true); // a surrogate pair is one emoji
    expect(safeText(3).safeParse('abcd').success).toBe(false);
  });

  it('finds the first unstorable key or string inside JSON, with its path', () => {
    expect(findUnstorable({ a: ['ok', { b: 'x\u0000' }] })).toEqual({ path: ['a', 1, 'b'], reason: NUL_MESSAGE });
    expect(findUnstorable({ 'k\uD800': 1 })).toEqual({ path: ['k\uD800'], reason: `key ${SURROGATE_MESSAGE}` });
    expect(findUnstorable({ a: 1, b: [true, null, 'fine'] })).toBeNull();
    let deep: unknown = 'leaf';
    for (let i = 0; i < 40; i++) deep = [deep];
    expect(findUnstorable(deep)?.reason).toMatch(/nest deeper/);
  });

  it('safeJson names the field inside the object and caps the size', () => {
    const bad = safeJson(1024).safeParse({ write_files: [{ content: 'x\u0000' }] });
    expect(bad.error?.issues[0]?.path).toEqual(['write_files', 0, 'content']);
    expect(safeJson(16).safeParse({ motd: 'x'.repeat(32) }).success).toBe(false);
    expect(safeJson(1024).safeParse({ packages: ['curl'] }).success).toBe(true);
  });
});
