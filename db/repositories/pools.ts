// Pools and their allocations (leaf rows of the same table). Overlap between siblings is refused
// by the GiST exclusion constraint pool_siblings_no_overlap; code here only turns that refusal
// into a clear 409 and, for automatic allocation, avoids futile races by locking the parent row.
import type { EntityManager } from '@mikro-orm/postgresql';
import { HangarError } from '../../domain/errors.ts';
import { bestFit, formatCidr, parseCidr, type Cidr } from '../../domain/cidr.ts';
import type { UsedRange } from '../../domain/blocks.ts';
import { sqlFor } from '../sql.ts';

export interface PoolRow {
  id: string;
  kind: 'pool' | 'allocation';
  name: string | null;
  cidr: string;
  parent_id: string | null;
  account_id: string | null;
  scope_id: string;
  scope_name: string;
  description: string | null;
  tags: Record<string, string>;
  created_at: Date | string;
  updated_at: Date | string;
}

/** Every column of a pool row, and its scope's name (also valid in RETURNING). */
export const POOL_COLUMNS = `id, kind, name, cidr::text as cidr, parent_id, account_id, scope_id,
  (select s.name from address_scope s where s.id = pool.scope_id) as scope_name, description, tags, created_at, updated_at`;
const COLUMNS = POOL_COLUMNS;

/** The exclusion constraint's SQLSTATE (23P01) and name, whichever layer reports it. */
function isOverlap(err: unknown): boolean {
  const e = err as { code?: string; message?: string; cause?: { code?: string } };
  return e?.code === '23P01' || e?.cause?.code === '23P01' || String(e?.message).includes('pool_siblings_no_overlap');
}

/** The trigger pool_scope_follows_parent's refusal: a child outside its parent's scope. */
const isScopeMismatch = (err: unknown) => String((err as Error)?.message).includes('pool_scope_mismatch');

export async function findPool(em: EntityManager, id: string, kind: 'pool' | 'allocation' = 'pool'): Promise<PoolRow | null> {
  const rows = await sqlFor(em)<PoolRow[]>(`select ${COLUMNS} from pool where id = ? and kind = ?`, [id, kind]);
  return rows[0] ?? null;
}

export async function children(em: EntityManager, parentId: string): Promise<PoolRow[]> {
  return sqlFor(em)<PoolRow[]>(`select ${COLUMNS} from pool where parent_id = ? order by cidr`, [parentId]);
}

export function usedRanges(rows: PoolRow[]): UsedRange[] {
  return rows.map((r) => ({ cidr: parseCidr(r.cidr), owner: { kind: r.kind, id: r.id, name: r.name, accountId: r.account_id } }));
}

export interface NewPool {
  kind: 'pool' | 'allocation';
  name: string | null;
  cidr: Cidr;
  parentId: string | null;
  accountId: string | null;
  /** The pool's address scope; a child's must be its parent's. */
  scopeId: string;
  description?: string | null;
  tags?: Record<string, string>;
}

export async function insertPool(em: EntityManager, p: NewPool): Promise<PoolRow> {
  try {
    const rows = await sqlFor(em)<PoolRow[]>(
      `insert into pool (id, kind, name, cidr, parent_id, account_id, scope_id, description, tags, created_at, updated_at)
       values (?, ?, ?, ?::cidr, ?, ?, ?, ?, ?::jsonb, now(), now()) returning ${COLUMNS}`,
      [crypto.randomUUID(), p.kind, p.name, formatCidr(p.cidr), p.parentId, p.accountId, p.scopeId, p.description ?? null, JSON.stringify(p.tags ?? {})],
    );
    return rows[0]!;
  } catch (err) {
    if (isOverlap(err)) {
      const where = p.parentId ? 'another child of the same pool' : 'another top-level pool of its address scope';
      throw new HangarError('overlap', `${formatCidr(p.cidr)} overlaps ${where}`, { cidr: 'overlaps a sibling' });
    }
    // The scope or parent was deleted between the request's checks and this insert.
    if (String((err as Error).message).includes('pool_scope_id_foreign')) {
      throw new HangarError('unprocessable', 'the address scope no longer exists', { scope: 'not found' });
    }
    if (String((err as Error).message).includes('pool_parent_id_foreign')) {
      throw new HangarError('unprocessable', 'the parent pool no longer exists', { parent_id: 'not found' });
    }
    if (isScopeMismatch(err)) {
      throw new HangarError('scope_mismatch', "a child pool or allocation must be in its parent pool's address scope", { scope: "not the parent's scope" });
    }
    if (String((err as Error).message).includes('pool_name_unique')) {
      throw new HangarError('already_exists', `a pool named "${p.name}" already exists`, { name: 'already exists' });
    }
    throw err;
  }
}

