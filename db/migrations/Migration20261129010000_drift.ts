import { Migration } from '@mikro-orm/migrations';

/**
 * Drift findings and the observers' per-target scan state (docs/decisions/0018).
 *
 * `drift_finding_unresolved_unique` is what keeps concurrent scans from duplicating a finding: at
 * most one unresolved (open or ignored) finding per (resource, kind) can exist, and scans insert
 * with `on conflict do nothing`. `drift_scan_target` holds the two-scan rule's memory (the
 * resources a complete scan found absent once) and the target's scan clock, which is every open
 * finding's `last_seen` — so an unchanged scan rewrites no finding.
 */
export class Migration20261129010000_drift extends Migration {
  override up(): void {
    this.addSql(`create table drift_finding (
      id uuid primary key default gen_random_uuid(),
      target text not null,
      provider text not null,
      resource_type text not null,
      resource_id text not null,
      resource_name text not null,
      kind text not null
        constraint drift_finding_kind_check check (kind in ('missing', 'unmanaged', 'power_mismatch', 'config_mismatch', 'orphan', 'unreachable')),
      desired jsonb null,
      observed jsonb null,
      state text not null default 'open' constraint drift_finding_state_check check (state in ('open', 'resolved', 'ignored')),
      first_seen timestamptz not null,
      last_seen timestamptz not null,
      resolved_at timestamptz null,
      action_taken text null,
      constraint drift_finding_resolved_at_check check ((state = 'resolved') = (resolved_at is not null))
    )`);
    this.addSql(`create unique index drift_finding_unresolved_unique on drift_finding (resource_type, resource_id, kind) where state <> 'resolved'`);
    this.addSql(`create index drift_finding_target_unresolved_index on drift_finding (target) where state <> 'resolved'`);
    this.addSql(`create index drift_finding_list_index on drift_finding (first_seen desc, id desc)`);
    this.addSql(`create index drift_finding_resource_index on drift_finding (resource_id)`);

    this.addSql(`create table drift_scan_target (
      target text primary key,
      provider text not null,
      last_scan_at timestamptz not null,
      last_scan_complete boolean not null,
      last_complete_scan_at timestamptz null,
      absent_once jsonb not null default '[]'
    )`);
  }

  override down(): void {
    this.addSql(`drop table if exists drift_scan_target`);
    this.addSql(`drop table if exists drift_finding`);
  }
}
