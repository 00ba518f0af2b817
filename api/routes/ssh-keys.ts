import { Router } from 'express';
import { z } from 'zod';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { HangarError } from '../../domain/errors.ts';
import { safeText } from '../../domain/text.ts';
import { parseSshPublicKey } from '../../domain/ssh-keys.ts';
import { SshKey, type ISshKey } from '../../db/entities/index.ts';
import type { ApiDeps } from '../context.ts';
import { pageOf, parsePage } from '../pagination.ts';
import { validateBody } from '../middleware/validate.ts';
import { loadById, resourceName } from './common.ts';

export const createSshKeySchema = z.strictObject({
  name: resourceName,
  public_key: safeText(16_384, 1),
});
const updateSshKeySchema = z.strictObject({ name: resourceName });

export function sshKeyView(k: ISshKey) {
  return {
    id: k.id, name: k.name, public_key: k.publicKey, type: k.keyType, bits: k.bits,
    fingerprint: k.fingerprint, comment: k.comment ?? null, created_at: k.createdAt,
  };
}

/** Maps the unique violations of ssh_key to the field that clashed. */
function duplicate(err: unknown): never {
  const text = String((err as Error).message);
  if (text.includes('ssh_key_fingerprint_unique')) throw new HangarError('already_exists', 'this public key is already registered', { public_key: 'already exists' });
  throw new HangarError('already_exists', 'an SSH key with this name already exists', { name: 'already exists' });
}

export function sshKeysRouter(deps: ApiDeps): Router {
  const router = Router();

  router.post('/', validateBody(createSshKeySchema), async (req, res) => {
    const body = res.locals.body as z.infer<typeof createSshKeySchema>;
    const parsed = parseSshPublicKey(body.public_key);
    const em = deps.orm.em.fork();
    const key = em.create(SshKey, {
      id: crypto.randomUUID(), name: body.name, publicKey: parsed.normalized, keyType: parsed.type,
      bits: parsed.bits, fingerprint: parsed.fingerprint, comment: parsed.comment,
    });
    try {
      await em.flush();
    } catch (err) {
      if (err instanceof UniqueConstraintViolationException) duplicate(err);
      throw err;
    }
    res.locals.audit = { action: 'ssh-keys.create', resourceType: 'ssh_key', resourceId: key.id, detail: { name: key.name, fingerprint: key.fingerprint } };
    res.status(201).location(`/api/v1/ssh-keys/${key.id}`).json(sshKeyView(key));
  });

  router.get('/', async (req, res) => {
    const page = parsePage(req.query, deps.config.api.maxPageSize);
    const where = page.after !== null ? { name: { $gt: page.after } } : {};
    const rows = await deps.orm.em.fork().find(SshKey, where, { orderBy: { name: 'asc' }, limit: page.pageSize + 1 });
    const { items, next_cursor } = pageOf(rows, page.pageSize, (k) => k.name);
    res.json({ items: items.map(sshKeyView), next_cursor });
  });

  router.get('/:id', async (req, res) => {
    res.json(sshKeyView(await loadById(deps.orm.em.fork(), SshKey, String(req.params.id), 'SSH key')));
  });

  router.patch('/:id', validateBody(updateSshKeySchema), async (req, res) => {
    const em = deps.orm.em.fork();
    const key = await loadById(em, SshKey, String(req.params.id), 'SSH key');
    key.name = (res.locals.body as z.infer<typeof updateSshKeySchema>).name;
    try {
      await em.flush();
    } catch (err) {
      if (err instanceof UniqueConstraintViolationException) duplicate(err);
      throw err;
    }
    res.locals.audit = { action: 'ssh-keys.update', resourceType: 'ssh_key', resourceId: key.id, detail: { name: key.name } };
    res.json(sshKeyView(key));
  });

  // Removes the key from every machine (cascade on the link table); never deletes machines.
  router.delete('/:id', async (req, res) => {
    const em = deps.orm.em.fork();
    const key = await loadById(em, SshKey, String(req.params.id), 'SSH key');
    await em.nativeDelete(SshKey, { id: key.id });
    res.locals.audit = { action: 'ssh-keys.delete', resourceType: 'ssh_key', resourceId: key.id, detail: { name: key.name } };
    res.status(204).end();
  });

  return router;
}
