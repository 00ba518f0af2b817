// Times and durations as people read them: absolute (UTC) with a relative hint, and short durations.

export const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** 1.2 s, 45 s, 3 min 5 s, 2 h 10 min, 3 d 4 h. */
export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 10_000) return `${(Math.round(ms / 100) / 10).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** "3 min ago", "in 20 s", "just now". */
export function relative(iso: string, now = Date.now()): string {
  const delta = now - Date.parse(iso);
  if (Math.abs(delta) < 1000) return 'just now';
  return delta > 0 ? `${duration(delta).replace(/\.\d s$/, ' s')} ago` : `in ${duration(-delta).replace(/\.\d s$/, ' s')}`;
}

/** "2026-11-29 10:02:00Z (3 min ago)". */
export function absoluteAndRelative(iso: string, now = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  return `${new Date(t)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z')} (${relative(iso, now)})`;
}
