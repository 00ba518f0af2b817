import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export const ApiToken = defineEntity({
  name: 'ApiToken',
  tableName: 'api_token',
  properties: {
    id: p.uuid().primary(),
    name: p.string().unique(),
    role: p.enum(ROLES),
    // SHA-256 of the token: tokens are 256-bit random, so a slow hash buys nothing (docs/decisions).
    tokenHash: p.string().unique().hidden(),
    prefix: p.string(),
    createdAt: p.datetime().onCreate(() => new Date()),
    lastUsedAt: p.datetime().nullable(),
    revokedAt: p.datetime().nullable(),
  },
});
export type IApiToken = InferEntity<typeof ApiToken>;
