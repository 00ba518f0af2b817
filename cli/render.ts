// Plain-text rendering for the CLI: tables and the live step list of `ops watch`.
import type { Progress } from '../domain/progress.ts';

export function table(rows: Record<string, unknown>[], columns: string[]): string {
  if (!rows.length) return '(none)';
  const cell = (v: unknown) => (v === null || v === undefined ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join('\n');
}

const ICON: Record<string, string> = {
  pending: '[ ]',
  running: '[>]',
  completed: '[x]',
  failed: '[!]',
  compensated: '[~]',
  skipped: '[-]',
};

export function renderProgress(status: string, progress: Progress | null, width = 30): string[] {
  if (!progress) return [`status: ${status} (progress unavailable: no worker is answering queries)`];
  const main = progress.steps.filter((s) => !s.name.startsWith('undo:'));
  const done = main.filter((s) => s.status === 'completed' || s.status === 'skipped').length;
  const filled = main.length ? Math.round((done / main.length) * width) : width;
  const lines = [`${progress.workflow} ${progress.resourceId}  [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${main.length}  ${status}`];
  for (const step of progress.steps) {
    lines.push(`  ${ICON[step.status] ?? '[?]'} ${step.name}${step.error ? `  — ${step.error}` : ''}`);
  }
  if (progress.error) lines.push(`  error: ${progress.error.code}: ${progress.error.message}`);
  return lines;
}
