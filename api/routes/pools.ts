import { Router } from 'express';
import { z } from 'zod';
import type { EntityManager } from '@mikro-orm/postgresql';
import { HangarError } from '../../domain/errors.ts';
import { safeDescription, safeTags, safeText } from '../../domain/text.ts';
import { containsCidr, formatCidr, maxPrefix, parseCidr, usageSummary, type Cidr } from '../../domain/cidr.ts';
import { countBlocks, enumerateBlocks } from '../../domain/blocks.ts';
import { Account } from '../../db/entities/index.ts';
import { allocateBlock, children, deletePool, findPool, insertPool, usedRanges, type PoolRow } from '../../db/repositories/pools.ts';
import { sqlFor } from '../../db/sql.ts';
import type { ApiDeps } from '../context.ts';
import { encodeCursor, pageOf, parsePage } from '../pagination.ts';
import { parseOrThrow, validateBody } from '../middleware/validate.ts';
import { iso, resourceName } from './common.ts';

const tags = safeTags;

export const createPoolSchema = z.strictObject({
  name: resourceName,
  cidr: safeText(64, 1),
  parent_id: z.uuid().nullable().optional(),
  account_id: z.uuid().nullable().optional(),
  description: safeDescription(1000).nullable().optional(),
  tags: tags.optional(),
});
export const updatePoolSchema = z.strictObject({
  name: resourceName.optional(),
  account_id: z.uuid().nullable().optional(),
  description: safeDescription(1000).nullable().optional(),
  tags: tags.optional(),
});
export const allocationSchema = z.strictObject({
  prefix_length: z.number().int().min(0).max(128).optional(),
  cidr: safeText(64, 1).optional(),
  account_id: z.uuid().nullable().optional(),
  name: safeText(255, 1).nullable().optional(),
}).refine((v) => (v.prefix_length === undefined) !== (v.cidr === undefined), { message: 'give exactly one of prefix_length or cidr', path: ['prefix_length'] });

export function poolView(p: PoolRow) {
  const cidr = parseCidr(p.cidr);
  return {
    id: p.id, name: p.name, cidr: formatCidr(cidr), version: cidr.version, parent_id: p.parent_id, account_id: p.account_id,
    description: p.description, tags: p.tags, created_at: iso(p.created_at), updated_at: iso(p.updated_at),
  };
}

