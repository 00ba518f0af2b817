import { Migration } from '@mikro-orm/migrations';

/**
 * idempotency_record.path holds the request's URL (path and query string), which can be far
 * longer than 255 characters; as varchar(255) a long URL sent with an Idempotency-Key failed the
 * insert. It is informational (the request hash identifies the request), so text is enough.
 */
export class Migration20261129000000_idempotency_path extends Migration {
  override up(): void {
    this.addSql(`alter table idempotency_record alter column path type text`);
  }

  override down(): void {
    // Longer paths are cut: the column only says which request claimed the key.
    this.addSql(`alter table idempotency_record alter column path type varchar(255) using left(path, 255)`);
  }
}
