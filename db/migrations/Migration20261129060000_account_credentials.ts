import { Migration } from '@mikro-orm/migrations';

/**
 * Cloud accounts learn where their credentials are and what the last check of them found:
 * `credentials_ref` names a 0600 file in the credentials folder (`file:<name>`) or an environment
 * variable (`env:HANGAR_CLOUD_CREDENTIALS_…`) — a reference, never the secret — and `conditions`
 * holds the `credentialsVerified` condition written by POST /accounts/{id}/actions/verify.
 */
export class Migration20261129060000_account_credentials extends Migration {
  override up(): void {
    this.addSql(`alter table account add column credentials_ref varchar(255) null`);
    this.addSql(`alter table account add column conditions jsonb not null default '[]'`);
  }

  override down(): void {
    this.addSql(`alter table account drop column conditions`);
    this.addSql(`alter table account drop column credentials_ref`);
  }
}
