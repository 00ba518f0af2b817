import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import type { HostCondition } from '../../domain/host-state.ts';

export const TIERS = ['dev', 'stg', 'sbx', 'prd'] as const;

export const Account = defineEntity({
  name: 'Account',
  tableName: 'account',
  properties: {
    id: p.uuid().primary(),
    key: p.string().unique(),
    provider: p.enum(['aws', 'gcp'] as const),
    name: p.string(),
    platform: p.string().nullable(),
    tier: p.enum(TIERS).nullable(),
    environment: p.string().nullable(),
    regions: p
      .json<string[]>()
      .onCreate(() => [])
      .defaultRaw(`'[]'`),
    /** Where the credentials are (`file:<name>` / `env:<VAR>`), never the credentials; null: the default file or variable. */
    credentialsRef: p.string().nullable(),
    conditions: p
      .json<HostCondition[]>()
      .onCreate(() => [])
      .defaultRaw(`'[]'`),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
});
export type IAccount = InferEntity<typeof Account>;
