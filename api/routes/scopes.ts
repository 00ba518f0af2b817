// /api/v1/scopes: address scopes (VRFs). Pools in different scopes may overlap; see
// docs/decisions/0022. Scopes are referred to by id or name.
import { z } from 'zod';
import type { EntityManager } from '@mikro-orm/postgresql';
import { HangarError } from '../../domain/errors.ts';
import { safeDescription, safeText } from '../../domain/text.ts';
import { formatCidr, parseCidr } from '../../domain/cidr.ts';
import { bindingProblems, GLOBAL_SCOPE_ID } from '../../domain/scopes.ts';
import { Account } from '../../db/entities/index.ts';
import { deleteScope, findScope, insertScope, listScopes, poolsHolding, updateScope, type ScopeFields, type ScopeRow } from '../../db/repositories/scopes.ts';
import type { ApiDeps } from '../context.ts';
import { pageOf, parsePage } from '../pagination.ts';
import { contractRouter, json, noContent, type ContractRouter } from '../contract/route.ts';
import { byRef, page, paging } from '../contract/schemas.ts';
import { addressScope, scopeLookup } from '../contract/scope-views.ts';
import { iso, resourceName } from './common.ts';

const binding = {
  account_id: z.uuid().nullable().optional().meta({ description: 'bind the scope to a cloud account' }),
  region: safeText(64, 1).nullable().optional().meta({ description: 'the region of an AWS VPC (GCP networks are global)' }),
  network_id: safeText(255, 1).nullable().optional().meta({ description: 'an AWS VPC id (vpc-...) or a GCP network name' }),
};
export const createScopeSchema = z
  .strictObject({ name: resourceName, description: safeDescription(1000).nullable().optional(), ...binding })
  .meta({ id: 'CreateAddressScope' });
export const updateScopeSchema = z
  .strictObject({ name: resourceName.optional(), description: safeDescription(1000).nullable().optional(), ...binding })
  .meta({ id: 'UpdateAddressScope' });

export function scopeView(s: ScopeRow) {
  return {
    id: s.id,
    name: s.name,
    description: s.description,
    default: s.id === GLOBAL_SCOPE_ID,
    account_id: s.account_id,
    account_key: s.account_key,
    region: s.region,
    network_id: s.network_id,
    pools: Number(s.pools),
    created_at: iso(s.created_at)!,
    updated_at: iso(s.updated_at)!,
  };
}

/** The binding's account exists and the region and network fit its cloud (422 per field). */
async function checkBinding(em: EntityManager, f: ScopeFields): Promise<void> {
  let provider: 'aws' | 'gcp' | null = null;
  if (f.accountId) {
    const account = await em.findOne(Account, { id: f.accountId });
    if (!account) throw new HangarError('unprocessable', `account ${f.accountId} does not exist`, { account_id: 'not found' });
    provider = account.provider;
  }
  const problems = bindingProblems(f, provider);
  if (Object.keys(problems).length) throw new HangarError('unprocessable', `invalid binding: ${Object.values(problems).join('; ')}`, problems);
}

