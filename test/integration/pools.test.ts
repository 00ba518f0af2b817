import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { useApi, unique } from '../support/api-fixture.ts';

const f = useApi({ beforeAll, afterAll });

// Each test works in its own private-range slice so tests never overlap each other's roots.
let slice = 0;
const v4root = () => `10.${100 + (process.pid % 50) + (slice++ % 100)}.0.0/16`;

async function pool(body: Record<string, unknown>) {
  const res = await f.post('/api/v1/pools', { name: unique('pool'), ...body });
  expect(res.status).toBe(201);
  return res.body;
}

async function account(key = `gcp:p${Date.now().toString(36)}${slice++}x`) {
  const res = await f.post('/api/v1/accounts', { key, name: 'Team', tier: 'dev', regions: ['europe-west4'] });
  expect(res.status).toBe(201);
  return res.body;
}

describe('accounts', () => {
  it('creates, searches and filters accounts', async () => {
    const aws = await f.post('/api/v1/accounts', {
      key: `aws:${String(Date.now()).slice(-12).padStart(12, '1')}`,
      name: 'Payments prod',
      platform: 'eks',
      tier: 'prd',
      environment: 'production',
      regions: ['eu-central-1', 'us-east-1'],
    });
    expect(aws.status).toBe(201);
    expect(aws.body).toMatchObject({ provider: 'aws', tier: 'prd', regions: ['eu-central-1', 'us-east-1'] });
    const gcp = await account();
    expect(gcp.provider).toBe('gcp');
    const search = await f.get(`/api/v1/accounts?q=${encodeURIComponent('payments')}`);
    expect(search.body.items.map((a: { id: string }) => a.id)).toContain(aws.body.id);
    const onlyGcp = await f.get('/api/v1/accounts?provider=gcp&page_size=1000');
    expect(onlyGcp.body.items.every((a: { provider: string }) => a.provider === 'gcp')).toBe(true);
    expect(onlyGcp.body.items.map((a: { id: string }) => a.id)).toContain(gcp.id);
  });

  it('rejects wrong account keys and regions with field errors', async () => {
    for (const [key, regions] of [
      ['aws:1234', []],
      ['gcp:Bad_Project', []],
      ['azure:abc', []],
      ['gcp:valid-proj', ['us-east-1']],
    ] as const) {
      const res = await f.post('/api/v1/accounts', { key, name: 'x', regions });
      expect(res.status).toBe(400);
      expect(Object.keys(res.body.fields)[0]).toMatch(/^(key|regions\.0)$/);
    }
    const dup = await account();
    expect((await f.post('/api/v1/accounts', { key: dup.key, name: 'again' })).status).toBe(409);
  });
});

