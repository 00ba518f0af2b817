import { Router } from 'express';
import { z } from 'zod';
import { HangarError } from '../../domain/errors.ts';
import { ApiToken, ROLES } from '../../db/entities/index.ts';
import { issueToken, tokenView } from '../../db/repositories/tokens.ts';
import type { ApiDeps } from '../context.ts';
import { validateBody } from '../middleware/validate.ts';

export const createTokenSchema = z.strictObject({
  name: z.string().min(1).max(100).regex(/^[A-Za-z0-9._@-]+$/, 'letters, digits, ".", "_", "@" and "-" only'),
  role: z.enum(ROLES),
});

export function tokensRouter(deps: ApiDeps): Router {
  const router = Router();

  router.post('/', validateBody(createTokenSchema), async (req, res) => {
    const body = res.locals.body as z.infer<typeof createTokenSchema>;
    const { token, record } = await issueToken(deps.orm.em.fork(), body.name, body.role);
    res.locals.audit = { action: 'tokens.create', resourceType: 'token', resourceId: record.id, detail: { name: body.name, role: body.role } };
    res.status(201).json({ ...tokenView(record), token });
  });

  router.get('/', async (_req, res) => {
    const tokens = await deps.orm.em.fork().find(ApiToken, {}, { orderBy: { name: 'asc' } });
    res.json({ items: tokens.map(tokenView), next_cursor: null });
  });

  router.delete('/:id', async (req, res) => {
    const id = req.params.id;
    const notFound = new HangarError('not_found', `token ${id} not found`);
    if (!z.uuid().safeParse(id).success) throw notFound;
    const em = deps.orm.em.fork();
    const token = await em.findOne(ApiToken, { id });
    if (!token) throw notFound;
    token.revokedAt ??= new Date();
    await em.flush();
    res.locals.audit = { action: 'tokens.revoke', resourceType: 'token', resourceId: id, detail: { name: token.name } };
    res.json(tokenView(token));
  });

  return router;
}
