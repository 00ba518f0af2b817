import { z } from 'zod';
import { ForeignKeyConstraintViolationException, UniqueConstraintViolationException } from '@mikro-orm/core';
import { HangarError } from '../../domain/errors.ts';
import { safeFilter } from '../../domain/text.ts';
import { checkRegions, createAccountSchema, parseAccountKey, updateAccountSchema } from '../../domain/accounts.ts';
import { Account, type IAccount } from '../../db/entities/index.ts';
import type { ApiDeps } from '../context.ts';
import { pageOf, parsePage } from '../pagination.ts';
import { parseOrThrow } from '../middleware/validate.ts';
import { contractRouter, json, noContent, type ContractRouter } from '../contract/route.ts';
import { byId, page, paging } from '../contract/schemas.ts';
import { account } from '../contract/ipam-views.ts';
import { loadById } from './common.ts';

export function accountView(a: IAccount) {
  return {
    id: a.id,
    key: a.key,
    provider: a.provider,
    name: a.name,
    platform: a.platform ?? null,
    tier: a.tier ?? null,
    environment: a.environment ?? null,
    regions: a.regions,
    credentials_ref: a.credentialsRef ?? null,
    conditions: a.conditions,
    created_at: a.createdAt,
    updated_at: a.updatedAt,
  };
}

const listQuery = z.object({
  provider: z.enum(['aws', 'gcp']).optional(),
  q: safeFilter(100).optional().meta({ description: 'substring of the key or name' }),
  ...paging,
});
const createAccountBody = createAccountSchema.meta({ id: 'CreateAccount' });
const updateAccountBody = updateAccountSchema.meta({ id: 'UpdateAccount' });

export function accountsRouter(deps: ApiDeps): ContractRouter {
  const r = contractRouter({ tags: ['accounts'] });

  r.route({
    method: 'post',
    path: '/',
    summary: 'Register a cloud account (aws:<12 digits> or gcp:<project>)',
    body: createAccountBody,
    responses: { 201: json(account, 'the account') },
    errors: [409],
    handler: async ({ body }, _req, res) => {
      const parsed = parseAccountKey(body.key);
      if ('error' in parsed) throw new HangarError('validation_failed', parsed.error, { key: parsed.error });
      const em = deps.orm.em.fork();
      const created = em.create(Account, {
        id: crypto.randomUUID(),
        key: body.key,
        provider: parsed.provider,
        name: body.name,
        platform: body.platform ?? null,
        tier: body.tier ?? null,
        environment: body.environment ?? null,
        regions: [...new Set(body.regions ?? [])],
        credentialsRef: body.credentials_ref ?? null,
      });
      try {
        await em.flush();
      } catch (err) {
        if (err instanceof UniqueConstraintViolationException)
          throw new HangarError('already_exists', `account ${body.key} already exists`, { key: 'already exists' });
        throw err;
      }
      res.locals.audit = { action: 'accounts.create', resourceType: 'account', resourceId: created.id, detail: { key: created.key } };
      res.status(201).location(`/api/v1/accounts/${created.id}`).json(accountView(created));
    },
  });

  r.route({
    method: 'get',
    path: '/',
    summary: 'List accounts (by key)',
    query: listQuery,
    responses: { 200: json(page(account), 'a page of accounts') },
    handler: async ({ query }, req, res) => {
      const pg = parsePage(req.query, deps.config.api.maxPageSize);
      const where: Record<string, unknown> = {};
      if (query.provider) where.provider = query.provider;
      if (query.q) {
        const like = `%${query.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        where.$or = [{ key: { $ilike: like } }, { name: { $ilike: like } }];
      }
      if (pg.after !== null) where.key = { $gt: pg.after };
      const rows = await deps.orm.em.fork().find(Account, where, { orderBy: { key: 'asc' }, limit: pg.pageSize + 1 });
      const { items, next_cursor } = pageOf(rows, pg.pageSize, (a) => a.key);
      res.json({ items: items.map(accountView), next_cursor });
    },
  });

  r.route({
    method: 'get',
    path: '/:id',
    summary: 'Get an account',
    params: byId('account'),
    responses: { 200: json(account, 'the account') },
    errors: [404],
    handler: async ({ params }, _req, res) => {
      res.json(accountView(await loadById(deps.orm.em.fork(), Account, params.id, 'account')));
    },
  });

  r.route({
    method: 'patch',
    path: '/:id',
    summary: 'Change an account (not its key)',
    params: byId('account'),
    body: updateAccountBody,
    responses: { 200: json(account, 'the account') },
    errors: [404],
    handler: async ({ params, body }, _req, res) => {
      const em = deps.orm.em.fork();
      const found = await loadById(em, Account, params.id, 'account');
      parseOrThrow(
        z.object({ regions: z.array(z.string()).optional() }).superRefine((v, ctx) => checkRegions(found.provider, v.regions, ctx)),
        { regions: body.regions },
        'request body',
      );
      em.assign(found, {
        ...(body.name !== undefined ? { name: body.name } : {}),
        ...(body.platform !== undefined ? { platform: body.platform } : {}),
        ...(body.tier !== undefined ? { tier: body.tier } : {}),
        ...(body.environment !== undefined ? { environment: body.environment } : {}),
        ...(body.regions !== undefined ? { regions: [...new Set(body.regions)] } : {}),
        ...(body.credentials_ref !== undefined ? { credentialsRef: body.credentials_ref } : {}),
      });
      await em.flush();
      res.locals.audit = { action: 'accounts.update', resourceType: 'account', resourceId: found.id };
      res.json(accountView(found));
    },
  });

  // Pools and allocations keep their history: their account link is cleared (on delete set null).
  r.route({
    method: 'delete',
    path: '/:id',
    summary: 'Delete an account (its pools and allocations stay, unlinked; 409 while an address scope is bound to it)',
    params: byId('account'),
    responses: { 204: noContent('deleted') },
    errors: [404, 409],
    handler: async ({ params }, _req, res) => {
      const em = deps.orm.em.fork();
      const found = await loadById(em, Account, params.id, 'account');
      // An address scope bound to the account keeps it (the scope's network belongs to it).
      await em.nativeDelete(Account, { id: found.id }).catch((err) => {
        if (err instanceof ForeignKeyConstraintViolationException)
          throw new HangarError('has_dependents', `account ${found.key} is bound to an address scope; delete or unbind the scope first`);
        throw err;
      });
      res.locals.audit = { action: 'accounts.delete', resourceType: 'account', resourceId: found.id, detail: { key: found.key } };
      res.status(204).end();
    },
  });

  return r;
}
