// Bulk allocation: many leases (count, or a list of requests) or pool blocks in one request, in
// one all-or-nothing transaction, lowest free first, and no duplicates under concurrent requests.
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { useApi, unique } from '../support/api-fixture.ts';

const f = useApi({ beforeAll, afterAll });

async function network(cidr: string, extra: Record<string, unknown> = {}) {
  const res = await f.post('/api/v1/networks', { name: unique('bulk'), cidr, ...extra });
  expect(res.status).toBe(201);
  return res.body as { id: string };
}

async function liveAddresses(networkId: string): Promise<string[]> {
  const out: string[] = [];
  let cursor: string | null = null;
  do {
    const res = await f.get(`/api/v1/networks/${networkId}/leases?page_size=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(res.status).toBe(200);
    out.push(...res.body.items.map((l: { address: string }) => l.address));
    cursor = res.body.next_cursor;
  } while (cursor);
  return out;
}

const ip = (n: number) => `10.77.${Math.floor(n / 256)}.${n % 256}`;

describe('bulk leases', () => {
  it('count: that many addresses, lowest free first, in one answer', async () => {
    const net = await network('10.77.0.0/24', { gateway: '10.77.0.1', reserved: ['10.77.0.5'] });
    // A hole at .3 (taken) shows the walk goes around what is used.
    expect((await f.post(`/api/v1/networks/${net.id}/leases`, { address: '10.77.0.3' })).status).toBe(201);
    const res = await f.post(`/api/v1/networks/${net.id}/leases`, { count: 5, state: 'active' });
    expect(res.status).toBe(201);
    expect(res.body.items.map((l: { address: string }) => l.address)).toEqual([ip(2), ip(4), ip(6), ip(7), ip(8)]);
    expect(res.body.items.every((l: { state: string }) => l.state === 'active')).toBe(true);
  });

  it('a list: addresses by value and lowest free, in request order', async () => {
    const net = await network('10.78.0.0/29');
    const res = await f.post(`/api/v1/networks/${net.id}/leases`, {
      leases: [{}, { address: '10.78.0.1', mac: '52:54:00:aa:bb:cc' }, { state: 'active' }],
    });
    expect(res.status).toBe(201);
    expect(res.body.items.map((l: { address: string }) => l.address)).toEqual(['10.78.0.2', '10.78.0.1', '10.78.0.3']);
    expect(res.body.items[1].mac).toBe('52:54:00:aa:bb:cc');
    expect(res.body.items[2].state).toBe('active');
  });

  it('all or nothing: a request that cannot be met in full allocates nothing (409)', async () => {
    const net = await network('10.79.0.0/29'); // 6 assignable
    expect((await f.post(`/api/v1/networks/${net.id}/leases`, { count: 2 })).status).toBe(201);
    const tooMany = await f.post(`/api/v1/networks/${net.id}/leases`, { count: 5 });
    expect(tooMany.status).toBe(409);
    expect(tooMany.body.error).toBe('network_exhausted');
    expect(await liveAddresses(net.id)).toEqual(['10.79.0.1', '10.79.0.2']);

    // One address in use spoils the whole list, including the lowest-free part before it.
    const clash = await f.post(`/api/v1/networks/${net.id}/leases`, { leases: [{}, {}, { address: '10.79.0.2' }] });
    expect(clash.status).toBe(409);
    expect(clash.body.error).toBe('address_in_use');
    const twice = await f.post(`/api/v1/networks/${net.id}/leases`, { leases: [{ address: '10.79.0.6' }, { address: '10.79.0.6' }] });
    expect(twice.status).toBe(409);
    expect(await liveAddresses(net.id)).toEqual(['10.79.0.1', '10.79.0.2']);

    // Exactly what is left still fits.
    const rest = await f.post(`/api/v1/networks/${net.id}/leases`, { count: 4 });
    expect(rest.status).toBe(201);
    expect(rest.body.items.map((l: { address: string }) => l.address)).toEqual(['10.79.0.3', '10.79.0.4', '10.79.0.5', '10.79.0.6']);
  });

  it('works in an IPv6 /64 (a range wider than 64-bit arithmetic) and after released addresses', async () => {
    const net = await network('fd00:77::/64');
    const first = await f.post(`/api/v1/networks/${net.id}/leases`, { count: 4 });
    expect(first.status).toBe(201);
    expect(first.body.items.map((l: { address: string }) => l.address)).toEqual(['fd00:77::1', 'fd00:77::2', 'fd00:77::3', 'fd00:77::4']);
    expect((await f.del(`/api/v1/networks/${net.id}/leases/fd00:77::2`)).status).toBe(200);
    // The released address is the lowest free one again.
    const again = await f.post(`/api/v1/networks/${net.id}/leases`, { count: 2 });
    expect(again.body.items.map((l: { address: string }) => l.address)).toEqual(['fd00:77::2', 'fd00:77::5']);
  });

  it('refuses bad bulk input with a 4xx naming the field', async () => {
    const net = await network('10.80.0.0/28');
    for (const body of [{ count: 0 }, { count: 1025 }, { count: 1.5 }, { leases: [] }, { count: 2, address: '10.80.0.2' }]) {
      const res = await f.post(`/api/v1/networks/${net.id}/leases`, body);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('validation_failed');
    }
    const outside = await f.post(`/api/v1/networks/${net.id}/leases`, { leases: [{}, { address: '10.99.0.1' }] });
    expect(outside.status).toBe(422);
    expect(outside.body.fields).toEqual({ 'leases.1.address': 'outside the network' });
    const ghost = await f.post(`/api/v1/networks/${net.id}/leases`, { leases: [{ machine_id: '00000000-0000-4000-8000-000000000000' }] });
    expect(ghost.status).toBe(422);
    expect(await liveAddresses(net.id)).toEqual([]);
  });

  it('50 concurrent bulk requests on one network: every address once, each request all or nothing', async () => {
    const net = await network('10.81.0.0/20'); // 4,094 assignable
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => f.post(`/api/v1/networks/${net.id}/leases`, { count: 40 + (i % 5) * 20 })));
    const asked = Array.from({ length: 50 }, (_, i) => 40 + (i % 5) * 20).reduce((a, b) => a + b, 0);
    expect(answers.map((a) => a.status)).toEqual(Array(50).fill(201));
    const got = answers.flatMap((a) => a.body.items.map((l: { address: string }) => l.address));
    expect(got).toHaveLength(asked);
    expect(new Set(got).size).toBe(asked);
    const live = await liveAddresses(net.id);
    expect(live).toHaveLength(asked);
    expect(new Set(live).size).toBe(asked);
    // Lowest free first overall: the network is filled from its start without holes.
    const toNum = (a: string) => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
    expect(Math.max(...live.map(toNum)) - toNum('10.81.0.1') + 1).toBe(asked);
  });
});

describe('bulk pool allocations', () => {
  it('count blocks of one length, best fit, all or nothing', async () => {
    const root = await f.post('/api/v1/pools', { name: unique('bulkpool'), cidr: `10.250.${process.pid % 250}.0/24` });
    expect(root.status).toBe(201);
    const res = await f.post(`/api/v1/pools/${root.body.id}/allocations`, { prefix_length: 26, count: 3, name: 'edge' });
    expect(res.status).toBe(201);
    const base = root.body.cidr.split('/')[0].split('.').slice(0, 3).join('.');
    expect(res.body.items.map((a: { cidr: string }) => a.cidr)).toEqual([`${base}.0/26`, `${base}.64/26`, `${base}.128/26`]);
    const tooMany = await f.post(`/api/v1/pools/${root.body.id}/allocations`, { prefix_length: 26, count: 2 });
    expect(tooMany.status).toBe(409);
    expect(tooMany.body.error).toBe('pool_exhausted');
    const listed = await f.get(`/api/v1/pools/${root.body.id}/allocations`);
    expect(listed.body.items).toHaveLength(3);
    const withCidr = await f.post(`/api/v1/pools/${root.body.id}/allocations`, { cidr: `${base}.192/26`, count: 2 });
    expect(withCidr.status).toBe(400);
    const last = await f.post(`/api/v1/pools/${root.body.id}/allocations`, { prefix_length: 26, count: 1 });
    expect(last.status).toBe(201);
    expect(last.body.items.map((a: { cidr: string }) => a.cidr)).toEqual([`${base}.192/26`]);
  });
});
