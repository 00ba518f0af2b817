import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

/** Remembers the response to a mutation sent with an Idempotency-Key, per token. */
export const IdempotencyRecord = defineEntity({
  name: 'IdempotencyRecord',
  tableName: 'idempotency_record',
  properties: {
    id: p.uuid().primary(),
    actor: p.string(),
    key: p.string(),
    method: p.string(),
    // The request URL (path and query): any length.
    path: p.text(),
    requestHash: p.string(),
    statusCode: p.integer().nullable(),
    responseBody: p.json<unknown>().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
  uniques: [{ properties: ['actor', 'key'] }],
});
export type IIdempotencyRecord = InferEntity<typeof IdempotencyRecord>;
