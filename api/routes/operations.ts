import { z } from 'zod';
import { HangarError } from '../../domain/errors.ts';
import { safeFilter } from '../../domain/text.ts';
import { Operation } from '../../db/entities/index.ts';
import type { ApiDeps } from '../context.ts';
import { describeOperation, operationListItem } from '../operations.ts';
import { cursorParts, isCursorTimestamp, isUuid, pageOf, parsePage } from '../pagination.ts';
import { contractRouter, json, type ContractRouter } from '../contract/route.ts';
import { byId, operationDetail, operationListEntry, page, paging } from '../contract/schemas.ts';

const listQuery = z.object({
  resource_id: safeFilter(255).optional(),
  kind: safeFilter(64).optional(),
  ...paging,
});

export function operationsRouter(deps: ApiDeps): ContractRouter {
  const r = contractRouter({ tags: ['operations'] });

  r.route({
    method: 'get',
    path: '/',
    summary: 'List operations, newest first',
    query: listQuery,
    responses: { 200: json(page(operationListEntry), 'a page of operations, each with its status from Temporal') },
    handler: async ({ query }, req, res) => {
      const pg = parsePage(req.query, deps.config.api.maxPageSize);
      const where: Record<string, unknown> = {};
      if (query.resource_id) where.resourceId = query.resource_id;
      if (query.kind) where.kind = query.kind;
      if (pg.after) {
        // Newest first; the cursor is the last row's (created_at, id), id breaking ties.
        const [at, id] = cursorParts(pg.after, [isCursorTimestamp, isUuid]);
        const when = new Date(at!);
        where.$or = [{ createdAt: { $lt: when } }, { createdAt: when, id: { $lt: id } }];
      }
      const rows = await deps.orm.em.fork().find(Operation, where, { orderBy: { createdAt: 'desc', id: 'desc' }, limit: pg.pageSize + 1 });
      const { items, next_cursor } = pageOf(rows, pg.pageSize, (o) => `${o.createdAt.toISOString()}|${o.id}`);
      res.json({ items: await Promise.all(items.map((o) => operationListItem(deps.temporal, deps.config, o))), next_cursor });
    },
  });

  r.route({
    method: 'get',
    path: '/:id',
    summary: 'Operation status and progress',
    params: byId('operation'),
    responses: { 200: json(operationDetail, 'the operation') },
    errors: [404, 503],
    handler: async ({ params }, _req, res) => {
      const notFound = new HangarError('not_found', `operation ${params.id} not found`);
      if (!z.uuid().safeParse(params.id).success) throw notFound;
      const op = await deps.orm.em.fork().findOne(Operation, { id: params.id });
      if (!op) throw notFound;
      res.json(await describeOperation(deps.temporal, deps.config, op));
    },
  });

  return r;
}
