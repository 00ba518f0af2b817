import { Migration } from '@mikro-orm/migrations';

/**
 * A host's own drift policy (null: its provider's, `drift.redfishPolicy`) and each observer
 * target's scan signals for /metrics: the last scan's duration, how many scans failed or were
 * partial, and the last such error. Scans run in workers and metrics are served by the API, so the
 * figures live in the target's row (written once per scan, with the scan clock it already writes).
 */
export class Migration20261129030000_host_drift_policy extends Migration {
  override up(): void {
    this.addSql(`alter table host add column drift_policy text null constraint host_drift_policy_check check (drift_policy in ('observe', 'remediate'))`);
    this.addSql(`alter table drift_scan_target
      add column last_duration_ms integer null,
      add column failures bigint not null default 0,
      add column last_error text null`);
  }

  override down(): void {
    this.addSql(`alter table drift_scan_target drop column last_error, drop column failures, drop column last_duration_ms`);
    this.addSql(`alter table host drop column drift_policy`);
  }
}
