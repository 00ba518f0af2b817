import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

/**
 * The dry-run provider's pretend hypervisor. It lives in PostgreSQL so that its "side effects"
 * survive worker crashes exactly like a real system's would, which lets tests prove idempotency.
 */
export const DryRunVm = defineEntity({
  name: 'DryRunVm',
  tableName: 'dryrun_vm',
  properties: {
    id: p.string().primary(),
    machineId: p.uuid().unique(),
    name: p.string(),
    cpu: p.integer().nullable(),
    memoryMb: p.integer().nullable(),
    diskGb: p.integer().nullable(),
    powerState: p.enum(['stopped', 'running'] as const).default('stopped'),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});
export type IDryRunVm = InferEntity<typeof DryRunVm>;

/** Every call the dry-run provider received; `effect` says whether it changed anything. */
export const DryRunCall = defineEntity({
  name: 'DryRunCall',
  tableName: 'dryrun_call',
  properties: {
    id: p.bigint('string').primary().autoincrement(),
    machineId: p.uuid().index(),
    method: p.string(),
    args: p.json<Record<string, unknown>>(),
    effect: p.enum(['applied', 'noop'] as const),
    at: p.datetime().onCreate(() => new Date()),
  },
});
export type IDryRunCall = InferEntity<typeof DryRunCall>;
