export { Machine, type IMachine, type Condition } from './machine.ts';
export { ApiToken, type IApiToken, ROLES, type Role } from './api-token.ts';
export { AuditEvent, type IAuditEvent } from './audit-event.ts';
export { Operation, type IOperation } from './operation.ts';
export { IdempotencyRecord, type IIdempotencyRecord } from './idempotency-record.ts';
export { DryRunVm, DryRunCall, type IDryRunVm, type IDryRunCall } from './dryrun.ts';
export { SshKey, type ISshKey } from './ssh-key.ts';
export { Network, type INetwork } from './network.ts';
export { IpLease, LEASE_STATES, type IIpLease } from './ip-lease.ts';
export { Account, TIERS, type IAccount } from './account.ts';
export { Pool, type IPool } from './pool.ts';
export { AddressScope, type IAddressScope } from './address-scope.ts';
export { CloudSubnet, type ICloudSubnet } from './cloud-subnet.ts';
export { Template, TEMPLATE_STATES, type ITemplate } from './template.ts';
export { Disk, DISK_STATES, type IDisk } from './disk.ts';
export { Host, type IHost } from './host.ts';
export { Cluster, ClusterMachine, type ICluster, type IClusterMachine } from './cluster.ts';

import { Machine } from './machine.ts';
import { ApiToken } from './api-token.ts';
import { AuditEvent } from './audit-event.ts';
import { Operation } from './operation.ts';
import { IdempotencyRecord } from './idempotency-record.ts';
import { DryRunVm, DryRunCall } from './dryrun.ts';
import { SshKey } from './ssh-key.ts';
import { Network } from './network.ts';
import { IpLease } from './ip-lease.ts';
import { Account } from './account.ts';
import { Pool } from './pool.ts';
import { AddressScope } from './address-scope.ts';
import { CloudSubnet } from './cloud-subnet.ts';
import { Template } from './template.ts';
import { Disk } from './disk.ts';
import { Host } from './host.ts';
import { Cluster, ClusterMachine } from './cluster.ts';

export const ENTITIES = [
  Machine,
  ApiToken,
  AuditEvent,
  Operation,
  IdempotencyRecord,
  DryRunVm,
  DryRunCall,
  SshKey,
  Network,
  IpLease,
  Account,
  Pool,
  AddressScope,
  CloudSubnet,
  Template,
  Disk,
  Host,
  Cluster,
  ClusterMachine,
];
