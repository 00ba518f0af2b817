import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { MACHINE_STATES, PROVIDERS } from '../../domain/machine.ts';

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
}

export const Machine = defineEntity({
  name: 'Machine',
  tableName: 'machine',
  properties: {
    id: p.uuid().primary(),
    name: p.string().unique(),
    kind: p.enum(['vm', 'baremetal'] as const).default('vm'),
    provider: p.enum(PROVIDERS),
    state: p.enum(MACHINE_STATES).default('pending').index('machine_state_index'),
    cpu: p.integer().check('cpu > 0'),
    memoryMb: p.integer().check('memory_mb > 0'),
    diskGb: p.integer().check('disk_gb > 0'),
    targetNode: p.string().nullable(),
    providerId: p.string().nullable(),
    template: p.string().nullable(),
    // Shown once on create; the seed URL written into the VM carries it.
    metadataToken: p.string().hidden(),
    conditions: p.json<Condition[]>().onCreate(() => []).defaultRaw(`'[]'`),
    lastError: p.text().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});
export type IMachine = InferEntity<typeof Machine>;
