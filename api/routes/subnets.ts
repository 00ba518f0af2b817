// /api/v1/subnets: cloud subnets allocated from Hangar's pools (decision 0027). A create allocates
// the block and writes the record in one transaction (exhaustion and overlaps answer 409 at once),
// then allocateSubnet makes the subnet in the cloud; a delete runs releaseSubnet. Both answer 202
// with the operation; `?dry_run=true` answers with the plan instead.
import { z } from 'zod';
import { HangarError } from '../../domain/errors.ts';
import { isRegionOf } from '../../domain/accounts.ts';
import { bestFit, cidrSize, containsCidr, formatCidr, parseCidr } from '../../domain/cidr.ts';
import { safeFilter } from '../../domain/text.ts';
import { createSubnetSchema, SUBNET_PREFIX_LIMITS, SUBNET_STATES, usableAddresses, type CreateSubnetRequest } from '../../domain/subnets.ts';
import { allocateSubnetWorkflowId, releaseSubnetWorkflowId } from '../../workflows/contracts.ts';
import { children, findPool, POOL_COLUMNS, type PoolRow } from '../../db/repositories/pools.ts';
import { findScope } from '../../db/repositories/scopes.ts';
import { insertSubnetWithBlock, type BlockRequest } from '../../db/repositories/subnets.ts';
import { sqlFor } from '../../db/sql.ts';
import type { ApiDeps } from '../context.ts';
import { operationSummary, startOperation, startOperationOrUndo } from '../operations.ts';
import { isUuid, pageOf, parsePage } from '../pagination.ts';
import { contractRouter, json, type ContractRouter } from '../contract/route.ts';
import { byId, dryRun, page, paging, plan } from '../contract/schemas.ts';
import { cloudSubnet, subnetOperation } from '../contract/subnet-views.ts';
import { iso, isDryRun } from './common.ts';

interface SubnetRow {
  id: string;
  name: string | null;
  account_id: string;
  account_key: string;
  provider: 'aws' | 'gcp';
  region: string;
  zone: string | null;
  network_id: string;
  pool_id: string | null;
  allocation_id: string | null;
  cidr: string;
  provider_id: string | null;
  secondary_ranges: { name: string; cidr: string }[];
  tags: Record<string, string>;
  state: (typeof SUBNET_STATES)[number];
  state_reason: string | null;
  managed: boolean;
  created_at: Date | string;
  updated_at: Date | string;
}

const SELECT = `select s.id, s.name, s.account_id, a.key as account_key, a.provider, s.region, s.zone, s.network_id, s.pool_id, s.allocation_id,
  s.cidr::text as cidr, s.provider_id, s.secondary_ranges, s.tags, s.state, s.state_reason, s.managed, s.created_at, s.updated_at
  from cloud_subnet s join account a on a.id = s.account_id`;

export function subnetView(r: SubnetRow) {
  return {
    ...r,
    total_addresses: cidrSize(parseCidr(r.cidr)).toString(),
    usable_addresses: usableAddresses(r.provider, r.cidr).toString(),
    created_at: iso(r.created_at)!,
    updated_at: iso(r.updated_at)!,
  };
}

const listQuery = z.object({
  account: safeFilter(64).optional().meta({ description: 'account id or key' }),
  region: safeFilter(64).optional(),
  network: safeFilter(255).optional().meta({ description: 'AWS VPC id / GCP network name' }),
  pool: z.uuid().optional(),
  state: z.enum(SUBNET_STATES).optional(),
  managed: z.enum(['true', 'false']).optional(),
  ...paging,
});

async function loadSubnet(deps: ApiDeps, id: string): Promise<SubnetRow> {
  const [row] = await sqlFor(deps.orm.em.fork())<SubnetRow[]>(`${SELECT} where s.id = ?`, [id]);
  if (!row) throw new HangarError('not_found', `subnet ${id} not found`);
  return row;
}

/** The pool by id or name; 422 when missing (it is named in the body, not the path). */
async function poolForRequest(deps: ApiDeps, ref: string): Promise<PoolRow> {
  const em = deps.orm.em.fork();
  const pool = isUuid(ref)
    ? await findPool(em, ref)
    : (await sqlFor(em)<PoolRow[]>(`select ${POOL_COLUMNS} from pool where name = ? and kind = 'pool'`, [ref]))[0];
  if (!pool) throw new HangarError('unprocessable', `pool "${ref}" not found`, { pool: 'not found' });
  return pool;
}

