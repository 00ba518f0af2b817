import { Router } from 'express';
import { z } from 'zod';
import { AuditEvent } from '../../db/entities/index.ts';
import { safeFilter } from '../../domain/text.ts';
import type { ApiDeps } from '../context.ts';
import { cursorParts, pageOf, parsePage } from '../pagination.ts';
import { parseOrThrow } from '../middleware/validate.ts';

const listQuery = z.object({
  actor: safeFilter(255).optional(),
  resource_id: safeFilter(255).optional(),
  page_size: z.unknown().optional(),
  cursor: z.unknown().optional(),
});

export function auditRouter(deps: ApiDeps): Router {
  const router = Router();
  router.get('/', async (req, res) => {
    const q = parseOrThrow(listQuery, req.query, 'query');
    const page = parsePage(req.query, deps.config.api.maxPageSize);
    const where: Record<string, unknown> = {};
    if (q.actor) where.actor = q.actor;
    if (q.resource_id) where.resourceId = q.resource_id;
    if (page.after) where.id = { $lt: cursorParts(page.after, [(p) => /^\d{1,18}$/.test(p)])[0] };
    const rows = await deps.orm.em.fork().find(AuditEvent, where, { orderBy: { id: 'desc' }, limit: page.pageSize + 1 });
    const { items, next_cursor } = pageOf(rows, page.pageSize, (e) => String(e.id));
    res.json({
      items: items.map((e) => ({
        id: String(e.id), at: e.at, actor: e.actor, action: e.action, resource_type: e.resourceType,
        resource_id: e.resourceId ?? null, request_id: e.requestId, status_code: e.statusCode, detail: e.detail ?? null,
      })),
      next_cursor,
    });
  });
  return router;
}
