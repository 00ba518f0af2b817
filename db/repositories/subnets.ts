// Cloud subnet records and the pool block each one holds (decision 0027). The block is an
// allocation row of its pool, so the pool's exclusion constraint keeps subnets from overlapping in
// Hangar exactly as it keeps any two allocations apart; freeing the block deletes that row.
import type { EntityManager } from '@mikro-orm/postgresql';
import { HangarError } from '../../domain/errors.ts';
import { containsCidr, formatCidr, parseCidr, type Cidr } from '../../domain/cidr.ts';
import type { SecondaryRange, SubnetState } from '../../domain/subnets.ts';
import { sqlFor } from '../sql.ts';
import { allocateBlock, insertPool, type PoolRow } from './pools.ts';

export interface NewSubnet {
  id: string;
  name: string | null;
  accountId: string;
  region: string;
  zone: string | null;
  networkId: string;
  secondaryRanges: SecondaryRange[];
  tags: Record<string, string>;
}

/** What to allocate: best fit of a size, or one requested block. */
export type BlockRequest = { prefixLength: number } | { cidr: Cidr };

/**
 * Allocates the block and writes the subnet record (state `creating`) in one transaction, so a
 * request either holds both or neither; an exhausted pool or an overlap is a 409 here, before any
 * workflow starts.
 */
export async function insertSubnetWithBlock(
  em: EntityManager,
  pool: PoolRow,
  request: BlockRequest,
  subnet: NewSubnet,
): Promise<{ cidr: string; allocationId: string }> {
  return em.transactional(async (tx) => {
    const label = `subnet:${subnet.name ?? subnet.id}`;
    let block: PoolRow;
    if ('prefixLength' in request) {
      block = await allocateBlock(tx, pool, request.prefixLength, label, subnet.accountId);
    } else {
      if (!containsCidr(parseCidr(pool.cidr), request.cidr)) {
        throw new HangarError('validation_failed', `${formatCidr(request.cidr)} is not inside pool ${pool.name} (${pool.cidr})`, { cidr: 'outside the pool' });
      }
      block = await insertPool(tx, {
        kind: 'allocation',
        name: label,
        cidr: request.cidr,
        parentId: pool.id,
        accountId: subnet.accountId,
        scopeId: pool.scope_id,
      });
    }
    await sqlFor(tx)(
      `insert into cloud_subnet (id, name, account_id, region, zone, network_id, pool_id, allocation_id, cidr, secondary_ranges, tags, state, managed, created_at, updated_at)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?::cidr, ?::jsonb, ?::jsonb, 'creating', true, now(), now())`,
      [
        subnet.id,
        subnet.name,
        subnet.accountId,
        subnet.region,
        subnet.zone,
        subnet.networkId,
        pool.id,
        block.id,
        block.cidr,
        JSON.stringify(subnet.secondaryRanges),
        JSON.stringify(subnet.tags),
      ],
    );
    return { cidr: block.cidr, allocationId: block.id };
  });
}

/** Frees the subnet's block (deletes its allocation row); already free is done. */
export async function freeSubnetBlock(em: EntityManager, subnetId: string): Promise<{ freed: boolean }> {
  return em.transactional(async (tx) => {
    const sql = sqlFor(tx);
    const [row] = await sql<{ allocation_id: string | null }[]>(`select allocation_id from cloud_subnet where id = ? for update`, [subnetId]);
    if (!row) throw new HangarError('not_found', `subnet ${subnetId} not found`);
    if (!row.allocation_id) return { freed: false };
    await sql(`update cloud_subnet set allocation_id = null, updated_at = now() where id = ?`, [subnetId]);
    await sql(`delete from pool where id = ? and kind = 'allocation'`, [row.allocation_id]);
    return { freed: true };
  });
}

export interface SubnetUpdate {
  state: SubnetState;
  reason?: string | null;
  providerId?: string;
  zone?: string | null;
}

/** Sets the state (and what the cloud reported); the reason is cleared unless given. */
export async function setSubnetState(em: EntityManager, subnetId: string, u: SubnetUpdate): Promise<void> {
  const sets = ['state = ?', 'state_reason = ?', 'updated_at = now()'];
  const params: unknown[] = [u.state, u.reason ?? null];
  if (u.providerId !== undefined) {
    sets.push('provider_id = ?');
    params.push(u.providerId);
  }
  if (u.zone !== undefined) {
    sets.push('zone = ?');
    params.push(u.zone);
  }
  params.push(subnetId);
  await sqlFor(em)(`update cloud_subnet set ${sets.join(', ')} where id = ?`, params);
}