/** Where the subnet goes: the account and network of the pool's scope binding, the region checked. */
async function placement(deps: ApiDeps, pool: PoolRow, body: CreateSubnetRequest) {
  const em = deps.orm.em.fork();
  const scope = await findScope(em, pool.scope_id);
  if (!scope?.account_id || !scope.network_id) {
    throw new HangarError(
      'unprocessable',
      `pool ${pool.name} is in address scope ${scope?.name ?? pool.scope_id}, which is not bound to a cloud account and network`,
      {
        pool: 'its address scope is not bound to an account and network',
      },
    );
  }
  const [account] = await sqlFor(em)<{ id: string; key: string; provider: 'aws' | 'gcp' }[]>(`select id, key, provider from account where id = ?`, [
    scope.account_id,
  ]);
  const provider = account!.provider;
  const region = body.region ?? scope.region;
  if (!region) throw new HangarError('validation_failed', 'GCP networks are global: give the region of the subnet', { region: 'required' });
  if (scope.region && body.region && body.region !== scope.region) {
    throw new HangarError('validation_failed', `the pool's VPC ${scope.network_id} is in ${scope.region}`, { region: `must be ${scope.region}` });
  }
  if (!isRegionOf(provider, region))
    throw new HangarError('validation_failed', `"${region}" is not a ${provider.toUpperCase()} region name`, { region: 'unknown region' });
  if (body.zone && provider !== 'aws') throw new HangarError('validation_failed', 'zone applies to AWS subnets only', { zone: 'not AWS' });
  if (body.secondary_ranges?.length && provider !== 'gcp')
    throw new HangarError('validation_failed', 'secondary ranges apply to GCP subnets only', { secondary_ranges: 'not GCP' });
  const prefix = body.prefix_length ?? parseCidr(body.cidr!).prefix;
  const limits = SUBNET_PREFIX_LIMITS[provider];
  if (parseCidr(pool.cidr).version === 4 && (prefix < limits.min || prefix > limits.max)) {
    throw new HangarError('validation_failed', `${provider.toUpperCase()} subnets are /${limits.min} to /${limits.max}`, {
      [body.prefix_length !== undefined ? 'prefix_length' : 'cidr']: `must be /${limits.min} to /${limits.max}`,
    });
  }
  return { account: account!, region, networkId: scope.network_id };
}

// Named schemas are registered once per process (zod's registry refuses a second id), so at module level.
const createSubnetBody = createSubnetSchema.meta({ id: 'CreateSubnet' });

