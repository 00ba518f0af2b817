import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

export const AuditEvent = defineEntity({
  name: 'AuditEvent',
  tableName: 'audit_event',
  properties: {
    id: p.bigint('string').primary().autoincrement(),
    at: p
      .datetime()
      .onCreate(() => new Date())
      .index('audit_event_at_index'),
    actor: p.string(),
    action: p.string(),
    resourceType: p.string(),
    resourceId: p.string().nullable(),
    requestId: p.string(),
    statusCode: p.integer(),
    detail: p.json<Record<string, unknown>>().nullable(),
  },
});
export type IAuditEvent = InferEntity<typeof AuditEvent>;
