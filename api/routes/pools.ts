import { z } from 'zod';
import type { EntityManager } from '@mikro-orm/postgresql';
import { HangarError } from '../../domain/errors.ts';
import { safeDescription, safeFilter, safeTags, safeText } from '../../domain/text.ts';
import { containsCidr, formatCidr, maxPrefix, parseCidr, usageSummary, type Cidr } from '../../domain/cidr.ts';
import { countBlocks, enumerateBlocks } from '../../domain/blocks.ts';
import { Account } from '../../db/entities/index.ts';
import {
  allocateBlock,
  allocateBlocks,
  children,
  deletePool,
  findPool,
  insertPool,
  POOL_COLUMNS,
  usedRanges,
  type PoolRow,
} from '../../db/repositories/pools.ts';
import { scopeForInput } from '../../db/repositories/scopes.ts';
import { sqlFor } from '../../db/sql.ts';
import type { ApiDeps } from '../context.ts';
import { encodeCursor, pageOf, parsePage } from '../pagination.ts';
import { contractRouter, json, noContent, type ContractRouter } from '../contract/route.ts';
import { byId, idParam, page, paging } from '../contract/schemas.ts';
import { allocation, allocationBatch, blockPage, pool, utilization } from '../contract/ipam-views.ts';
import { iso, resourceName } from './common.ts';
import { percentOf } from '../../domain/numbers.ts';

const tags = safeTags;

export const createPoolSchema = z
  .strictObject({
    name: resourceName,
    cidr: safeText(64, 1),
    parent_id: z.uuid().nullable().optional(),
    account_id: z.uuid().nullable().optional(),
    scope: safeText(255, 1).optional().meta({ description: "address scope id or name (default: the parent's scope, or global)" }),
    description: safeDescription(1000).nullable().optional(),
    tags: tags.optional(),
  })
  .meta({ id: 'CreatePool' });
export const updatePoolSchema = z
  .strictObject({
    name: resourceName.optional(),
    account_id: z.uuid().nullable().optional(),
    description: safeDescription(1000).nullable().optional(),
    tags: tags.optional(),
  })
  .meta({ id: 'UpdatePool' });
export const allocationSchema = z
  .strictObject({
    prefix_length: z.number().int().min(0).max(128).optional(),
    cidr: safeText(64, 1).optional(),
    account_id: z.uuid().nullable().optional(),
    name: safeText(255, 1).nullable().optional(),
    count: z.number().int().min(1).max(1024).optional().meta({ description: 'with prefix_length: that many blocks, all or none' }),
  })
  .refine((v) => (v.prefix_length === undefined) !== (v.cidr === undefined), { message: 'give exactly one of prefix_length or cidr', path: ['prefix_length'] })
  .refine((v) => v.count === undefined || v.prefix_length !== undefined, { message: 'count goes with prefix_length', path: ['count'] })
  .meta({ id: 'AllocationRequest', description: 'A block by size (prefix_length: the lowest free one) or by value (cidr).' });

export function poolView(p: PoolRow) {
  const cidr = parseCidr(p.cidr);
  return {
    id: p.id,
    name: p.name,
    cidr: formatCidr(cidr),
    version: cidr.version,
    parent_id: p.parent_id,
    account_id: p.account_id,
    scope_id: p.scope_id,
    scope: p.scope_name,
    description: p.description,
    tags: p.tags,
    created_at: iso(p.created_at),
    updated_at: iso(p.updated_at),
  };
}

export function allocationView(p: PoolRow) {
  return {
    id: p.id,
    pool_id: p.parent_id,
    cidr: formatCidr(parseCidr(p.cidr)),
    name: p.name,
    account_id: p.account_id,
    scope_id: p.scope_id,
    created_at: iso(p.created_at),
  };
}

/** A CIDR from user input, strictly canonical; errors carry the canonical form (422). */
function userCidr(text: string, field = 'cidr'): Cidr {
  try {
    return parseCidr(text);
  } catch (err) {
    if (err instanceof HangarError) throw new HangarError('invalid_cidr', err.message, { [field]: err.message });
    throw err;
  }
}

async function checkAccount(em: EntityManager, accountId: string | null | undefined) {
  if (accountId && !(await em.count(Account, { id: accountId }))) {
    throw new HangarError('unprocessable', `account ${accountId} does not exist`, { account_id: 'not found' });
  }
}

const poolAndAllocation = z.object({ id: idParam('pool'), allocationId: idParam('allocation') });

