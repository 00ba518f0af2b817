// Drift findings: what the observers found different between the database and the providers.
// Read by viewers; an operator may ignore a finding (audited like every mutation).
import { z } from 'zod';
import { getFinding, ignoreFinding, listFindings } from '../../db/repositories/drift.ts';
import { DRIFT_KINDS, DRIFT_STATES } from '../../domain/drift.ts';
import { HangarError } from '../../domain/errors.ts';
import { safeFilter } from '../../domain/text.ts';
import type { ApiDeps } from '../context.ts';
import { contractRouter, json, type ContractRouter } from '../contract/route.ts';
import { byId, page, paging } from '../contract/schemas.ts';
import { driftFinding } from '../contract/views.ts';
import { cursorParts, isCursorTimestamp, isUuid, pageOf, parsePage } from '../pagination.ts';

const listQuery = z.object({
  kind: z.enum(DRIFT_KINDS).optional(),
  state: z.enum(DRIFT_STATES).optional(),
  provider: safeFilter(255).optional(),
  resource_id: safeFilter(255).optional(),
  ...paging,
});

/** A malformed id is simply not found, like every other id in a path. */
function findingId(id: string): string {
  if (!isUuid(id)) throw new HangarError('not_found', `drift finding ${id} not found`);
  return id;
}

export function driftRouter(deps: ApiDeps): ContractRouter {
  const r = contractRouter({ tags: ['drift'] });

  r.route({
    method: 'get',
    path: '/',
    summary: 'Drift findings, newest first',
    description: 'Filter by kind, state (open, resolved, ignored), provider and resource id.',
    query: listQuery,
    responses: { 200: json(page(driftFinding), 'a page of drift findings') },
    handler: async ({ query }, req, res) => {
      const pg = parsePage(req.query, deps.config.api.maxPageSize);
      const after = pg.after ? cursorParts(pg.after, [isCursorTimestamp, isUuid]) : null;
      const rows = await listFindings(deps.orm.em, {
        ...(query.kind ? { kind: query.kind } : {}),
        ...(query.state ? { state: query.state } : {}),
        ...(query.provider ? { provider: query.provider } : {}),
        ...(query.resource_id ? { resourceId: query.resource_id } : {}),
        after: after ? { firstSeen: after[0]!, id: after[1]! } : null,
        limit: pg.pageSize + 1,
      });
      res.json(pageOf(rows, pg.pageSize, (f) => `${f.first_seen}|${f.id}`));
    },
  });

  r.route({
    method: 'get',
    path: '/:id',
    params: byId('drift finding'),
    summary: 'One drift finding',
    responses: { 200: json(driftFinding, 'the finding') },
    errors: [404],
    handler: async ({ params }, _req, res) => {
      res.json(await getFinding(deps.orm.em, findingId(params.id)));
    },
  });

  r.route({
    method: 'post',
    path: '/:id/actions/ignore',
    params: byId('drift finding'),
    summary: 'Ignore a drift finding',
    description: 'The finding stays unresolved but is not reported again; it resolves when its difference goes away. A resolved finding is 409.',
    responses: { 200: json(driftFinding, 'the ignored finding') },
    errors: [404, 409],
    handler: async ({ params }, _req, res) => {
      const id = findingId(params.id);
      res.locals.audit = { action: 'drift.ignore', resourceType: 'drift_finding', resourceId: id };
      const finding = await ignoreFinding(deps.orm.em, id);
      res.locals.audit.detail = { resource_type: finding.resource_type, resource_id: finding.resource_id, kind: finding.kind };
      res.json(finding);
    },
  });

  return r;
}
