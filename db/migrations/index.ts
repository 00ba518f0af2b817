// Migrations are listed explicitly (not discovered by glob) so they load the same way from
// sources, tests and bundles. Append new ones in order.
import { Migration20261122000000_foundation } from './Migration20261122000000_foundation.ts';
import { Migration20261122010000_inventory } from './Migration20261122010000_inventory.ts';
import { Migration20261122020000_lease_hint } from './Migration20261122020000_lease_hint.ts';
import { Migration20261122030000_allocate_leases } from './Migration20261122030000_allocate_leases.ts';
import { Migration20261122040000_vm_lifecycle } from './Migration20261122040000_vm_lifecycle.ts';
import { Migration20261122050000_hosts } from './Migration20261122050000_hosts.ts';
import { Migration20261129000000_idempotency_path } from './Migration20261129000000_idempotency_path.ts';
import { Migration20261129010000_drift } from './Migration20261129010000_drift.ts';
import { Migration20261129020000_machine_drift_policy } from './Migration20261129020000_machine_drift_policy.ts';
import { Migration20261129030000_host_drift_policy } from './Migration20261129030000_host_drift_policy.ts';
import { Migration20261129050000_address_scopes } from './Migration20261129050000_address_scopes.ts';
import { Migration20261129060000_account_credentials } from './Migration20261129060000_account_credentials.ts';
import { Migration20261129070000_allocate_lease_run } from './Migration20261129070000_allocate_lease_run.ts';
import { Migration20261129080000_cloud_subnets } from './Migration20261129080000_cloud_subnets.ts';

export const MIGRATIONS = [
  { name: 'Migration20261122000000_foundation', class: Migration20261122000000_foundation },
  { name: 'Migration20261122010000_inventory', class: Migration20261122010000_inventory },
  { name: 'Migration20261122020000_lease_hint', class: Migration20261122020000_lease_hint },
  { name: 'Migration20261122030000_allocate_leases', class: Migration20261122030000_allocate_leases },
  { name: 'Migration20261122040000_vm_lifecycle', class: Migration20261122040000_vm_lifecycle },
  { name: 'Migration20261122050000_hosts', class: Migration20261122050000_hosts },
  { name: 'Migration20261129000000_idempotency_path', class: Migration20261129000000_idempotency_path },
  { name: 'Migration20261129010000_drift', class: Migration20261129010000_drift },
  { name: 'Migration20261129020000_machine_drift_policy', class: Migration20261129020000_machine_drift_policy },
  { name: 'Migration20261129030000_host_drift_policy', class: Migration20261129030000_host_drift_policy },
  { name: 'Migration20261129050000_address_scopes', class: Migration20261129050000_address_scopes },
  { name: 'Migration20261129060000_account_credentials', class: Migration20261129060000_account_credentials },
  { name: 'Migration20261129070000_allocate_lease_run', class: Migration20261129070000_allocate_lease_run },
  { name: 'Migration20261129080000_cloud_subnets', class: Migration20261129080000_cloud_subnets },
];