export function poolsRouter(deps: ApiDeps): ContractRouter {
  const r = contractRouter({ tags: ['pools'] });
  const em = () => deps.orm.em.fork();
  const load = async (id: string, kind: 'pool' | 'allocation' = 'pool') => {
    const notFound = new HangarError('not_found', `${kind} ${id} not found`);
    if (!z.uuid().safeParse(id).success) throw notFound;
    const row = await findPool(em(), id, kind);
    if (!row) throw notFound;
    return row;
  };

  r.route({
    method: 'post',
    path: '/',
    summary: 'Create an address pool (top-level, or inside a parent pool)',
    body: createPoolSchema,
    responses: { 201: json(pool, 'the pool') },
    errors: [409, 422],
    handler: async ({ body }, _req, res) => {
      const cidr = userCidr(body.cidr);
      const manager = em();
      await checkAccount(manager, body.account_id);
      const parent = body.parent_id ? await findPool(manager, body.parent_id) : null;
      // A child lives in its parent's scope: naming another one is refused, naming none inherits.
      const scope = await scopeForInput(manager, body.scope ?? parent?.scope_id);
      if (body.parent_id) {
        if (!parent) throw new HangarError('unprocessable', `parent pool ${body.parent_id} does not exist`, { parent_id: 'not found' });
        if (parent.scope_id !== scope.id) {
          throw new HangarError('scope_mismatch', `a child pool must be in its parent's address scope (${parent.scope_name}), not ${scope.name}`, {
            scope: `not the parent's scope (${parent.scope_name})`,
          });
        }
        const parentCidr = parseCidr(parent.cidr);
        if (!containsCidr(parentCidr, cidr) || formatCidr(parentCidr) === formatCidr(cidr)) {
          throw new HangarError('outside_parent', `${formatCidr(cidr)} does not lie inside its parent ${formatCidr(parentCidr)}`, {
            cidr: 'outside the parent pool',
          });
        }
      }
      const created = await insertPool(manager, {
        kind: 'pool',
        name: body.name,
        cidr,
        parentId: body.parent_id ?? null,
        accountId: body.account_id ?? null,
        scopeId: scope.id,
        description: body.description ?? null,
        tags: body.tags ?? {},
      });
      res.locals.audit = {
        action: 'pools.create',
        resourceType: 'pool',
        resourceId: created.id,
        detail: { name: created.name, cidr: created.cidr, scope: created.scope_name },
      };
      res.status(201).location(`/api/v1/pools/${created.id}`).json(poolView(created));
    },
  });

  r.route({
    method: 'get',
    path: '/',
    summary: 'List pools (by name)',
    query: z.object({
      parent_id: z.uuid().optional(),
      root: z.enum(['true', 'false']).optional().meta({ description: 'true: top-level pools only' }),
      account_id: z.uuid().optional(),
      scope: safeFilter(255).optional().meta({ description: 'address scope id or name' }),
      ...paging,
    }),
    responses: { 200: json(page(pool), 'a page of pools') },
    handler: async ({ query: q }, req, res) => {
      const pg = parsePage(req.query, deps.config.api.maxPageSize);
      const params: unknown[] = [];
      let where = `kind = 'pool'`;
      if (q.parent_id) {
        where += ' and parent_id = ?';
        params.push(q.parent_id);
      }
      if (q.root === 'true') where += ' and parent_id is null';
      if (q.account_id) {
        where += ' and account_id = ?';
        params.push(q.account_id);
      }
      if (q.scope) {
        where += ' and scope_id in (select s.id from address_scope s where s.id::text = ? or s.name = ?)';
        params.push(q.scope, q.scope);
      }
      if (pg.after !== null) {
        where += ' and name > ?';
        params.push(pg.after);
      }
      params.push(pg.pageSize + 1);
      const rows = await sqlFor(em())<PoolRow[]>(`select ${POOL_COLUMNS} from pool where ${where} order by name limit ?`, params);
      const { items, next_cursor } = pageOf(rows, pg.pageSize, (p) => p.name!);
      res.json({ items: items.map(poolView), next_cursor });
    },
  });

  r.route({
    method: 'get',
    path: '/:id',
    summary: 'Get a pool',
    params: byId('pool'),
    responses: { 200: json(pool, 'the pool') },
    errors: [404],
    handler: async ({ params }, _req, res) => {
      res.json(poolView(await load(params.id)));
    },
  });

  r.route({
    method: 'patch',
    path: '/:id',
    summary: 'Change a pool (not its CIDR)',
    params: byId('pool'),
    body: updatePoolSchema,
    responses: { 200: json(pool, 'the pool') },
    errors: [404, 409, 422],
    handler: async ({ params, body }, _req, res) => {
      const found = await load(params.id);
      const manager = em();
      await checkAccount(manager, body.account_id);
      const rows = await sqlFor(manager)<PoolRow[]>(
        `update pool set name = coalesce(?, name), account_id = case when ? then ? else account_id end,
           description = case when ? then ? else description end, tags = coalesce(?::jsonb, tags), updated_at = now()
         where id = ? returning ${POOL_COLUMNS}`,
        [
          body.name ?? null,
          body.account_id !== undefined,
          body.account_id ?? null,
          body.description !== undefined,
          body.description ?? null,
          body.tags ? JSON.stringify(body.tags) : null,
          found.id,
        ],
      ).catch((err: Error) => {
        if (String(err.message).includes('pool_name_unique'))
          throw new HangarError('already_exists', `a pool named "${body.name}" already exists`, { name: 'already exists' });
        throw err;
      });
      res.locals.audit = { action: 'pools.update', resourceType: 'pool', resourceId: found.id };
      res.json(poolView(rows[0]!));
    },
  });

  r.route({
    method: 'delete',
    path: '/:id',
    summary: 'Delete a pool (409 while it has children, unless cascade=true)',
    params: byId('pool'),
    query: z.object({ cascade: z.enum(['true', 'false']).optional().meta({ description: 'true: delete child pools and allocations too' }) }),
    responses: { 204: noContent('deleted') },
    errors: [404, 409],
    handler: async ({ params, query }, _req, res) => {
      const found = await load(params.id);
      const cascade = query.cascade === 'true';
      const deleted = await deletePool(em(), found, cascade);
      res.locals.audit = { action: 'pools.delete', resourceType: 'pool', resourceId: found.id, detail: { name: found.name, cascade, deleted } };
      res.status(204).end();
    },
  });

  r.route({
    method: 'post',
    path: '/:id/allocations',
    summary: 'Allocate a block from the pool',
    params: byId('pool'),
    body: allocationSchema,
    responses: { 201: json(z.union([allocation, allocationBatch]), 'the allocation; with count, every allocation') },
    errors: [404, 409, 422],
    handler: async ({ params, body }, _req, res) => {
      const found = await load(params.id);
      const range = parseCidr(found.cidr);
      const manager = em();
      await checkAccount(manager, body.account_id);
      let created: PoolRow;
      if (body.cidr !== undefined) {
        const cidr = userCidr(body.cidr);
        if (!containsCidr(range, cidr))
          throw new HangarError('outside_parent', `${formatCidr(cidr)} does not lie inside pool ${found.name} (${formatCidr(range)})`, {
            cidr: 'outside the pool',
          });
        created = await insertPool(manager, {
          kind: 'allocation',
          name: body.name ?? null,
          cidr,
          parentId: found.id,
          accountId: body.account_id ?? null,
          scopeId: found.scope_id,
        });
      } else {
        const n = body.prefix_length!;
        if (n < range.prefix || n > maxPrefix(range.version)) {
          throw new HangarError(
            'validation_failed',
            `prefix_length must be between ${range.prefix} and ${maxPrefix(range.version)} for pool ${formatCidr(range)}`,
            { prefix_length: `${range.prefix}..${maxPrefix(range.version)}` },
          );
        }
        if (body.count !== undefined) {
          const blocks = await allocateBlocks(manager, found, n, body.count, body.name ?? null, body.account_id ?? null);
          res.locals.audit = {
            action: 'allocations.create',
            resourceType: 'pool',
            resourceId: found.id,
            detail: { pool: found.name, count: blocks.length, prefix_length: n },
          };
          res.status(201).json({ items: blocks.map(allocationView) });
          return;
        }
        created = await allocateBlock(manager, found, n, body.name ?? null, body.account_id ?? null);
      }
      res.locals.audit = { action: 'allocations.create', resourceType: 'allocation', resourceId: created.id, detail: { pool: found.name, cidr: created.cidr } };
      res.status(201).json(allocationView(created));
    },
  });

  r.route({
    method: 'get',
    path: '/:id/allocations',
    summary: "The pool's block allocations (one page)",
    params: byId('pool'),
    responses: { 200: json(page(allocation), 'every allocation of the pool') },
    errors: [404],
    handler: async ({ params }, _req, res) => {
      const found = await load(params.id);
      const rows = (await children(em(), found.id)).filter((row) => row.kind === 'allocation');
      res.json({ items: rows.map(allocationView), next_cursor: null });
    },
  });

  r.route({
    method: 'delete',
    path: '/:id/allocations/:allocationId',
    summary: 'Release a block',
    params: poolAndAllocation,
    responses: { 204: noContent('released') },
    errors: [404],
    handler: async ({ params }, _req, res) => {
      const found = await load(params.id);
      const block = await load(params.allocationId, 'allocation');
      if (block.parent_id !== found.id) throw new HangarError('not_found', `allocation ${block.id} is not in pool ${found.id}`);
      await sqlFor(em())(`delete from pool where id = ? and kind = 'allocation'`, [block.id]);
      res.locals.audit = { action: 'allocations.delete', resourceType: 'allocation', resourceId: block.id, detail: { pool: found.name, cidr: block.cidr } };
      res.status(204).end();
    },
  });

  // Cost is O(page size + log(children)): used space is skipped arithmetically, never generated.
  r.route({
    method: 'get',
    path: '/:id/blocks',
    summary: 'Blocks of one prefix length in the pool, free or used, paged',
    params: byId('pool'),
    query: z.object({
      prefix_length: z.coerce.number().int().min(0).max(128),
      status: z.enum(['free', 'used', 'all']).default('all'),
      ...paging,
    }),
    responses: { 200: json(blockPage, 'a page of blocks with the counts') },
    errors: [404],
    handler: async ({ params, query: q }, req, res) => {
      const found = await load(params.id);
      const pg = parsePage(req.query, deps.config.api.maxPageSize);
      let after: bigint | null = null;
      if (pg.after !== null) {
        if (!/^\d{1,40}$/.test(pg.after)) throw new HangarError('validation_failed', 'cursor is not one this server issued', { cursor: 'invalid' });
        after = BigInt(pg.after);
      }
      const range = parseCidr(found.cidr);
      const used = usedRanges(await children(em(), found.id));
      const result = enumerateBlocks({ pool: range, prefixLength: q.prefix_length, used, status: q.status, after, limit: pg.pageSize });
      const counts = countBlocks(range, q.prefix_length, used);
      res.json({
        items: result.items.map((b) => ({
          cidr: formatCidr(b.cidr),
          status: b.status,
          owners: b.owners.map((o) => ({ kind: o.kind, id: o.id, name: o.name ?? null, account_id: o.accountId ?? null })),
        })),
        next_cursor: result.nextAfter === null ? null : encodeCursor(result.nextAfter.toString()),
        counts: { total: counts.total.toString(), used: counts.used.toString(), free: counts.free.toString() },
      });
    },
  });

  r.route({
    method: 'get',
    path: '/:id/utilization',
    summary: 'Used and free addresses of a pool, by account',
    params: byId('pool'),
    responses: { 200: json(utilization, 'the utilization') },
    errors: [404],
    handler: async ({ params }, _req, res) => {
      const found = await load(params.id);
      const range = parseCidr(found.cidr);
      const rows = await children(em(), found.id);
      const summary = usageSummary(
        range,
        rows.map((row) => parseCidr(row.cidr)),
      );
      const byAccount = new Map<string | null, { addresses: bigint; allocations: number }>();
      for (const row of rows) {
        const entry = byAccount.get(row.account_id) ?? { addresses: 0n, allocations: 0 };
        entry.addresses += usageSummary(parseCidr(row.cidr), []).total;
        if (row.kind === 'allocation') entry.allocations += 1;
        byAccount.set(row.account_id, entry);
      }
      const ids = [...byAccount.keys()].filter((k): k is string => !!k);
      const keys = new Map((ids.length ? await em().find(Account, { id: { $in: ids } }) : []).map((a) => [a.id, a.key]));
      // Percent rounded to two decimals, computed in BigInt so an IPv6 /32 does not lose precision.
      const percent = percentOf(summary.used, summary.total);
      res.json({
        cidr: formatCidr(range),
        total: summary.total.toString(),
        used: summary.used.toString(),
        free: summary.free.toString(),
        percent_used: percent,
        by_account: [...byAccount.entries()].map(([accountId, v]) => ({
          account_id: accountId,
          account_key: accountId ? (keys.get(accountId) ?? null) : null,
          addresses: v.addresses.toString(),
          allocations: v.allocations,
        })),
      });
    },
  });

  return r;
}
