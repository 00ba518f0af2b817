// Plain-text rendering for the CLI: tables, with timestamps shown absolute and relative
// ("2026-11-29 10:02:00Z (3 min ago)"); `-o wide` adds every other field of the rows as a column.
import { outputFormat } from './output-format.ts';
import { absoluteAndRelative, ISO_TIMESTAMP } from './time.ts';

const cellText = (v: unknown): string => {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'object') return JSON.stringify(v);
  const s = String(v);
  return ISO_TIMESTAMP.test(s) ? absoluteAndRelative(s) : s;
};

/** The columns to show: the given ones, plus (wide) every other field the rows have. */
function shownColumns(rows: Record<string, unknown>[], columns: string[]): string[] {
  if (outputFormat() !== 'wide' || (columns.length === 2 && columns[0] === 'field')) return columns;
  const extra = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) if (!columns.includes(k)) extra.add(k);
  return [...columns, ...extra];
}

export function table(rows: Record<string, unknown>[], columns: string[]): string {
  if (!rows.length) return '(none)';
  const cols = shownColumns(rows, columns);
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cellText(r[c]).length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(cols.map((c) => c.toUpperCase())), ...rows.map((r) => line(cols.map((c) => cellText(r[c]))))].join('\n');
}
