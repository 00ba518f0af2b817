// `hangar scopes` and `--scope` on the pool commands as a user runs them: the real launcher
// against a real API (no worker needed).
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { useCliSuite, tableLine, tableRows } from '../support/hangar-cli.ts';

const sfx = Date.now().toString(36);
const cli = useCliSuite({ beforeAll, afterAll });
const { ok, json, fails, items } = cli;

describe('hangar scopes', () => {
  it('creates scopes, holds the same CIDR in two of them, looks up, sums and removes', async () => {
    const aws = String(Date.now() + 29)
      .slice(-12)
      .padStart(12, '6');
    await ok(['accounts', 'create', '--key', `aws:${aws}`, '--name', `vrf-owner-${sfx}`]);
    const created = await ok([
      'scopes',
      'create',
      '--name',
      `vpc-a-${sfx}`,
      '--account',
      `aws:${aws}`,
      '--region',
      'eu-central-1',
      '--network',
      'vpc-0a1b2c3d',
    ]);
    expect(created.stdout).toMatch(new RegExp(`^address scope vpc-a-${sfx} \\([0-9a-f-]{36}\\) created`));
    const b = await json<{ id: string; name: string; default: boolean }>(['scopes', 'create', '--name', `vpc-b-${sfx}`, '--description', 'second VPC']);
    expect(b.default).toBe(false);
    const badBinding = await fails(1, ['scopes', 'create', '--name', `vpc-c-${sfx}`, '--account', `aws:${aws}`, '--network', 'vpc-0a1b2c3d']);
    expect(badBinding).toContain('error: unprocessable');
    expect(badBinding).toContain('region');

    const [pa, pb] = await Promise.all([
      json<{ scope: string; cidr: string }>(['pools', 'create', '--name', `default-a-${sfx}`, '--cidr', '172.31.0.0/16', '--scope', `vpc-a-${sfx}`]),
      json<{ scope: string; cidr: string }>(['pools', 'create', '--name', `default-b-${sfx}`, '--cidr', '172.31.0.0/16', '--scope', b.id]),
    ]);
    expect([pa.scope, pb.scope]).toEqual([`vpc-a-${sfx}`, `vpc-b-${sfx}`]);
    const overlap = await fails(1, ['pools', 'create', '--name', `more-a-${sfx}`, '--cidr', '172.31.0.0/17', '--scope', `vpc-a-${sfx}`]);
    expect(overlap).toContain('error: overlap');
    const mismatch = await fails(1, [
      'pools',
      'create',
      '--name',
      `child-${sfx}`,
      '--cidr',
      '172.31.0.0/20',
      '--parent',
      `default-a-${sfx}`,
      '--scope',
      b.name,
    ]);
    expect(mismatch).toContain('error: scope_mismatch');
    await ok(['pools', 'allocate', `default-a-${sfx}`, '--cidr', '172.31.0.0/20', '--name', `web-${sfx}`]);

    const [listed, onlyA, blocksA, get, lookup, usage] = await Promise.all([
      ok(['scopes', 'list']),
      items<{ name: string }>(['pools', 'list', '--scope', `vpc-a-${sfx}`]),
      items<{ name: string; scope_name: string }>(['blocks', 'list', '--scope', `vpc-a-${sfx}`]),
      ok(['scopes', 'get', `vpc-a-${sfx}`]),
      ok(['scopes', 'lookup', `vpc-a-${sfx}`, '172.31.1.5']),
      json<{ items: { name: string; total: string; allocated: string; percent_used: number }[] }>([
        'analytics',
        'utilization',
        '--scope',
        `vpc-a-${sfx}`,
        '--ip-version',
        '4',
      ]),
    ]);
    expect(tableLine(listed.stdout)).toMatch(/^NAME\s+ID\s+POOLS\s+ACCOUNT_KEY\s+REGION\s+NETWORK_ID\s+DESCRIPTION$/);
    expect(tableRows(listed.stdout).some((l) => l.startsWith('global '))).toBe(true);
    expect(tableRows(listed.stdout).find((l) => l.startsWith(`vpc-a-${sfx}`))).toMatch(new RegExp(`\\s1\\s+aws:${aws}\\s+eu-central-1\\s+vpc-0a1b2c3d`));
    expect(onlyA.map((p) => p.name)).toEqual([`default-a-${sfx}`]);
    expect(blocksA.map((x) => [x.name, x.scope_name])).toEqual([[`web-${sfx}`, `vpc-a-${sfx}`]]);
    expect(get.stdout).toMatch(/network_id\s+vpc-0a1b2c3d/);
    expect(tableRows(lookup.stdout).map((l) => l.split(/\s+/).slice(0, 3).join(' '))).toEqual([
      `pool default-a-${sfx} 172.31.0.0/16`,
      `allocation web-${sfx} 172.31.0.0/20`,
    ]);
    expect(usage.items).toEqual([expect.objectContaining({ name: `vpc-a-${sfx}`, total: '65536', allocated: '4096', percent_used: 6.25 })]);
    expect(await fails(2, ['analytics', 'utilization', '--group-by', 'team'])).toContain('--group-by must be one of scope, pool, account');

    expect(await fails(1, ['scopes', 'rm', `vpc-a-${sfx}`, '--yes'])).toContain('error: has_dependents');
    expect(await fails(1, ['scopes', 'rm', 'global', '--yes'])).toContain('error: invalid_state');
    await ok(['pools', 'rm', `default-a-${sfx}`, '--cascade', '--yes']);
    expect((await ok(['scopes', 'rm', `vpc-a-${sfx}`, '--yes'])).stdout).toContain(`removed address scope vpc-a-${sfx}`);
    expect(await fails(1, ['scopes', 'get', `vpc-a-${sfx}`])).toContain('error: not_found');
  }, 300_000);
});