export function scopesRouter(deps: ApiDeps): ContractRouter {
  const r = contractRouter({ tags: ['pools'] });
  const em = () => deps.orm.em.fork();
  const load = async (ref: string) => {
    const found = await findScope(em(), ref);
    if (!found) throw new HangarError('not_found', `address scope ${ref} not found`);
    return found;
  };

  r.route({
    method: 'post',
    path: '/',
    summary: 'Create an address scope (VRF), optionally bound to a cloud account or one of its networks',
    body: createScopeSchema,
    responses: { 201: json(addressScope, 'the scope') },
    errors: [409, 422],
    handler: async ({ body }, _req, res) => {
      const manager = em();
      const fields: ScopeFields = {
        name: body.name,
        description: body.description ?? null,
        accountId: body.account_id ?? null,
        region: body.region ?? null,
        networkId: body.network_id ?? null,
      };
      await checkBinding(manager, fields);
      const created = await insertScope(manager, fields);
      res.locals.audit = { action: 'scopes.create', resourceType: 'address_scope', resourceId: created.id, detail: { name: created.name } };
      res.status(201).location(`/api/v1/scopes/${created.id}`).json(scopeView(created));
    },
  });

  r.route({
    method: 'get',
    path: '/',
    summary: 'List address scopes (by name)',
    query: z.object({ account_id: z.uuid().optional(), ...paging }),
    responses: { 200: json(page(addressScope), 'a page of scopes') },
    handler: async ({ query }, req, res) => {
      const pg = parsePage(req.query, deps.config.api.maxPageSize);
      const rows = await listScopes(em(), { accountId: query.account_id, after: pg.after, limit: pg.pageSize + 1 });
      const { items, next_cursor } = pageOf(rows, pg.pageSize, (s) => s.name);
      res.json({ items: items.map(scopeView), next_cursor });
    },
  });

  r.route({
    method: 'get',
    path: '/:ref',
    summary: 'Get an address scope',
    params: byRef('address scope'),
    responses: { 200: json(addressScope, 'the scope') },
    errors: [404],
    handler: async ({ params }, _req, res) => {
      res.json(scopeView(await load(params.ref)));
    },
  });

  r.route({
    method: 'patch',
    path: '/:ref',
    summary: 'Rename, describe or rebind an address scope (rebinding only while it holds no pools)',
    params: byRef('address scope'),
    body: updateScopeSchema,
    responses: { 200: json(addressScope, 'the scope') },
    errors: [404, 409, 422],
    handler: async ({ params, body }, _req, res) => {
      const found = await load(params.ref);
      const manager = em();
      const fields: ScopeFields = {
        name: body.name ?? found.name,
        description: body.description !== undefined ? body.description : found.description,
        accountId: body.account_id !== undefined ? body.account_id : found.account_id,
        region: body.region !== undefined ? body.region : found.region,
        networkId: body.network_id !== undefined ? body.network_id : found.network_id,
      };
      await checkBinding(manager, fields);
      const updated = await updateScope(manager, found, fields);
      res.locals.audit = { action: 'scopes.update', resourceType: 'address_scope', resourceId: found.id };
      res.json(scopeView(updated));
    },
  });

  r.route({
    method: 'delete',
    path: '/:ref',
    summary: 'Delete an address scope (409 while pools use it; the global scope stays)',
    params: byRef('address scope'),
    responses: { 204: noContent('deleted') },
    errors: [404, 409],
    handler: async ({ params }, _req, res) => {
      const found = await load(params.ref);
      await deleteScope(em(), found);
      res.locals.audit = { action: 'scopes.delete', resourceType: 'address_scope', resourceId: found.id, detail: { name: found.name } };
      res.status(204).end();
    },
  });

  r.route({
    method: 'get',
    path: '/:ref/lookup',
    summary: 'Which pools (and allocation) of the scope hold a CIDR or address',
    params: byRef('address scope'),
    query: z.object({ cidr: safeText(64, 1).meta({ description: 'a CIDR, or an address (a /32 or /128)' }) }),
    responses: { 200: json(scopeLookup, 'the holding pools, top-level first') },
    errors: [404, 422],
    handler: async ({ params, query }, _req, res) => {
      const found = await load(params.ref);
      let cidr;
      try {
        cidr = parseCidr(query.cidr.includes('/') ? query.cidr : `${query.cidr}/${query.cidr.includes(':') ? 128 : 32}`);
      } catch (err) {
        throw new HangarError('invalid_cidr', (err as Error).message, { cidr: (err as Error).message });
      }
      const chain = await poolsHolding(em(), found.id, formatCidr(cidr));
      const pools = chain.filter((p) => p.kind === 'pool');
      const allocation = chain.find((p) => p.kind === 'allocation') ?? null;
      res.json({
        scope_id: found.id,
        scope: found.name,
        cidr: formatCidr(cidr),
        pools: pools.map((p) => ({ id: p.id, name: p.name, cidr: formatCidr(parseCidr(p.cidr)), parent_id: p.parent_id })),
        allocation: allocation && { id: allocation.id, name: allocation.name, cidr: formatCidr(parseCidr(allocation.cidr)), pool_id: allocation.parent_id },
      });
    },
  });

  return r;
}
