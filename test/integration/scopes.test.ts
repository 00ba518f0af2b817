// Address scopes (VRFs) through the real API and PostgreSQL: the same CIDR in two scopes, the
// exclusion constraint per scope under concurrency, children in their parent's scope, deletion
// rules, cloud bindings, and scope-aware blocks, lookups and analytics.
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { useApi, unique } from '../support/api-fixture.ts';

const f = useApi({ beforeAll, afterAll });
const GLOBAL = '00000000-0000-4000-8000-000000000000';

let n = 0;
const awsKey = () => `aws:${(Date.now() * 100 + (n++ % 100)).toString().slice(-12).padStart(12, '7')}`;

async function scope(body: Record<string, unknown> = {}) {
  const res = await f.post('/api/v1/scopes', { name: unique('vrf'), ...body });
  expect(res.status).toBe(201);
  return res.body;
}

async function pool(body: Record<string, unknown>) {
  const res = await f.post('/api/v1/pools', { name: unique('pool'), ...body });
  expect(res.status).toBe(201);
  return res.body;
}

async function account(key = awsKey()) {
  const res = await f.post('/api/v1/accounts', { key, name: unique('acct') });
  expect(res.status).toBe(201);
  return res.body;
}

describe('address scopes', () => {
  it('accepts the same CIDR in two scopes; within each, exactly one of 50 parallel overlapping creates wins', async () => {
    const [a, b] = [await scope(), await scope()];
    // Both default VPCs: 172.31.0.0/16 twice, once per scope.
    const vpcA = await pool({ cidr: '172.31.0.0/16', scope: a.name });
    const vpcB = await pool({ cidr: '172.31.0.0/16', scope: b.id });
    expect([vpcA.scope, vpcA.scope_id, vpcB.scope, vpcB.scope_id]).toEqual([a.name, a.id, b.name, b.id]);
    const again = await f.post('/api/v1/pools', { name: unique('pool'), cidr: '172.31.128.0/17', scope: a.name });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ error: 'overlap', fields: { cidr: 'overlaps a sibling' } });

    // 100 parallel top-level creates, 50 per scope, every pair within a scope overlapping.
    const [x, y] = [await scope(), await scope()];
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        f.post('/api/v1/pools', { name: unique(`race${i}`), cidr: `10.0.0.0/${8 + (i % 16)}`, scope: i % 2 ? x.name : y.name }),
      ),
    );
    for (const s of [x, y]) {
      const mine = results.filter((_r, i) => (i % 2 ? x : y) === s);
      expect(mine.filter((r) => r.status === 201)).toHaveLength(1);
      const lost = mine.filter((r) => r.status === 409);
      expect(lost).toHaveLength(49);
      for (const r of lost) expect(r.body.error).toBe('overlap');
      const listed = await f.get(`/api/v1/pools?scope=${s.name}`);
      expect(listed.body.items).toHaveLength(1);
      expect(listed.body.items[0].scope_id).toBe(s.id);
    }
  });

  it('keeps siblings apart per scope under 100 parallel child creates', async () => {
    const s = await scope();
    const root = await pool({ cidr: '10.0.0.0/8', scope: s.id });
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => f.post('/api/v1/pools', { name: unique(`child${i}`), cidr: `10.0.0.0/${9 + (i % 15)}`, parent_id: root.id })),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 409 && r.body.error === 'overlap')).toHaveLength(99);
    expect(results.find((r) => r.status === 201)!.body.scope_id).toBe(s.id);
  });

  it('puts a child in its parent scope and refuses another one, in the API and in the database', async () => {
    const [s, other] = [await scope(), await scope()];
    const root = await pool({ cidr: '192.168.0.0/16', scope: s.name });
    const inherited = await pool({ cidr: '192.168.0.0/20', parent_id: root.id });
    expect(inherited.scope_id).toBe(s.id);
    const named = await pool({ cidr: '192.168.16.0/20', parent_id: root.id, scope: s.name });
    expect(named.scope).toBe(s.name);
    const mismatch = await f.post('/api/v1/pools', { name: unique('pool'), cidr: '192.168.32.0/20', parent_id: root.id, scope: other.name });
    expect(mismatch.status).toBe(422);
    expect(mismatch.body.error).toBe('scope_mismatch');
    expect(mismatch.body.fields.scope).toContain(s.name);
    const unknown = await f.post('/api/v1/pools', { name: unique('pool'), cidr: '192.168.48.0/20', scope: 'no-such-scope' });
    expect(unknown.status).toBe(422);
    expect(unknown.body.fields).toEqual({ scope: 'not found' });
    // Allocations follow their pool's scope.
    const block = await f.post(`/api/v1/pools/${inherited.id}/allocations`, { prefix_length: 24 });
    expect(block.body.scope_id).toBe(s.id);
    // The trigger holds the rule for every writer, not only the API.
    const sql = f.api.orm.em.getConnection();
    await expect(
      sql.execute(
        `insert into pool (id, kind, name, cidr, parent_id, scope_id, created_at, updated_at) values (gen_random_uuid(), 'pool', ?, '192.168.64.0/20', ?, ?, now(), now())`,
        [unique('raw'), root.id, other.id],
      ),
    ).rejects.toThrow(/pool_scope_mismatch/);
    await expect(sql.execute(`update pool set scope_id = ? where id = ?`, [other.id, root.id])).rejects.toThrow(/pool_scope_immutable/);
    // Scope is fixed at creation: a patch naming one is refused as an unknown field.
    expect((await f.patch(`/api/v1/pools/${root.id}`, { scope: other.name })).status).toBe(400);
  });

  it('lists, gets, renames and deletes scopes: 409 while pools use one, the global scope stays', async () => {
    const s = await scope({ description: 'lab' });
    expect(s).toMatchObject({ default: false, pools: 0, description: 'lab', account_id: null, network_id: null });
    expect((await f.get(`/api/v1/scopes/${s.name}`)).body.id).toBe(s.id);
    const renamed = await f.patch(`/api/v1/scopes/${s.id}`, { name: `${s.name}-x`, description: null });
    expect(renamed.body).toMatchObject({ name: `${s.name}-x`, description: null });
    const dup = await f.post('/api/v1/scopes', { name: `${s.name}-x` });
    expect(dup.status).toBe(409);
    const p = await pool({ cidr: '100.64.0.0/16', scope: s.id });
    expect((await f.get(`/api/v1/scopes/${s.id}`)).body.pools).toBe(1);
    const busy = await f.del(`/api/v1/scopes/${s.id}`);
    expect(busy.status).toBe(409);
    expect(busy.body.error).toBe('has_dependents');
    expect((await f.del(`/api/v1/pools/${p.id}`)).status).toBe(204);
    expect((await f.del(`/api/v1/scopes/${s.id}`)).status).toBe(204);
    expect((await f.get(`/api/v1/scopes/${s.id}`)).status).toBe(404);

    const global = await f.get('/api/v1/scopes/global');
    expect(global.body).toMatchObject({ id: GLOBAL, name: 'global', default: true });
    expect((await f.del('/api/v1/scopes/global')).body.error).toBe('invalid_state');
    expect((await f.patch('/api/v1/scopes/global', { name: 'renamed' })).status).toBe(409);
    expect((await f.patch('/api/v1/scopes/global', { description: 'everything else' })).body.description).toBe('everything else');
    const listed = await f.get('/api/v1/scopes?page_size=1000');
    expect(listed.body.items.map((x: { id: string }) => x.id)).toContain(GLOBAL);
    // Pools without a scope land in the global one, as before scopes existed.
    const plain = await pool({ cidr: `10.${200 + (process.pid % 50)}.0.0/16` });
    expect([plain.scope_id, plain.scope]).toEqual([GLOBAL, 'global']);
    await f.del(`/api/v1/pools/${plain.id}`);
  });

  it('never leaves a pool in a deleted scope when a delete races 30 creates', async () => {
    const s = await scope();
    const results = await Promise.all([
      ...Array.from({ length: 30 }, (_, i) => f.post('/api/v1/pools', { name: unique('racer'), cidr: `10.${i}.0.0/16`, scope: s.id })),
      f.del(`/api/v1/scopes/${s.id}`),
    ]);
    const deleted = results.at(-1)!;
    const creates = results.slice(0, -1);
    // Each create either landed before the delete's lock (so the delete is refused) or found the scope gone.
    for (const r of creates) expect([201, 422]).toContain(r.status);
    for (const r of creates.filter((c) => c.status === 422)) expect(r.body.fields).toEqual({ scope: 'not found' });
    const landed = creates.filter((c) => c.status === 201).length;
    expect(deleted.status).toBe(landed ? 409 : 204);
    const [row] = await f.api.orm.em.getConnection().execute<{ n: string }[]>(`select count(*) as n from pool where scope_id = ?`, [s.id]);
    expect(Number(row!.n)).toBe(landed);
  });

  it('binds a scope to an account or one of its networks, checked per cloud', async () => {
    const acct = await account();
    const vpc = await scope({ account_id: acct.id, region: 'eu-central-1', network_id: 'vpc-0a1b2c3d' });
    expect(vpc).toMatchObject({ account_id: acct.id, account_key: acct.key, region: 'eu-central-1', network_id: 'vpc-0a1b2c3d' });
    const sameVpc = await f.post('/api/v1/scopes', { name: unique('vrf'), account_id: acct.id, region: 'eu-central-1', network_id: 'vpc-0a1b2c3d' });
    expect(sameVpc.status).toBe(409);
    expect(sameVpc.body.fields).toEqual({ network_id: 'already has a scope' });
    for (const [body, field] of [
      [{ network_id: 'vpc-0a1b2c3d' }, 'network_id'],
      [{ account_id: acct.id, network_id: 'vpc-0a1b2c3d' }, 'region'],
      [{ account_id: acct.id, region: 'eu-central-1', network_id: 'default' }, 'network_id'],
      [{ account_id: acct.id, region: 'europe-west4', network_id: 'vpc-0a1b2c3e' }, 'region'],
    ] as const) {
      const res = await f.post('/api/v1/scopes', { name: unique('vrf'), ...body });
      expect(res.status).toBe(422);
      expect(res.body.fields).toHaveProperty(field);
    }
    const gcp = await account(`gcp:scopes-${Date.now().toString(36)}`);
    const gcpNet = await scope({ account_id: gcp.id, network_id: 'default' });
    expect(gcpNet.region).toBeNull();
    expect(
      (await f.post('/api/v1/scopes', { name: unique('vrf'), account_id: gcp.id, region: 'europe-west4', network_id: 'other' })).body.fields,
    ).toHaveProperty('region');
    expect((await f.get(`/api/v1/scopes?account_id=${acct.id}`)).body.items.map((x: { id: string }) => x.id)).toEqual([vpc.id]);
    // The account keeps its bound scope: deleting it is refused until the scope goes.
    const refused = await f.del(`/api/v1/accounts/${acct.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body.error).toBe('has_dependents');
    // A scope is rebound only while empty.
    const p = await pool({ cidr: '172.31.0.0/16', scope: vpc.id });
    const rebind = await f.patch(`/api/v1/scopes/${vpc.id}`, { network_id: 'vpc-0a1b2c3e' });
    expect(rebind.status).toBe(409);
    await f.del(`/api/v1/pools/${p.id}`);
    expect((await f.patch(`/api/v1/scopes/${vpc.id}`, { account_id: null, region: null, network_id: null })).body.account_id).toBeNull();
    expect((await f.del(`/api/v1/accounts/${acct.id}`)).status).toBe(204);
  });

  it('filters blocks, looks up holders and sums analytics per scope', async () => {
    const acct = await account();
    const [a, b] = [await scope(), await scope()];
    const rootA = await pool({ cidr: '172.31.0.0/16', scope: a.name });
    const rootB = await pool({ cidr: '172.31.0.0/16', scope: b.name });
    const childB = await pool({ cidr: '172.31.32.0/19', parent_id: rootB.id });
    const allocA = (await f.post(`/api/v1/pools/${rootA.id}/allocations`, { cidr: '172.31.0.0/20', name: 'a-web', account_id: acct.id })).body;
    await f.post(`/api/v1/pools/${rootB.id}/allocations`, { cidr: '172.31.16.0/20', name: 'b-web', account_id: acct.id });
    await f.post(`/api/v1/pools/${childB.id}/allocations`, { cidr: '172.31.32.0/24', name: 'b-db' });

    const blocksA = await f.get(`/api/v1/blocks?scope=${a.name}`);
    expect(blocksA.body.items.map((x: { name: string; scope_id: string; scope_name: string }) => [x.name, x.scope_id, x.scope_name])).toEqual([
      ['a-web', a.id, a.name],
    ]);
    const blocksB = await f.get(`/api/v1/blocks?scope=${b.id}&within=172.31.0.0/16`);
    expect(blocksB.body.items.map((x: { name: string }) => x.name)).toEqual(['b-web', 'b-db']);
    const csv = await fetch(`${f.api.url}/api/v1/blocks?scope=${b.name}&format=csv`, { headers: { authorization: `Bearer ${f.viewer}` } });
    const lines = (await csv.text()).trim().split('\r\n');
    expect(lines.slice(1).map((l) => l.split(',').slice(-1)[0])).toEqual([b.name, b.name]);

    // Which pool holds 172.31.1.5? In A an allocation of the root; in B only the root.
    const inA = await f.get(`/api/v1/scopes/${a.name}/lookup?cidr=172.31.1.5`);
    expect(inA.body).toMatchObject({ scope_id: a.id, cidr: '172.31.1.5/32', allocation: { id: allocA.id, pool_id: rootA.id } });
    expect(inA.body.pools.map((p: { id: string }) => p.id)).toEqual([rootA.id]);
    const inB = await f.get(`/api/v1/scopes/${b.id}/lookup?cidr=172.31.32.128/25`);
    expect(inB.body.pools.map((p: { id: string }) => p.id)).toEqual([rootB.id, childB.id]);
    expect(inB.body.allocation.name).toBe('b-db');
    const nowhere = await f.get(`/api/v1/scopes/${b.id}/lookup?cidr=10.9.9.0/24`);
    expect(nowhere.body).toMatchObject({ pools: [], allocation: null });
    expect((await f.get(`/api/v1/scopes/${b.id}/lookup?cidr=172.31.1.5/24`)).status).toBe(422);

    const byScope = await f.get(`/api/v1/analytics/utilization?group_by=scope&scope=${a.name}`);
    expect(byScope.body).toEqual({
      group_by: 'scope',
      items: [{ id: a.id, name: a.name, scope_id: null, version: 4, pools: 1, total: '65536', allocated: '4096', allocations: 1, percent_used: 6.25 }],
    });
    const byPool = await f.get(`/api/v1/analytics/utilization?group_by=pool&scope=${b.id}`);
    expect(byPool.body.items).toEqual([
      { id: rootB.id, name: rootB.name, scope_id: b.id, version: 4, pools: 1, total: '65536', allocated: '4352', allocations: 2, percent_used: 6.64 },
    ]);
    const byAccount = await f.get(`/api/v1/analytics/utilization?group_by=account&scope=${b.name}`);
    expect(byAccount.body.items).toEqual([
      { id: acct.id, name: acct.key, scope_id: null, version: 4, pools: 0, total: null, allocated: '4096', allocations: 1, percent_used: null },
      { id: null, name: null, scope_id: null, version: 4, pools: 0, total: null, allocated: '256', allocations: 1, percent_used: null },
    ]);
    const v6 = await f.get(`/api/v1/analytics/utilization?scope=${a.name}&version=6`);
    expect(v6.body.items).toEqual([]);
    // Every scope appears when unfiltered, each with its own sums.
    const all = await f.get('/api/v1/analytics/utilization?group_by=scope&version=4');
    const mine = all.body.items.filter((i: { id: string }) => i.id === a.id || i.id === b.id);
    expect(mine.map((i: { allocated: string }) => i.allocated).sort()).toEqual(['4096', '4352']);
  });
});
