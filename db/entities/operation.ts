import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

/** A workflow run started on behalf of a user: the API's handle on Temporal executions. */
export const Operation = defineEntity({
  name: 'Operation',
  tableName: 'operation',
  properties: {
    id: p.uuid().primary(),
    kind: p.string(),
    workflowId: p.string(),
    runId: p.string().nullable(),
    resourceType: p.string(),
    resourceId: p.string(),
    requestedBy: p.string(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
  indexes: [{ name: 'operation_resource_index', properties: ['resourceType', 'resourceId'] }],
});
export type IOperation = InferEntity<typeof Operation>;
