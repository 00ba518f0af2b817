// `hangar subnets` as a user runs it: the real launcher against a real API. No worker runs here,
// so creates and deletes are exercised as dry runs; the workflows themselves are covered against
// moto and the GCP simulator in test/integration/subnets.test.ts.
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { findPool } from '../../db/repositories/pools.ts';
import { insertSubnetWithBlock, setSubnetState } from '../../db/repositories/subnets.ts';
import { useCliSuite } from '../support/hangar-cli.ts';

const sfx = Date.now().toString(36);
const cli = useCliSuite({ beforeAll, afterAll });
const { ok, json, fails, items } = cli;

describe('hangar subnets', () => {
  it('plans a create and a delete, lists and gets a subnet, refuses bad flags', async () => {
    const aws = String(Date.now() + 41)
      .slice(-12)
      .padStart(12, '5');
    const account = await json<{ id: string }>(['accounts', 'create', '--key', `aws:${aws}`, '--name', `subnets-${sfx}`]);
    await ok(['scopes', 'create', '--name', `sn-vpc-${sfx}`, '--account', `aws:${aws}`, '--region', 'eu-west-1', '--network', 'vpc-0a1b2c3e']);
    const pool = await json<{ id: string }>(['pools', 'create', '--name', `sn-pool-${sfx}`, '--cidr', '10.140.0.0/20', '--scope', `sn-vpc-${sfx}`]);

    const plan = await json<{ workflow: string; calls: { call: string; args: Record<string, unknown> }[] }>([
      'subnets',
      'create',
      '--pool',
      `sn-pool-${sfx}`,
      '--prefix',
      '24',
      '--tag',
      'team=net',
      '--dry-run',
    ]);
    expect(plan.workflow).toBe('allocateSubnet');
    expect(plan.calls.find((c) => c.call === 'aws.createSubnet')?.args).toMatchObject({
      cidr: '10.140.0.0/24',
      network_id: 'vpc-0a1b2c3e',
      region: 'eu-west-1',
    });
    expect((await ok(['subnets', 'create', '--pool', `sn-pool-${sfx}`, '--cidr', '10.140.9.0/24', '--dry-run'])).stdout).toContain('dry run: allocateSubnet');

    expect(await fails(2, ['subnets', 'create', '--pool', `sn-pool-${sfx}`, '--prefix', '24', '--cidr', '10.140.9.0/24'])).toContain(
      'exactly one of --prefix and --cidr',
    );
    expect(await fails(2, ['subnets', 'create', '--pool', `sn-pool-${sfx}`, '--prefix', '24', '--tag', 'novalue'])).toContain('--tag takes name=value');
    expect(await fails(1, ['subnets', 'create', '--pool', `sn-pool-${sfx}`, '--cidr', '10.150.0.0/24', '--dry-run'])).toContain('outside the pool');

    // A subnet as allocateSubnet leaves it.
    const id = randomUUID();
    const em = cli.api.orm.em.fork();
    await insertSubnetWithBlock(
      em,
      (await findPool(em, pool.id))!,
      { prefixLength: 26 },
      {
        id,
        name: null,
        accountId: account.id,
        region: 'eu-west-1',
        zone: null,
        networkId: 'vpc-0a1b2c3e',
        secondaryRanges: [],
        tags: {},
      },
    );
    await setSubnetState(em, id, { state: 'available', providerId: 'subnet-0fedcba987654321a', zone: 'eu-west-1b' });

    const listed = await items<{ id: string; cidr: string; usable_addresses: string }>(['subnets', 'list', '--account', `aws:${aws}`, '--state', 'available']);
    expect(listed).toEqual([expect.objectContaining({ id, cidr: '10.140.0.0/26', usable_addresses: '59' })]);
    expect(await items(['subnets', 'list', '--account', `aws:${aws}`, '--state', 'failed'])).toEqual([]);
    const table = (await ok(['subnets', 'list', '--account', `aws:${aws}`])).stdout;
    expect(table).toContain('subnet-0fedcba987654321a');
    expect((await ok(['subnets', 'get', id])).stdout).toContain('eu-west-1b');

    const deletePlan = await json<{ workflow: string; calls: { call: string }[] }>(['subnets', 'delete', id, '--dry-run']);
    expect(deletePlan.workflow).toBe('releaseSubnet');
    expect(deletePlan.calls.map((c) => c.call)).toContain('aws.deleteSubnet');
    expect(await fails(1, ['subnets', 'get', randomUUID()])).toContain('not_found');
  });
});
