import { Router } from 'express';
import { z } from 'zod';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { HangarError } from '../../domain/errors.ts';
import { safeFilter } from '../../domain/text.ts';
import { checkRegions, createAccountSchema, parseAccountKey, updateAccountSchema } from '../../domain/accounts.ts';
import { Account, type IAccount } from '../../db/entities/index.ts';
import type { ApiDeps } from '../context.ts';
import { pageOf, parsePage } from '../pagination.ts';
import { parseOrThrow, validateBody } from '../middleware/validate.ts';
import { loadById } from './common.ts';

export function accountView(a: IAccount) {
  return {
    id: a.id, key: a.key, provider: a.provider, name: a.name, platform: a.platform ?? null, tier: a.tier ?? null,
    environment: a.environment ?? null, regions: a.regions, created_at: a.createdAt, updated_at: a.updatedAt,
  };
}

const listQuery = z.object({ provider: z.enum(['aws', 'gcp']).optional(), q: safeFilter(100).optional() }).loose();

export function accountsRouter(deps: ApiDeps): Router {
  const router = Router();

  router.post('/', validateBody(createAccountSchema), async (req, res) => {
    const body = res.locals.body as z.infer<typeof createAccountSchema>;
    const parsed = parseAccountKey(body.key) as { provider: 'aws' | 'gcp' };
    const em = deps.orm.em.fork();
    const account = em.create(Account, {
      id: crypto.randomUUID(), key: body.key, provider: parsed.provider, name: body.name, platform: body.platform ?? null,
      tier: body.tier ?? null, environment: body.environment ?? null, regions: [...new Set(body.regions ?? [])],
    });
    try {
      await em.flush();
    } catch (err) {
      if (err instanceof UniqueConstraintViolationException) throw new HangarError('already_exists', `account ${body.key} already exists`, { key: 'already exists' });
      throw err;
    }
    res.locals.audit = { action: 'accounts.create', resourceType: 'account', resourceId: account.id, detail: { key: account.key } };
    res.status(201).location(`/api/v1/accounts/${account.id}`).json(accountView(account));
  });

  router.get('/', async (req, res) => {
    const q = parseOrThrow(listQuery, req.query, 'query');
    const page = parsePage(req.query, deps.config.api.maxPageSize);
    const where: Record<string, unknown> = {};
    if (q.provider) where.provider = q.provider;
    if (q.q) {
      const like = `%${q.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      where.$or = [{ key: { $ilike: like } }, { name: { $ilike: like } }];
    }
    if (page.after !== null) where.key = { $gt: page.after };
    const rows = await deps.orm.em.fork().find(Account, where, { orderBy: { key: 'asc' }, limit: page.pageSize + 1 });
    const { items, next_cursor } = pageOf(rows, page.pageSize, (a) => a.key);
    res.json({ items: items.map(accountView), next_cursor });
  });

  router.get('/:id', async (req, res) => {
    res.json(accountView(await loadById(deps.orm.em.fork(), Account, String(req.params.id), 'account')));
  });

  router.patch('/:id', validateBody(updateAccountSchema), async (req, res) => {
    const body = res.locals.body as z.infer<typeof updateAccountSchema>;
    const em = deps.orm.em.fork();
    const account = await loadById(em, Account, String(req.params.id), 'account');
    parseOrThrow(z.object({ regions: z.array(z.string()).optional() }).superRefine((v, ctx) => checkRegions(account.provider, v.regions, ctx)), { regions: body.regions }, 'request body');
    em.assign(account, {
      ...(body.name !== undefined ? { name: body.name } : {}),
      ...(body.platform !== undefined ? { platform: body.platform } : {}),
      ...(body.tier !== undefined ? { tier: body.tier } : {}),
      ...(body.environment !== undefined ? { environment: body.environment } : {}),
      ...(body.regions !== undefined ? { regions: [...new Set(body.regions)] } : {}),
    });
    await em.flush();
    res.locals.audit = { action: 'accounts.update', resourceType: 'account', resourceId: account.id };
    res.json(accountView(account));
  });

  // Pools and allocations keep their history: their account link is cleared (on delete set null).
  router.delete('/:id', async (req, res) => {
    const em = deps.orm.em.fork();
    const account = await loadById(em, Account, String(req.params.id), 'account');
    await em.nativeDelete(Account, { id: account.id });
    res.locals.audit = { action: 'accounts.delete', resourceType: 'account', resourceId: account.id, detail: { key: account.key } };
    res.status(204).end();
  });

  return router;
}
