// Address scopes (VRFs). A scope row is locked FOR UPDATE before a binding change or a delete:
// that lock conflicts with the key-share lock every pool insert takes on its scope (the foreign
// key), so "no pool uses this scope" stays true until the change commits.
import type { EntityManager } from '@mikro-orm/postgresql';
import { HangarError } from '../../domain/errors.ts';
import { GLOBAL_SCOPE_ID, GLOBAL_SCOPE_NAME } from '../../domain/scopes.ts';
import { sqlFor } from '../sql.ts';

export interface ScopeRow {
  id: string;
  name: string;
  description: string | null;
  account_id: string | null;
  account_key: string | null;
  region: string | null;
  network_id: string | null;
  pools: string | number;
  created_at: Date | string;
  updated_at: Date | string;
}

const SELECT = `select s.id, s.name, s.description, s.account_id, acc.key as account_key, s.region, s.network_id,
    (select count(*) from pool p where p.scope_id = s.id and p.kind = 'pool') as pools, s.created_at, s.updated_at
  from address_scope s left join account acc on acc.id = s.account_id`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A scope by id or name, or null. */
export async function findScope(em: EntityManager, ref: string): Promise<ScopeRow | null> {
  const rows = UUID.test(ref)
    ? await sqlFor(em)<ScopeRow[]>(`${SELECT} where s.id = ?`, [ref])
    : await sqlFor(em)<ScopeRow[]>(`${SELECT} where s.name = ?`, [ref]);
  return rows[0] ?? null;
}

/** The scope a request names (by id or name), the global one when it names none; 422 if unknown. */
export async function scopeForInput(em: EntityManager, ref: string | null | undefined, field = 'scope'): Promise<ScopeRow> {
  const found = await findScope(em, ref ?? GLOBAL_SCOPE_ID);
  if (!found) throw new HangarError('unprocessable', `address scope "${ref}" does not exist`, { [field]: 'not found' });
  return found;
}

export async function listScopes(em: EntityManager, o: { accountId?: string; after: string | null; limit: number }): Promise<ScopeRow[]> {
  const params: unknown[] = [];
  let where = 'true';
  if (o.accountId) {
    where += ' and s.account_id = ?';
    params.push(o.accountId);
  }
  if (o.after !== null) {
    where += ' and s.name > ?';
    params.push(o.after);
  }
  params.push(o.limit);
  return sqlFor(em)<ScopeRow[]>(`${SELECT} where ${where} order by s.name limit ?`, params);
}

export interface ScopeFields {
  name: string;
  description: string | null;
  accountId: string | null;
  region: string | null;
  networkId: string | null;
}

/** Unique-violation names → the field they concern. */
function refusal(err: unknown, f: Partial<ScopeFields>): never {
  const message = String((err as Error)?.message);
  if (message.includes('address_scope_name_unique')) {
    throw new HangarError('already_exists', `an address scope named "${f.name}" already exists`, { name: 'already exists' });
  }
  if (message.includes('address_scope_network_unique')) {
    throw new HangarError('already_exists', `network ${f.networkId} of this account already has an address scope`, { network_id: 'already has a scope' });
  }
  throw err;
}

export async function insertScope(em: EntityManager, f: ScopeFields): Promise<ScopeRow> {
  const id = crypto.randomUUID();
  await sqlFor(em)(
    `insert into address_scope (id, name, description, account_id, region, network_id, created_at, updated_at)
     values (?, ?, ?, ?, ?, ?, now(), now())`,
    [id, f.name, f.description, f.accountId, f.region, f.networkId],
  ).catch((err) => refusal(err, f));
  return (await findScope(em, id))!;
}

/** Renames or rebinds a scope; its binding changes only while no pool uses it. */
export async function updateScope(em: EntityManager, scope: ScopeRow, f: ScopeFields): Promise<ScopeRow> {
  const rebinding = f.accountId !== scope.account_id || f.region !== scope.region || f.networkId !== scope.network_id;
  if (scope.id === GLOBAL_SCOPE_ID && (rebinding || f.name !== GLOBAL_SCOPE_NAME)) {
    throw new HangarError('invalid_state', 'the global address scope keeps its name and is bound to no account');
  }
  await em.transactional(async (tx) => {
    const sql = sqlFor(tx);
    const [row] = await sql<{ n: string }[]>(`select (select count(*) from pool where scope_id = s.id) as n from address_scope s where s.id = ? for update`, [
      scope.id,
    ]);
    if (!row) throw new HangarError('not_found', `address scope ${scope.id} not found`);
    if (rebinding && Number(row.n) > 0) {
      throw new HangarError(
        'has_dependents',
        `address scope ${scope.name} holds ${row.n} pool(s) or allocation(s); its binding changes only while it is empty`,
      );
    }
    await sql(`update address_scope set name = ?, description = ?, account_id = ?, region = ?, network_id = ?, updated_at = now() where id = ?`, [
      f.name,
      f.description,
      f.accountId,
      f.region,
      f.networkId,
      scope.id,
    ]).catch((err) => refusal(err, f));
  });
  return (await findScope(em, scope.id))!;
}

/** Deletes an empty scope; the global one and scopes that still hold pools are refused (409). */
export async function deleteScope(em: EntityManager, scope: ScopeRow): Promise<void> {
  if (scope.id === GLOBAL_SCOPE_ID) throw new HangarError('invalid_state', 'the global address scope cannot be deleted');
  await em.transactional(async (tx) => {
    const sql = sqlFor(tx);
    const [row] = await sql<{ n: string }[]>(`select (select count(*) from pool where scope_id = s.id) as n from address_scope s where s.id = ? for update`, [
      scope.id,
    ]);
    if (!row) throw new HangarError('not_found', `address scope ${scope.id} not found`);
    if (Number(row.n) > 0) {
      throw new HangarError('has_dependents', `address scope ${scope.name} holds ${row.n} pool(s) or allocation(s); delete them first`);
    }
    await sql(`delete from address_scope where id = ?`, [scope.id]);
  });
}

/** Which pools of a scope hold a CIDR: the chain from the top-level pool down, and the allocation. */
export async function poolsHolding(
  em: EntityManager,
  scopeId: string,
  cidr: string,
): Promise<{ id: string; kind: string; name: string | null; cidr: string; parent_id: string | null; depth: number }[]> {
  return sqlFor(em)(
    `with recursive chain as (
       select id, kind, name, cidr, parent_id, 0 as depth from pool
        where scope_id = ? and parent_id is null and cidr >>= ?::cidr
       union all
       select p.id, p.kind, p.name, p.cidr, p.parent_id, c.depth + 1 from pool p join chain c on p.parent_id = c.id
        where p.cidr >>= ?::cidr
     ) select id, kind, name, cidr::text as cidr, parent_id, depth from chain order by depth`,
    [scopeId, cidr, cidr],
  );
}
