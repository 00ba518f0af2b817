import { z } from 'zod';
import { AuditEvent } from '../../db/entities/index.ts';
import { safeFilter } from '../../domain/text.ts';
import type { ApiDeps } from '../context.ts';
import { cursorParts, pageOf, parsePage } from '../pagination.ts';
import { contractRouter, json, type ContractRouter } from '../contract/route.ts';
import { page, paging } from '../contract/schemas.ts';
import { auditEvent } from '../contract/views.ts';

const listQuery = z.object({
  actor: safeFilter(255).optional(),
  resource_id: safeFilter(255).optional(),
  ...paging,
});

export function auditRouter(deps: ApiDeps): ContractRouter {
  const r = contractRouter({ tags: ['audit'] });
  r.route({
    method: 'get',
    path: '/',
    summary: 'Audit events, newest first',
    query: listQuery,
    responses: { 200: json(page(auditEvent), 'a page of audit events') },
    handler: async ({ query }, req, res) => {
      const pg = parsePage(req.query, deps.config.api.maxPageSize);
      const where: Record<string, unknown> = {};
      if (query.actor) where.actor = query.actor;
      if (query.resource_id) where.resourceId = query.resource_id;
      if (pg.after) where.id = { $lt: cursorParts(pg.after, [(p) => /^\d{1,18}$/.test(p)])[0] };
      const rows = await deps.orm.em.fork().find(AuditEvent, where, { orderBy: { id: 'desc' }, limit: pg.pageSize + 1 });
      const { items, next_cursor } = pageOf(rows, pg.pageSize, (e) => String(e.id));
      res.json({
        items: items.map((e) => ({
          id: String(e.id),
          at: e.at,
          actor: e.actor,
          action: e.action,
          resource_type: e.resourceType,
          resource_id: e.resourceId ?? null,
          request_id: e.requestId,
          status_code: e.statusCode,
          detail: e.detail ?? null,
        })),
        next_cursor,
      });
    },
  });
  return r;
}
