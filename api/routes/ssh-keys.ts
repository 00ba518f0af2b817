import { z } from 'zod';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { HangarError } from '../../domain/errors.ts';
import { safeText } from '../../domain/text.ts';
import { parseSshPublicKey } from '../../domain/ssh-keys.ts';
import { SshKey, type ISshKey } from '../../db/entities/index.ts';
import type { ApiDeps } from '../context.ts';
import { pageOf, parsePage } from '../pagination.ts';
import { contractRouter, json, noContent, type ContractRouter } from '../contract/route.ts';
import { byId, paging, page } from '../contract/schemas.ts';
import { sshKey } from '../contract/views.ts';
import { loadById, resourceName } from './common.ts';

export const createSshKeySchema = z.strictObject({
  name: resourceName,
  public_key: safeText(16_384, 1),
});
const updateSshKeySchema = z
  .strictObject({ name: resourceName })
  .meta({ id: 'UpdateSshKey', description: 'Only the name changes; a key is replaced by deleting and adding it.' });
const createSshKeyBody = createSshKeySchema.meta({ id: 'CreateSshKey' });

export function sshKeyView(k: ISshKey) {
  return {
    id: k.id,
    name: k.name,
    public_key: k.publicKey,
    type: k.keyType,
    bits: k.bits,
    fingerprint: k.fingerprint,
    comment: k.comment ?? null,
    created_at: k.createdAt,
  };
}

/** Maps the unique violations of ssh_key to the field that clashed. */
function duplicate(err: unknown): never {
  const text = String((err as Error).message);
  if (text.includes('ssh_key_fingerprint_unique'))
    throw new HangarError('already_exists', 'this public key is already registered', { public_key: 'already exists' });
  throw new HangarError('already_exists', 'an SSH key with this name already exists', { name: 'already exists' });
}

export function sshKeysRouter(deps: ApiDeps): ContractRouter {
  const r = contractRouter({ tags: ['ssh-keys'] });

  r.route({
    method: 'post',
    path: '/',
    summary: 'Register an SSH public key',
    body: createSshKeyBody,
    responses: { 201: json(sshKey, 'the key') },
    errors: [409, 422],
    handler: async ({ body }, _req, res) => {
      const parsed = parseSshPublicKey(body.public_key);
      const em = deps.orm.em.fork();
      const key = em.create(SshKey, {
        id: crypto.randomUUID(),
        name: body.name,
        publicKey: parsed.normalized,
        keyType: parsed.type,
        bits: parsed.bits,
        fingerprint: parsed.fingerprint,
        comment: parsed.comment,
      });
      try {
        await em.flush();
      } catch (err) {
        if (err instanceof UniqueConstraintViolationException) duplicate(err);
        throw err;
      }
      res.locals.audit = { action: 'ssh-keys.create', resourceType: 'ssh_key', resourceId: key.id, detail: { name: key.name, fingerprint: key.fingerprint } };
      res.status(201).location(`/api/v1/ssh-keys/${key.id}`).json(sshKeyView(key));
    },
  });

  r.route({
    method: 'get',
    path: '/',
    summary: 'List SSH keys (by name)',
    query: z.object(paging),
    responses: { 200: json(page(sshKey), 'a page of keys') },
    handler: async (_input, req, res) => {
      const pg = parsePage(req.query, deps.config.api.maxPageSize);
      const where = pg.after !== null ? { name: { $gt: pg.after } } : {};
      const rows = await deps.orm.em.fork().find(SshKey, where, { orderBy: { name: 'asc' }, limit: pg.pageSize + 1 });
      const { items, next_cursor } = pageOf(rows, pg.pageSize, (k) => k.name);
      res.json({ items: items.map(sshKeyView), next_cursor });
    },
  });

  r.route({
    method: 'get',
    path: '/:id',
    summary: 'Get an SSH key',
    params: byId('SSH key'),
    responses: { 200: json(sshKey, 'the key') },
    errors: [404],
    handler: async ({ params }, _req, res) => {
      res.json(sshKeyView(await loadById(deps.orm.em.fork(), SshKey, params.id, 'SSH key')));
    },
  });

  r.route({
    method: 'patch',
    path: '/:id',
    summary: 'Rename an SSH key',
    params: byId('SSH key'),
    body: updateSshKeySchema,
    responses: { 200: json(sshKey, 'the key') },
    errors: [404, 409],
    handler: async ({ params, body }, _req, res) => {
      const em = deps.orm.em.fork();
      const key = await loadById(em, SshKey, params.id, 'SSH key');
      key.name = body.name;
      try {
        await em.flush();
      } catch (err) {
        if (err instanceof UniqueConstraintViolationException) duplicate(err);
        throw err;
      }
      res.locals.audit = { action: 'ssh-keys.update', resourceType: 'ssh_key', resourceId: key.id, detail: { name: key.name } };
      res.json(sshKeyView(key));
    },
  });

  // Removes the key from every machine (cascade on the link table); never deletes machines.
  r.route({
    method: 'delete',
    path: '/:id',
    summary: 'Delete an SSH key (machines keep running; the key leaves their list)',
    params: byId('SSH key'),
    responses: { 204: noContent('deleted') },
    errors: [404],
    handler: async ({ params }, _req, res) => {
      const em = deps.orm.em.fork();
      const key = await loadById(em, SshKey, params.id, 'SSH key');
      await em.nativeDelete(SshKey, { id: key.id });
      res.locals.audit = { action: 'ssh-keys.delete', resourceType: 'ssh_key', resourceId: key.id, detail: { name: key.name } };
      res.status(204).end();
    },
  });

  return r;
}
