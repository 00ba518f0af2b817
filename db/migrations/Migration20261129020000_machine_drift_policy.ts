import { Migration } from '@mikro-orm/migrations';

/**
 * A machine's own drift policy: null follows its provider's (`drift.<provider>Policy`), otherwise
 * `observe` or `remediate` for this machine only (docs/decisions/0019).
 */
export class Migration20261129020000_machine_drift_policy extends Migration {
  override up(): void {
    this.addSql(`alter table machine add column drift_policy text null constraint machine_drift_policy_check check (drift_policy in ('observe', 'remediate'))`);
  }

  override down(): void {
    this.addSql(`alter table machine drop column if exists drift_policy`);
  }
}
