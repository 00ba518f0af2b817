// Small helpers every resource router shares.
import { z } from 'zod';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { EntityName } from '@mikro-orm/core';
import { HangarError } from '../../domain/errors.ts';
import { safeName } from '../../domain/text.ts';
import { enabledProviders, type HangarConfig } from '../../domain/config.ts';
import { Network, SshKey, Template, type ITemplate } from '../../db/entities/index.ts';

/** Names of inventory objects: what a person types and a URL or hostname can carry. */
export const resourceName = safeName;

const UUID = z.uuid();

/** Loads an entity by id; a malformed id is simply not found. */
export async function loadById<T extends object>(em: EntityManager, entity: EntityName<T>, id: string, label: string): Promise<T> {
  const notFound = new HangarError('not_found', `${label} ${id} not found`);
  if (!UUID.safeParse(id).success) throw notFound;
  const found = await em.findOne(entity, { id } as never);
  if (!found) throw notFound;
  return found as T;
}

/** Checks that every referenced SSH key and network exists (422 naming the missing ones). */
export async function checkLinks(em: EntityManager, body: { ssh_key_ids?: string[] | undefined; network_id?: string | null | undefined }): Promise<void> {
  const ids = [...new Set(body.ssh_key_ids ?? [])];
  if (ids.length) {
    const found = new Set((await em.find(SshKey, { id: { $in: ids } }, { fields: ['id'] })).map((k) => k.id));
    const missing = ids.filter((id) => !found.has(id));
    if (missing.length)
      throw new HangarError('unprocessable', `unknown SSH key id(s): ${missing.join(', ')}`, { ssh_key_ids: `unknown: ${missing.join(', ')}` });
  }
  if (body.network_id && !(await em.count(Network, { id: body.network_id }))) {
    throw new HangarError('unprocessable', `network ${body.network_id} does not exist`, { network_id: 'not found' });
  }
}

/** `?dry_run=true` (or 1): answer with the plan, change nothing. */
export const isDryRun = (query: Record<string, unknown>): boolean => query.dry_run === 'true' || query.dry_run === '1';

/** 422 unless this installation offers the provider (HANGAR_PROVIDERS). */
export function requireEnabledProvider(config: HangarConfig, provider: string): void {
  if (!(enabledProviders(config) as string[]).includes(provider)) {
    throw new HangarError('unprocessable', `provider "${provider}" is not enabled here (HANGAR_PROVIDERS=${config.providers.enabled})`, {
      provider: 'not enabled',
    });
  }
}

export { iso } from '../../db/sql.ts';

/** The template a machine clones from: by id or name, ready, and of the machine's provider. */
export async function resolveTemplate(em: EntityManager, ref: string, provider: string): Promise<ITemplate> {
  const template = await em.findOne(Template, /^[0-9a-f-]{36}$/i.test(ref) ? { id: ref } : { name: ref });
  if (!template) throw new HangarError('unprocessable', `template "${ref}" does not exist`, { template: 'not found' });
  if (template.provider !== provider)
    throw new HangarError('unprocessable', `template "${template.name}" is a ${template.provider} template, not ${provider}`, {
      template: `not a ${provider} template`,
    });
  if (template.state !== 'ready' || !template.providerRef)
    throw new HangarError('unprocessable', `template "${template.name}" is ${template.state}, not ready`, { template: `is ${template.state}` });
  return template;
}
