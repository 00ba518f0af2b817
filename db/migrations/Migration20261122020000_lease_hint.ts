import { Migration } from '@mikro-orm/migrations';
import { LOWER_ALLOC_HINT_BODY } from '../entities/ip-lease.ts';

/**
 * network.alloc_hint: every address of the leasable range below it is taken (or excluded), so
 * the lowest-free search starts there instead of reading every lease. Allocation raises it;
 * releasing a lease lowers it (trigger); changing a network's exclusions resets it (null).
 */
export class Migration20261122020000_lease_hint extends Migration {
  override up(): void {
    this.addSql(`alter table network add column alloc_hint inet null`);
    this.addSql(`create function ip_lease_lower_alloc_hint_fn() returns trigger as $$ begin ${LOWER_ALLOC_HINT_BODY} end; $$ language plpgsql`);
    this.addSql(`create trigger lower_alloc_hint after update on ip_lease
      for each row execute function ip_lease_lower_alloc_hint_fn()`);
  }

  override down(): void {
    this.addSql(`drop trigger if exists lower_alloc_hint on ip_lease`);
    this.addSql(`drop function if exists ip_lease_lower_alloc_hint_fn()`);
    this.addSql(`alter table network drop column if exists alloc_hint`);
  }
}