export function subnetsRouter(deps: ApiDeps): ContractRouter {
  const r = contractRouter({ tags: ['subnets'] });

  r.route({
    method: 'post',
    path: '/',
    summary: 'Allocate a block from a pool bound to a cloud network and create it as a subnet there (runs allocateSubnet)',
    query: z.object(dryRun),
    body: createSubnetBody,
    responses: { 202: json(subnetOperation, 'the subnet (creating) and its operation'), 200: json(plan, 'the plan (dry_run)') },
    errors: [409, 422, 503],
    handler: async ({ query, body }, req, res) => {
      const pool = await poolForRequest(deps, body.pool);
      const where = await placement(deps, pool, body);
      const id = crypto.randomUUID();
      const request: BlockRequest = body.cidr !== undefined ? { cidr: parseCidr(body.cidr) } : { prefixLength: body.prefix_length! };
      if (isDryRun(query)) {
        if ('cidr' in request && !containsCidr(parseCidr(pool.cidr), request.cidr)) {
          throw new HangarError('validation_failed', `${body.cidr} is not inside pool ${pool.name} (${pool.cidr})`, { cidr: 'outside the pool' });
        }
        const block =
          'cidr' in request
            ? request.cidr
            : bestFit(
                parseCidr(pool.cidr),
                (await children(deps.orm.em.fork(), pool.id)).map((c) => parseCidr(c.cidr)),
                request.prefixLength,
              );
        if (!block) throw new HangarError('pool_exhausted', `pool ${pool.name} (${pool.cidr}) has no free /${body.prefix_length} left`);
        const cloud = where.account.provider;
        res.status(200).json({
          dry_run: true,
          workflow: 'allocateSubnet',
          workflow_id: allocateSubnetWorkflowId(id),
          calls: [
            { step: 'allocate-block', call: 'hangar.allocateBlock', args: { pool: pool.name, cidr: formatCidr(block) } },
            { step: 'create-in-cloud', call: `${cloud}.findSubnetByHangarId`, args: { region: where.region, hangar_id: id } },
            { step: 'create-in-cloud', call: `${cloud}.createSubnet`, args: { region: where.region, network_id: where.networkId, cidr: formatCidr(block) } },
            { step: 'wait-available', call: `${cloud}.getSubnet`, args: { region: where.region } },
            { step: 'record', call: 'hangar.markSubnet', args: { state: 'available' } },
          ],
        });
        return;
      }
      const em = deps.orm.em.fork();
      const held = await insertSubnetWithBlock(em, pool, request, {
        id,
        name: body.name ?? null,
        accountId: where.account.id,
        region: where.region,
        zone: body.zone ?? null,
        networkId: where.networkId,
        secondaryRanges: body.secondary_ranges ?? [],
        tags: body.tags ?? {},
      });
      const operation = await startOperationOrUndo(
        em,
        deps.temporal,
        deps.config,
        {
          kind: 'create-subnet',
          workflow: 'allocateSubnet',
          workflowId: allocateSubnetWorkflowId(id),
          args: [{ subnetId: id, cidr: held.cidr }],
          resourceType: 'subnet',
          resourceId: id,
          requestedBy: req.actor!.name,
        },
        async () => {
          const sql = sqlFor(deps.orm.em.fork());
          await sql(`delete from cloud_subnet where id = ?`, [id]);
          await sql(`delete from pool where id = ?`, [held.allocationId]);
        },
      );
      res.locals.audit = { action: 'subnets.create', resourceType: 'subnet', resourceId: id, detail: { pool: pool.name, cidr: held.cidr } };
      res
        .status(202)
        .location(`/api/v1/subnets/${id}`)
        .json({ subnet: subnetView(await loadSubnet(deps, id)), operation: operationSummary(deps.config, operation) });
    },
  });

  r.route({
    method: 'get',
    path: '/',
    summary: 'List cloud subnets',
    query: listQuery,
    responses: { 200: json(page(cloudSubnet), 'a page of subnets') },
    errors: [422],
    handler: async ({ query: q }, req, res) => {
      const pg = parsePage(req.query, deps.config.api.maxPageSize);
      const conds: string[] = [];
      const params: unknown[] = [];
      if (q.account) {
        conds.push(isUuid(q.account) ? 's.account_id = ?' : 'a.key = ?');
        params.push(q.account);
      }
      for (const [col, value] of [
        ['s.region', q.region],
        ['s.network_id', q.network],
        ['s.pool_id', q.pool],
        ['s.state', q.state],
      ] as const) {
        if (value === undefined) continue;
        conds.push(`${col} = ?`);
        params.push(value);
      }
      if (q.managed) {
        conds.push('s.managed = ?');
        params.push(q.managed === 'true');
      }
      if (pg.after !== null) {
        if (!isUuid(pg.after)) throw new HangarError('validation_failed', 'invalid cursor', { cursor: 'invalid' });
        conds.push('s.id > ?');
        params.push(pg.after);
      }
      params.push(pg.pageSize + 1);
      const rows = await sqlFor(deps.orm.em.fork())<SubnetRow[]>(
        `${SELECT} ${conds.length ? `where ${conds.join(' and ')}` : ''} order by s.id limit ?`,
        params,
      );
      const { items, next_cursor } = pageOf(rows, pg.pageSize, (s) => s.id);
      res.json({ items: items.map(subnetView), next_cursor });
    },
  });

  r.route({
    method: 'get',
    path: '/:id',
    summary: 'Get a cloud subnet',
    params: byId('subnet'),
    responses: { 200: json(cloudSubnet, 'the subnet') },
    errors: [404],
    handler: async ({ params }, _req, res) => {
      if (!isUuid(params.id)) throw new HangarError('not_found', `subnet ${params.id} not found`);
      res.json(subnetView(await loadSubnet(deps, params.id)));
    },
  });

  r.route({
    method: 'delete',
    path: '/:id',
    summary:
      'Delete a subnet in the cloud and free its block (runs releaseSubnet; the operation fails with cloud_dependency_violation while the subnet is in use)',
    params: byId('subnet'),
    query: z.object(dryRun),
    responses: { 202: json(subnetOperation, 'the subnet and its operation'), 200: json(plan, 'the plan (dry_run)') },
    errors: [404, 409, 503],
    handler: async ({ params, query }, req, res) => {
      if (!isUuid(params.id)) throw new HangarError('not_found', `subnet ${params.id} not found`);
      const subnet = await loadSubnet(deps, params.id);
      if (!subnet.managed) throw new HangarError('invalid_state', 'Hangar never deletes a subnet it did not create (managed: false)');
      if (subnet.state !== 'available' && subnet.state !== 'failed') {
        throw new HangarError('invalid_state', `subnet ${subnet.cidr} is ${subnet.state}; only an available or failed subnet can be deleted`);
      }
      if (isDryRun(query)) {
        res.status(200).json({
          dry_run: true,
          workflow: 'releaseSubnet',
          workflow_id: releaseSubnetWorkflowId(subnet.id),
          calls: [
            { step: 'mark-deleting', call: 'hangar.markSubnet', args: { state: 'deleting' } },
            { step: 'delete-in-cloud', call: `${subnet.provider}.deleteSubnet`, args: { region: subnet.region, id: subnet.provider_id } },
            { step: 'free-block', call: 'hangar.freeSubnetBlock', args: { cidr: subnet.cidr } },
            { step: 'mark-deleted', call: 'hangar.markSubnet', args: { state: 'deleted' } },
          ],
        });
        return;
      }
      const operation = await startOperation(deps.orm.em.fork(), deps.temporal, deps.config, {
        kind: 'delete-subnet',
        workflow: 'releaseSubnet',
        workflowId: releaseSubnetWorkflowId(subnet.id),
        args: [{ subnetId: subnet.id, cidr: subnet.cidr }],
        resourceType: 'subnet',
        resourceId: subnet.id,
        requestedBy: req.actor!.name,
        onConflict: 'fail',
      });
      res.locals.audit = { action: 'subnets.delete', resourceType: 'subnet', resourceId: subnet.id, detail: { cidr: subnet.cidr } };
      res.status(202).json({ subnet: subnetView(subnet), operation: operationSummary(deps.config, operation) });
    },
  });

  return r;
}
