// The lowest-free allocator at the database layer: batching of concurrent requests for one
// network, isolation of a bad request inside a batch, and races with specific-address leases.
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { openOrm, type MikroORM } from '../../db/orm.ts';
import { Network, type INetwork } from '../../db/entities/index.ts';
import { allocateLease, releaseLease } from '../../db/repositories/leases.ts';
import { parseAddress } from '../../domain/cidr.ts';
import { testConfig } from '../support/harness.ts';
import { HangarError } from '../../domain/errors.ts';
import { unique } from '../support/api-fixture.ts';

let orm: MikroORM;

beforeAll(async () => {
  orm = await openOrm({ url: testConfig().database.url, poolSize: 10 });
});
afterAll(async () => {
  await orm.close();
});

async function network(cidr: string, extra: Partial<INetwork> = {}): Promise<INetwork> {
  const em = orm.em.fork();
  const n = em.create(Network, { id: randomUUID(), name: unique('alloc'), cidr, reserved: [], dnsServers: [], searchDomains: [], ...extra });
  await em.flush();
  return n;
}

const host = (a: string) => a.split('.').map(Number)[3]!;

describe('allocate_leases', () => {
  it('serves concurrent callers lowest-first through shared batches, with no duplicates', async () => {
    const n = await network('10.91.0.0/24', { gateway: '10.91.0.1', reserved: ['10.91.0.3'] });
    const leases = await Promise.all(Array.from({ length: 60 }, () => allocateLease(orm.em.fork(), n, {})));
    const hosts = leases.map((l) => host(l.address)).sort((a, b) => a - b);
    // .0 network, .1 gateway, .3 reserved are skipped; the 60 lowest others are taken exactly once.
    const expected = Array.from({ length: 63 }, (_, i) => i + 2)
      .filter((h) => h !== 3)
      .slice(0, 60);
    expect(hosts).toEqual(expected);
    const [row] = await orm.em.getConnection().execute<{ hint: string }[]>(`select host(alloc_hint) as hint from network where id = ?`, [n.id]);
    expect(row!.hint).toBe(`10.91.0.${expected.at(-1)! + 1}`);
  });

  it('fails only the bad request of a batch (a machine that does not exist)', async () => {
    const n = await network('10.92.0.0/24');
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => allocateLease(orm.em.fork(), n, { machineId: i === 7 ? randomUUID() : null })),
    );
    const ok = results.filter((r) => r.status === 'fulfilled');
    expect(ok).toHaveLength(19);
    expect(results[7]!.status).toBe('rejected');
    const addresses = new Set(ok.map((r) => (r as PromiseFulfilledResult<{ address: string }>).value.address));
    expect(addresses.size).toBe(19);
  });

  it('steps over an address taken by a specific-address lease and refills a released gap', async () => {
    const n = await network('10.93.0.0/29'); // .1–.6 leasable
    const first = await allocateLease(orm.em.fork(), n, {});
    expect(first.address).toBe('10.93.0.1');
    await allocateLease(orm.em.fork(), n, { address: parseAddress('10.93.0.2').value });
    await allocateLease(orm.em.fork(), n, { address: parseAddress('10.93.0.3').value });
    expect((await allocateLease(orm.em.fork(), n, {})).address).toBe('10.93.0.4');
    await releaseLease(orm.em.fork(), n.id, '10.93.0.2');
    expect((await allocateLease(orm.em.fork(), n, {})).address).toBe('10.93.0.2');
    const rest = await Promise.allSettled([1, 2, 3].map(() => allocateLease(orm.em.fork(), n, {})));
    expect(
      rest
        .filter((r) => r.status === 'fulfilled')
        .map((r) => (r as PromiseFulfilledResult<{ address: string }>).value.address)
        .sort(),
    ).toEqual(['10.93.0.5', '10.93.0.6']);
    const failed = rest.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(failed.reason).toBeInstanceOf(HangarError);
    expect((failed.reason as HangarError).code).toBe('network_exhausted');
  });

  it('joins a surrounding transaction instead of batching outside it', async () => {
    const n = await network('10.94.0.0/24');
    await expect(
      orm.em.fork().transactional(async (tx) => {
        const lease = await allocateLease(tx, n, {});
        expect(lease.address).toBe('10.94.0.1');
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    const [row] = await orm.em.getConnection().execute<{ c: string }[]>(`select count(*) as c from ip_lease where network_id = ?`, [n.id]);
    expect(Number(row!.c)).toBe(0);
  });
});