describe('pools', () => {
  it('nests pools, keeps children inside parents and siblings apart', async () => {
    const root = await pool({ cidr: v4root(), tags: { env: 'lab' } });
    const [a, b] = root.cidr.split('.');
    const child = await pool({ cidr: `${a}.${b}.0.0/20`, parent_id: root.id });
    expect(child.parent_id).toBe(root.id);
    const outside = await f.post('/api/v1/pools', { name: unique('pool'), cidr: '192.168.0.0/24', parent_id: root.id });
    expect(outside.status).toBe(422);
    expect(outside.body.error).toBe('outside_parent');
    const overlap = await f.post('/api/v1/pools', { name: unique('pool'), cidr: `${a}.${b}.8.0/21`, parent_id: root.id });
    expect(overlap.status).toBe(409);
    expect(overlap.body.error).toBe('overlap');
    const nonCanonical = await f.post('/api/v1/pools', { name: unique('pool'), cidr: `${a}.${b}.16.1/20`, parent_id: root.id });
    expect(nonCanonical.status).toBe(422);
    expect(nonCanonical.body.detail).toContain(`${a}.${b}.16.0/20`);
    const listed = await f.get(`/api/v1/pools?parent_id=${root.id}`);
    expect(listed.body.items.map((p: { id: string }) => p.id)).toEqual([child.id]);
  });

  it('lets exactly one of 100 concurrent overlapping sibling creates win', async () => {
    const root = await pool({ cidr: v4root() });
    const [a, b] = root.cidr.split('.');
    // All candidates start at the same address with lengths /17../26: every pair overlaps.
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => f.post('/api/v1/pools', { name: unique(`race${i}`), cidr: `${a}.${b}.0.0/${17 + (i % 10)}`, parent_id: root.id })),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    const lost = results.filter((r) => r.status === 409);
    expect(lost).toHaveLength(99);
    for (const r of lost) expect(r.body.error).toBe('overlap');
    const [row] = await f.api.orm.em.getConnection().execute<{ n: string }[]>(`select count(*) as n from pool where parent_id = ?`, [root.id]);
    expect(row!.n).toBe('1');
  });

  it('refuses to delete a pool with children unless cascade=true', async () => {
    const root = await pool({ cidr: v4root() });
    const [a, b] = root.cidr.split('.');
    const child = await pool({ cidr: `${a}.${b}.0.0/20`, parent_id: root.id });
    await f.post(`/api/v1/pools/${child.id}/allocations`, { prefix_length: 24 });
    const refused = await f.del(`/api/v1/pools/${root.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body.error).toBe('has_dependents');
    expect((await f.del(`/api/v1/pools/${root.id}?cascade=true`)).status).toBe(204);
    expect((await f.get(`/api/v1/pools/${child.id}`)).status).toBe(404);
    const [row] = await f.api.orm.em.getConnection().execute<{ n: string }[]>(`select count(*) as n from pool where parent_id = ?`, [child.id]);
    expect(row!.n).toBe('0');
  });
});

describe('allocations', () => {
  it('picks the best fit: the smallest free space that holds the block, lowest address first', async () => {
    const root = await pool({ cidr: v4root() });
    const [a, b] = root.cidr.split('.');
    // Leave a /24 hole at .2.0 and a /23 hole at .4.0; a /24 request must take the /24 hole.
    for (const cidr of [`${a}.${b}.0.0/23`, `${a}.${b}.3.0/24`, `${a}.${b}.6.0/23`, `${a}.${b}.8.0/21`]) {
      expect((await f.post(`/api/v1/pools/${root.id}/allocations`, { cidr })).status).toBe(201);
    }
    const fit = await f.post(`/api/v1/pools/${root.id}/allocations`, { prefix_length: 24, name: 'web' });
    expect(fit.status).toBe(201);
    expect(fit.body).toMatchObject({ cidr: `${a}.${b}.2.0/24`, name: 'web', pool_id: root.id });
    expect(fit.body.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const clash = await f.post(`/api/v1/pools/${root.id}/allocations`, { cidr: `${a}.${b}.2.128/25` });
    expect(clash.status).toBe(409);
    expect(clash.body.error).toBe('overlap');
    const both = await f.post(`/api/v1/pools/${root.id}/allocations`, { cidr: `${a}.${b}.4.0/24`, prefix_length: 24 });
    expect(both.status).toBe(400);
    const tooBig = await f.post(`/api/v1/pools/${root.id}/allocations`, { prefix_length: 8 });
    expect(tooBig.status).toBe(400);
    expect(tooBig.body.fields).toHaveProperty('prefix_length');
  });

  it('serves 200 concurrent /26 requests from a /20: 64 disjoint blocks, then pool_exhausted', async () => {
    const root = await pool({ cidr: v4root() });
    const [a, b] = root.cidr.split('.');
    const p = await pool({ cidr: `${a}.${b}.16.0/20`, parent_id: root.id });
    const results = await Promise.all(Array.from({ length: 200 }, () => f.post(`/api/v1/pools/${p.id}/allocations`, { prefix_length: 26 })));
    const ok = results.filter((r) => r.status === 201);
    const exhausted = results.filter((r) => r.status === 409);
    expect(ok).toHaveLength(64);
    expect(exhausted).toHaveLength(136);
    for (const r of exhausted) expect(r.body.error).toBe('pool_exhausted');
    expect(new Set(ok.map((r) => r.body.cidr)).size).toBe(64);
    const [row] = await f.api.orm.em
      .getConnection()
      .execute<{ n: string }[]>(
        `select count(*) as n from pool a join pool b on a.parent_id = b.parent_id and a.id < b.id and a.cidr && b.cidr where a.parent_id = ?`,
        [p.id],
      );
    expect(row!.n).toBe('0');
  });
});

describe('blocks', () => {
  it('pages a /8 at /30 (4M blocks) and skips used space for status=free', async () => {
    const acct = await account();
    const big = await pool({ cidr: '11.0.0.0/8' });
    try {
      await f.post(`/api/v1/pools/${big.id}/allocations`, { cidr: '11.0.0.0/16', account_id: acct.id, name: 'first' });
      const used = await f.get(`/api/v1/pools/${big.id}/blocks?prefix_length=30&status=used&page_size=2`);
      expect(used.body.items.map((x: { cidr: string }) => x.cidr)).toEqual(['11.0.0.0/30', '11.0.0.4/30']);
      expect(used.body.items[0].owners[0]).toMatchObject({ kind: 'allocation', name: 'first', account_id: acct.id });
      expect(used.body.counts).toEqual({ total: '4194304', used: '16384', free: '4177920' });
      const free = await f.get(`/api/v1/pools/${big.id}/blocks?prefix_length=30&status=free&page_size=3`);
      expect(free.body.items.map((x: { cidr: string }) => x.cidr)).toEqual(['11.1.0.0/30', '11.1.0.4/30', '11.1.0.8/30']);
      const next = await f.get(`/api/v1/pools/${big.id}/blocks?prefix_length=30&status=free&page_size=3&cursor=${free.body.next_cursor}`);
      expect(next.body.items[0].cidr).toBe('11.1.0.12/30');
      const all = await f.get(`/api/v1/pools/${big.id}/blocks?prefix_length=9`);
      expect(all.body.items.map((x: { cidr: string; status: string }) => `${x.cidr}:${x.status}`)).toEqual(['11.0.0.0/9:used', '11.128.0.0/9:free']);
      const bad = await f.get(`/api/v1/pools/${big.id}/blocks?prefix_length=7`);
      expect(bad.status).toBe(400);
    } finally {
      await f.del(`/api/v1/pools/${big.id}?cascade=true`);
    }
  });

  it('pages an IPv6 /32 at /64 and reports BigInt-safe utilization', async () => {
    const v6 = await pool({ cidr: '2001:db8::/32' });
    try {
      const alloc = await f.post(`/api/v1/pools/${v6.id}/allocations`, { prefix_length: 48 });
      expect(alloc.body.cidr).toBe('2001:db8::/48');
      const page = await f.get(`/api/v1/pools/${v6.id}/blocks?prefix_length=64&status=free&page_size=2`);
      expect(page.body.items.map((x: { cidr: string }) => x.cidr)).toEqual(['2001:db8:1::/64', '2001:db8:1:1::/64']);
      expect(page.body.counts.total).toBe('4294967296');
      const util = await f.get(`/api/v1/pools/${v6.id}/utilization`);
      expect(util.body).toMatchObject({ total: (2n ** 96n).toString(), used: (2n ** 80n).toString(), free: (2n ** 96n - 2n ** 80n).toString() });
      expect(util.body.percent_used).toBe(0);
      expect(util.body.by_account).toEqual([{ account_id: null, account_key: null, addresses: (2n ** 80n).toString(), allocations: 1 }]);
    } finally {
      await f.del(`/api/v1/pools/${v6.id}?cascade=true`);
    }
  });

  it('lists allocations across pools by account, pool and containment, as JSON or CSV', async () => {
    const acct = await account();
    const root = await pool({ cidr: v4root() });
    const [a, b] = root.cidr.split('.');
    await f.post(`/api/v1/pools/${root.id}/allocations`, { cidr: `${a}.${b}.1.0/24`, account_id: acct.id, name: 'in' });
    await f.post(`/api/v1/pools/${root.id}/allocations`, { cidr: `${a}.${b}.200.0/24`, account_id: acct.id, name: 'out' });
    const within = await f.get(`/api/v1/blocks?account=${encodeURIComponent(acct.key)}&within=${a}.${b}.0.0/17`);
    expect(within.body.items.map((x: { name: string }) => x.name)).toEqual(['in']);
    expect(within.body.items[0]).toMatchObject({ pool_id: root.id, pool_name: root.name, account_key: acct.key });
    // Containment, not substring: "10.1" must not match 10.10.x.
    const prefixTrap = await f.get(`/api/v1/blocks?pool=${root.id}&within=${a}.${b}.20.0/22`);
    expect(prefixTrap.body.items).toEqual([]);
    const csv = await fetch(`${f.api.url}/api/v1/blocks?account=${acct.id}&format=csv`, { headers: { authorization: `Bearer ${f.viewer}` } });
    expect(csv.headers.get('content-type')).toContain('text/csv');
    const lines = (await csv.text()).trim().split('\r\n');
    expect(lines[0]).toBe('id,cidr,name,pool_id,pool_name,account_id,account_key,created_at,scope_id,scope_name');
    expect(lines.slice(1).map((l) => l.split(',')[2])).toEqual(['in', 'out']);
    const bad = await f.get('/api/v1/blocks?within=10.0.0.1/8');
    expect(bad.status).toBe(422);
  });
});
