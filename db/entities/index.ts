export { Machine, type IMachine, type Condition } from './machine.ts';
export { ApiToken, type IApiToken, ROLES, type Role } from './api-token.ts';
export { AuditEvent, type IAuditEvent } from './audit-event.ts';
export { Operation, type IOperation } from './operation.ts';
export { IdempotencyRecord, type IIdempotencyRecord } from './idempotency-record.ts';
export { DryRunVm, DryRunCall, type IDryRunVm, type IDryRunCall } from './dryrun.ts';

import { Machine } from './machine.ts';
import { ApiToken } from './api-token.ts';
import { AuditEvent } from './audit-event.ts';
import { Operation } from './operation.ts';
import { IdempotencyRecord } from './idempotency-record.ts';
import { DryRunVm, DryRunCall } from './dryrun.ts';

export const ENTITIES = [Machine, ApiToken, AuditEvent, Operation, IdempotencyRecord, DryRunVm, DryRunCall];
