import { Router } from 'express';
import { z } from 'zod';
import { HangarError } from '../../domain/errors.ts';
import { safeFilter } from '../../domain/text.ts';
import { Operation } from '../../db/entities/index.ts';
import type { ApiDeps } from '../context.ts';
import { describeOperation, operationSummary } from '../operations.ts';
import { cursorParts, isCursorTimestamp, isUuid, pageOf, parsePage } from '../pagination.ts';
import { parseOrThrow } from '../middleware/validate.ts';

const listQuery = z.object({
  resource_id: safeFilter(255).optional(),
  kind: safeFilter(64).optional(),
  page_size: z.unknown().optional(),
  cursor: z.unknown().optional(),
});

export function operationsRouter(deps: ApiDeps): Router {
  const router = Router();

  router.get('/', async (req, res) => {
    const q = parseOrThrow(listQuery, req.query, 'query');
    const page = parsePage(req.query, deps.config.api.maxPageSize);
    const where: Record<string, unknown> = {};
    if (q.resource_id) where.resourceId = q.resource_id;
    if (q.kind) where.kind = q.kind;
    if (page.after) {
      // Newest first; the cursor is the last row's (created_at, id), id breaking ties.
      const [at, id] = cursorParts(page.after, [isCursorTimestamp, isUuid]);
      const when = new Date(at!);
      where.$or = [{ createdAt: { $lt: when } }, { createdAt: when, id: { $lt: id } }];
    }
    const rows = await deps.orm.em.fork().find(Operation, where, { orderBy: { createdAt: 'desc', id: 'desc' }, limit: page.pageSize + 1 });
    const { items, next_cursor } = pageOf(rows, page.pageSize, (o) => `${o.createdAt.toISOString()}|${o.id}`);
    res.json({ items: items.map((o) => operationSummary(deps.config, o)), next_cursor });
  });

  router.get('/:id', async (req, res) => {
    const id = req.params.id;
    const notFound = new HangarError('not_found', `operation ${id} not found`);
    if (!z.uuid().safeParse(id).success) throw notFound;
    const op = await deps.orm.em.fork().findOne(Operation, { id });
    if (!op) throw notFound;
    res.json(await describeOperation(deps.temporal, deps.config, op));
  });

  return router;
}
