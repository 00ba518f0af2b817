import { z } from 'zod';
import { HangarError } from '../../domain/errors.ts';
import { ApiToken, ROLES } from '../../db/entities/index.ts';
import { issueToken, tokenView } from '../../db/repositories/tokens.ts';
import type { ApiDeps } from '../context.ts';
import { contractRouter, json, type ContractRouter } from '../contract/route.ts';
import { byId, page } from '../contract/schemas.ts';
import { issuedToken, token } from '../contract/views.ts';

export const createTokenSchema = z
  .strictObject({
    name: z
      .string()
      .min(1)
      .max(100)
      .regex(/^[A-Za-z0-9._@-]+$/, 'letters, digits, ".", "_", "@" and "-" only'),
    role: z.enum(ROLES),
  })
  .meta({ id: 'CreateToken' });

/** Admin only (api/app.ts authorizes the whole prefix). */
export function tokensRouter(deps: ApiDeps): ContractRouter {
  const r = contractRouter({ tags: ['tokens'] });

  r.route({
    method: 'post',
    path: '/',
    summary: 'Issue a token (admin); the secret is shown once',
    body: createTokenSchema,
    responses: { 201: json(issuedToken, 'the token with its secret') },
    errors: [409],
    handler: async ({ body }, _req, res) => {
      const { token: secret, record } = await issueToken(deps.orm.em.fork(), body.name, body.role);
      res.locals.audit = { action: 'tokens.create', resourceType: 'token', resourceId: record.id, detail: { name: body.name, role: body.role } };
      res.status(201).json({ ...tokenView(record), token: secret });
    },
  });

  r.route({
    method: 'get',
    path: '/',
    summary: 'List tokens (admin), without their secrets',
    responses: { 200: json(page(token), 'every token (one page)') },
    handler: async (_input, _req, res) => {
      const tokens = await deps.orm.em.fork().find(ApiToken, {}, { orderBy: { name: 'asc' } });
      res.json({ items: tokens.map(tokenView), next_cursor: null });
    },
  });

  r.route({
    method: 'delete',
    path: '/:id',
    summary: 'Revoke a token (admin); answers with the revoked token',
    params: byId('token'),
    responses: { 200: json(token, 'the revoked token') },
    errors: [404],
    handler: async ({ params }, _req, res) => {
      const notFound = new HangarError('not_found', `token ${params.id} not found`);
      if (!z.uuid().safeParse(params.id).success) throw notFound;
      const em = deps.orm.em.fork();
      const found = await em.findOne(ApiToken, { id: params.id });
      if (!found) throw notFound;
      found.revokedAt ??= new Date();
      await em.flush();
      res.locals.audit = { action: 'tokens.revoke', resourceType: 'token', resourceId: params.id, detail: { name: found.name } };
      res.json(tokenView(found));
    },
  });

  return r;
}