/** Best fit: the smallest free space that holds a /prefixLength, lowest address first. */
export async function allocateBlock(em: EntityManager, pool: PoolRow, prefixLength: number, name: string | null, accountId: string | null): Promise<PoolRow> {
  return (await allocateBlocks(em, pool, prefixLength, 1, name, accountId))[0]!;
}

/** `count` blocks of one length, best fit, in one transaction: all of them or none (pool_exhausted). */
export async function allocateBlocks(
  em: EntityManager,
  pool: PoolRow,
  prefixLength: number,
  count: number,
  name: string | null,
  accountId: string | null,
): Promise<PoolRow[]> {
  return em.transactional(async (tx) => {
    const sql = sqlFor(tx);
    // Serialises automatic allocations per pool; the exclusion constraint is still what guarantees.
    await sql(`select id from pool where id = ? for update`, [pool.id]);
    const range = parseCidr(pool.cidr);
    const taken = (await children(tx, pool.id)).map((r) => parseCidr(r.cidr));
    const out: PoolRow[] = [];
    for (let i = 0; i < count; i++) {
      const block = bestFit(range, taken, prefixLength);
      if (!block) {
        const asked = count > 1 ? `${count} × /${prefixLength} (only ${i} fit; nothing was allocated)` : `/${prefixLength}`;
        throw new HangarError('pool_exhausted', `pool ${pool.name} (${pool.cidr}) has no free ${asked} left`);
      }
      taken.push(block);
      out.push(await insertPool(tx, { kind: 'allocation', name, cidr: block, parentId: pool.id, accountId, scopeId: pool.scope_id }));
    }
    return out;
  });
}

/** Deletes a pool; with cascade, its whole subtree in one statement. */
export async function deletePool(em: EntityManager, pool: PoolRow, cascade: boolean): Promise<number> {
  return em.transactional(async (tx) => {
    const sql = sqlFor(tx);
    await sql(`select id from pool where id = ? for update`, [pool.id]);
    const [row] = await sql<{ n: string }[]>(`select count(*) as n from pool where parent_id = ?`, [pool.id]);
    const dependents = Number(row?.n ?? 0);
    if (dependents && !cascade) {
      throw new HangarError('has_dependents', `pool ${pool.name} has ${dependents} child pool(s) or allocation(s); delete them first or pass ?cascade=true`);
    }
    // A block held by a cloud subnet goes only with the subnet (releaseSubnet), never under it.
    const [held] = await sql<{ n: string }[]>(
      `with recursive subtree as (
         select id from pool where id = ?
         union all select p.id from pool p join subtree s on p.parent_id = s.id
       ) select count(*) as n from cloud_subnet where allocation_id in (select id from subtree)`,
      [pool.id],
    );
    if (Number(held?.n ?? 0)) {
      throw new HangarError('has_dependents', `pool ${pool.name} holds ${held!.n} cloud subnet(s); delete them first (hangar subnets delete)`);
    }
    const deleted = await sql<{ id: string }[]>(
      `with recursive subtree as (
         select id from pool where id = ?
         union all select p.id from pool p join subtree s on p.parent_id = s.id
       ) delete from pool where id in (select id from subtree) returning id`,
      [pool.id],
    );
    return deleted.length;
  });
}