export function allocationView(p: PoolRow) {
  return { id: p.id, pool_id: p.parent_id, cidr: formatCidr(parseCidr(p.cidr)), name: p.name, account_id: p.account_id, created_at: iso(p.created_at) };
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

export function poolsRouter(deps: ApiDeps): Router {
  const router = Router();
  const em = () => deps.orm.em.fork();
  const load = async (id: unknown, kind: 'pool' | 'allocation' = 'pool') => {
    const text = String(id);
    const notFound = new HangarError('not_found', `${kind} ${text} not found`);
    if (!z.uuid().safeParse(text).success) throw notFound;
    const row = await findPool(em(), text, kind);
    if (!row) throw notFound;
    return row;
  };

  router.post('/', validateBody(createPoolSchema), async (req, res) => {
    const body = res.locals.body as z.infer<typeof createPoolSchema>;
    const cidr = userCidr(body.cidr);
    const manager = em();
    await checkAccount(manager, body.account_id);
    if (body.parent_id) {
      const parent = await findPool(manager, body.parent_id);
      if (!parent) throw new HangarError('unprocessable', `parent pool ${body.parent_id} does not exist`, { parent_id: 'not found' });
      const parentCidr = parseCidr(parent.cidr);
      if (!containsCidr(parentCidr, cidr) || formatCidr(parentCidr) === formatCidr(cidr)) {
        throw new HangarError('outside_parent', `${formatCidr(cidr)} does not lie inside its parent ${formatCidr(parentCidr)}`, { cidr: 'outside the parent pool' });
      }
    }
    const pool = await insertPool(manager, {
      kind: 'pool', name: body.name, cidr, parentId: body.parent_id ?? null, accountId: body.account_id ?? null,
      description: body.description ?? null, tags: body.tags ?? {},
    });
    res.locals.audit = { action: 'pools.create', resourceType: 'pool', resourceId: pool.id, detail: { name: pool.name, cidr: pool.cidr } };
    res.status(201).location(`/api/v1/pools/${pool.id}`).json(poolView(pool));
  });

  router.get('/', async (req, res) => {
    const q = parseOrThrow(z.object({ parent_id: z.uuid().optional(), root: z.enum(['true', 'false']).optional(), account_id: z.uuid().optional() }).loose(), req.query, 'query');
    const page = parsePage(req.query, deps.config.api.maxPageSize);
    const params: unknown[] = [];
    let where = `kind = 'pool'`;
    if (q.parent_id) { where += ' and parent_id = ?'; params.push(q.parent_id); }
    if (q.root === 'true') where += ' and parent_id is null';
    if (q.account_id) { where += ' and account_id = ?'; params.push(q.account_id); }
    if (page.after !== null) { where += ' and name > ?'; params.push(page.after); }
    params.push(page.pageSize + 1);
    const rows = await sqlFor(em())<PoolRow[]>(
      `select id, kind, name, cidr::text as cidr, parent_id, account_id, description, tags, created_at, updated_at
       from pool where ${where} order by name limit ?`, params);
    const { items, next_cursor } = pageOf(rows, page.pageSize, (p) => p.name!);
    res.json({ items: items.map(poolView), next_cursor });
  });

  router.get('/:id', async (req, res) => {
    res.json(poolView(await load(req.params.id)));
  });

  router.patch('/:id', validateBody(updatePoolSchema), async (req, res) => {
    const body = res.locals.body as z.infer<typeof updatePoolSchema>;
    const pool = await load(req.params.id);
    const manager = em();
    await checkAccount(manager, body.account_id);
    const rows = await sqlFor(manager)<PoolRow[]>(
      `update pool set name = coalesce(?, name), account_id = case when ? then ? else account_id end,
         description = case when ? then ? else description end, tags = coalesce(?::jsonb, tags), updated_at = now()
       where id = ? returning id, kind, name, cidr::text as cidr, parent_id, account_id, description, tags, created_at, updated_at`,
      [body.name ?? null, body.account_id !== undefined, body.account_id ?? null, body.description !== undefined, body.description ?? null,
        body.tags ? JSON.stringify(body.tags) : null, pool.id],
    ).catch((err: Error) => {
      if (String(err.message).includes('pool_name_unique')) throw new HangarError('already_exists', `a pool named "${body.name}" already exists`, { name: 'already exists' });
      throw err;
    });
    res.locals.audit = { action: 'pools.update', resourceType: 'pool', resourceId: pool.id };
    res.json(poolView(rows[0]!));
  });

  router.delete('/:id', async (req, res) => {
    const pool = await load(req.params.id);
    const cascade = req.query.cascade === 'true';
    const deleted = await deletePool(em(), pool, cascade);
    res.locals.audit = { action: 'pools.delete', resourceType: 'pool', resourceId: pool.id, detail: { name: pool.name, cascade, deleted } };
    res.status(204).end();
  });

  router.post('/:id/allocations', validateBody(allocationSchema), async (req, res) => {
    const body = res.locals.body as z.infer<typeof allocationSchema>;
    const pool = await load(req.params.id);
    const range = parseCidr(pool.cidr);
    const manager = em();
    await checkAccount(manager, body.account_id);
    let allocation: PoolRow;
    if (body.cidr !== undefined) {
      const cidr = userCidr(body.cidr);
      if (!containsCidr(range, cidr)) throw new HangarError('outside_parent', `${formatCidr(cidr)} does not lie inside pool ${pool.name} (${formatCidr(range)})`, { cidr: 'outside the pool' });
      allocation = await insertPool(manager, { kind: 'allocation', name: body.name ?? null, cidr, parentId: pool.id, accountId: body.account_id ?? null });
    } else {
      const n = body.prefix_length!;
      if (n < range.prefix || n > maxPrefix(range.version)) {
        throw new HangarError('validation_failed', `prefix_length must be between ${range.prefix} and ${maxPrefix(range.version)} for pool ${formatCidr(range)}`, { prefix_length: `${range.prefix}..${maxPrefix(range.version)}` });
      }
      allocation = await allocateBlock(manager, pool, n, body.name ?? null, body.account_id ?? null);
    }
    res.locals.audit = { action: 'allocations.create', resourceType: 'allocation', resourceId: allocation.id, detail: { pool: pool.name, cidr: allocation.cidr } };
    res.status(201).json(allocationView(allocation));
  });

  router.get('/:id/allocations', async (req, res) => {
    const pool = await load(req.params.id);
    const rows = (await children(em(), pool.id)).filter((r) => r.kind === 'allocation');
    res.json({ items: rows.map(allocationView), next_cursor: null });
  });

  router.delete('/:id/allocations/:allocationId', async (req, res) => {
    const pool = await load(req.params.id);
    const allocation = await load(req.params.allocationId, 'allocation');
    if (allocation.parent_id !== pool.id) throw new HangarError('not_found', `allocation ${allocation.id} is not in pool ${pool.id}`);
    await sqlFor(em())(`delete from pool where id = ? and kind = 'allocation'`, [allocation.id]);
    res.locals.audit = { action: 'allocations.delete', resourceType: 'allocation', resourceId: allocation.id, detail: { pool: pool.name, cidr: allocation.cidr } };
    res.status(204).end();
  });

  // Cost is O(page size + log(children)): used space is skipped arithmetically, never generated.
  router.get('/:id/blocks', async (req, res) => {
    const q = parseOrThrow(z.object({
      prefix_length: z.coerce.number().int().min(0).max(128),
      status: z.enum(['free', 'used', 'all']).default('all'),
    }).loose(), req.query, 'query');
    const pool = await load(req.params.id);
    const page = parsePage(req.query, deps.config.api.maxPageSize);
    let after: bigint | null = null;
    if (page.after !== null) {
      if (!/^\d{1,40}$/.test(page.after)) throw new HangarError('validation_failed', 'cursor is not one this server issued', { cursor: 'invalid' });
      after = BigInt(page.after);
    }
    const range = parseCidr(pool.cidr);
    const used = usedRanges(await children(em(), pool.id));
    const result = enumerateBlocks({ pool: range, prefixLength: q.prefix_length, used, status: q.status, after, limit: page.pageSize });
    const counts = countBlocks(range, q.prefix_length, used);
    res.json({
      items: result.items.map((b) => ({
        cidr: formatCidr(b.cidr), status: b.status,
        owners: b.owners.map((o) => ({ kind: o.kind, id: o.id, name: o.name ?? null, account_id: o.accountId ?? null })),
      })),
      next_cursor: result.nextAfter === null ? null : encodeCursor(result.nextAfter.toString()),
      counts: { total: counts.total.toString(), used: counts.used.toString(), free: counts.free.toString() },
    });
  });

  router.get('/:id/utilization', async (req, res) => {
    const pool = await load(req.params.id);
    const range = parseCidr(pool.cidr);
    const rows = await children(em(), pool.id);
    const summary = usageSummary(range, rows.map((r) => parseCidr(r.cidr)));
    const byAccount = new Map<string | null, { addresses: bigint; allocations: number }>();
    for (const r of rows) {
      const entry = byAccount.get(r.account_id) ?? { addresses: 0n, allocations: 0 };
      entry.addresses += usageSummary(parseCidr(r.cidr), []).total;
      if (r.kind === 'allocation') entry.allocations += 1;
      byAccount.set(r.account_id, entry);
    }
    const ids = [...byAccount.keys()].filter((k): k is string => !!k);
    const keys = new Map((ids.length ? await em().find(Account, { id: { $in: ids } }) : []).map((a) => [a.id, a.key]));
    // Percent with two decimals, computed in BigInt so an IPv6 /32 does not lose precision.
    const percent = summary.total === 0n ? 0 : Number((summary.used * 10000n) / summary.total) / 100;
    res.json({
      cidr: formatCidr(range), total: summary.total.toString(), used: summary.used.toString(), free: summary.free.toString(),
      percent_used: percent,
      by_account: [...byAccount.entries()].map(([accountId, v]) => ({
        account_id: accountId, account_key: accountId ? keys.get(accountId) ?? null : null, addresses: v.addresses.toString(), allocations: v.allocations,
      })),
    });
  });

  return router;
}

