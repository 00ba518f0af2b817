// Numbers people read: percentages rounded (not truncated) and counts grouped in thousands,
// computed in BigInt so an IPv6 /32 (2^96 addresses) loses no precision.

/** used/total as a percentage rounded half up to `decimals` places (0 when total is 0). */
export function percentOf(used: bigint, total: bigint, decimals = 2): number {
  if (total <= 0n) return 0;
  const scale = 10n ** BigInt(decimals);
  const scaled = (used * 100n * scale * 2n + total) / (total * 2n);
  return Number(scaled) / Number(scale);
}

/** A whole number (bigint, number or decimal string) with thousands separators: 65536 → "65,536". */
export function groupThousands(value: bigint | number | string): string {
  const s = typeof value === 'string' ? value.trim() : BigInt(value).toString();
  if (!/^-?\d+$/.test(s)) return s;
  const negative = s.startsWith('-');
  const digits = negative ? s.slice(1) : s;
  return `${negative ? '-' : ''}${digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}`;
}
