// The address management commands of `hangar` as a user runs them (accounts, pools, allocations
// and blocks): the real launcher against a real API; no worker is needed.
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { useCliSuite, tableLine, tableRows } from '../support/hangar-cli.ts';

const sfx = Date.now().toString(36);
const cli = useCliSuite({ beforeAll, afterAll });
const { run: hangar, ok, json, fails, items } = cli;

// Each test starts dozens of CLI processes; on a loaded two-core machine that takes a while.
const SLOW = 300_000;

describe('hangar accounts, pools and blocks', () => {
  // Keys and ranges other suites of the same jest run do not use.
  const aws = String(Date.now()).slice(-12).padStart(12, '7');
  const awsTemp = String(Date.now() + 7)
    .slice(-12)
    .padStart(12, '8');
  const awsPools = String(Date.now() + 13)
    .slice(-12)
    .padStart(12, '9');
  const gcpPools = `pools-${sfx}`;
  const gcp = `proj-${sfx}`;

  it(
    'creates, lists, gets and removes accounts by key or name',
    async () => {
      const a = await json([
        'accounts',
        'create',
        '--key',
        `aws:${aws}`,
        '--name',
        `core-${sfx}`,
        '--platform',
        'core',
        '--tier',
        'prd',
        '--environment',
        'production',
        '--region',
        'us-east-1',
        '--region',
        'eu-west-1',
      ]);
      expect(a).toMatchObject({
        key: `aws:${aws}`,
        provider: 'aws',
        name: `core-${sfx}`,
        platform: 'core',
        tier: 'prd',
        environment: 'production',
        regions: ['us-east-1', 'eu-west-1'],
      });
      const g = await ok(['accounts', 'create', '--key', `gcp:${gcp}`, '--name', `analytics-${sfx}`, '--tier', 'dev']);
      expect(g.stdout).toMatch(new RegExp(`^account gcp:${gcp} \\([0-9a-f-]{36}\\) created: analytics-${sfx}`));

      const [list, onlyGcp, search, byKey, byName, badProvider, badKey, badTier, badAwsId, badRegion] = await Promise.all([
        ok(['accounts', 'list']),
        items<{ key: string; provider: string }>(['accounts', 'list', '--provider', 'gcp']),
        items<{ key: string }>(['accounts', 'list', '--search', `core-${sfx}`]),
        json<{ id: string }>(['accounts', 'get', `aws:${aws}`]),
        ok(['accounts', 'get', `analytics-${sfx}`]),
        fails(2, ['accounts', 'list', '--provider', 'azure']),
        fails(2, ['accounts', 'create', '--key', 'azure:abc', '--name', 'x']),
        fails(2, ['accounts', 'create', '--key', `aws:${awsTemp}`, '--name', 'x', '--tier', 'gold']),
        fails(1, ['accounts', 'create', '--key', 'aws:123', '--name', 'x']),
        fails(1, ['accounts', 'create', '--key', `aws:${awsTemp}`, '--name', 'x', '--region', 'europe-west1']),
      ]);
      expect(tableLine(list.stdout)).toMatch(/^KEY\s+NAME\s+PROVIDER\s+PLATFORM\s+TIER\s+ENVIRONMENT\s+REGIONS\s+ID$/);
      expect(list.stdout).toMatch(new RegExp(`aws:${aws}\\s+core-${sfx}\\s+aws\\s+core\\s+prd\\s+production\\s+us-east-1, eu-west-1\\s+${a.id}`));
      expect(onlyGcp.length).toBeGreaterThan(0);
      expect(onlyGcp.every((x) => x.provider === 'gcp')).toBe(true);
      expect(onlyGcp.map((x) => x.key)).toContain(`gcp:${gcp}`);
      expect(search.map((x) => x.key)).toEqual([`aws:${aws}`]);
      expect(byKey.id).toBe(a.id);
      expect(byName.stdout).toMatch(new RegExp(`key\\s+gcp:${gcp}\\n`));
      expect(badProvider).toContain('--provider must be one of aws, gcp');
      expect(badKey).toContain('--key must be aws:<12-digit account id> or gcp:<project id>');
      expect(badTier).toContain('--tier must be one of dev, stg, sbx, prd, got "gold"');
      expect(badAwsId).toContain('error: validation_failed');
      expect(badAwsId).toContain('key: an AWS account id is exactly 12 digits');
      expect(badRegion).toContain('is not a AWS region name');

      const temp = await json(['accounts', 'create', '--key', `aws:${awsTemp}`, '--name', `temp-${sfx}`]);
      expect((await ok(['accounts', 'rm', `aws:${awsTemp}`, '--yes'])).stdout).toContain(`removed account aws:${awsTemp} (${temp.id})`);
      expect(await fails(1, ['accounts', 'get', `aws:${awsTemp}`])).toContain(`error: not_found: no account with key or name "aws:${awsTemp}"`);
      expect(await fails(1, ['accounts', 'get', temp.id])).toContain('error: not_found');
    },
    SLOW,
  );

  it(
    'builds a pool tree, allocates, pages blocks, reports utilization and exports blocks',
    async () => {
      const root = `corp-${sfx}`;
      const child = `corp-eu-${sfx}`;
      const [badCidr, badTag] = await Promise.all([
        fails(1, ['pools', 'create', '--name', root, '--cidr', '25.0.0.1/8']),
        fails(2, ['pools', 'create', '--name', root, '--cidr', '25.0.0.0/8', '--tag', 'novalue']),
      ]);
      expect(badCidr).toContain('error: invalid_cidr');
      expect(badCidr).toContain('did you mean 25.0.0.0/8?');
      expect(badTag).toContain('--tag must be key=value, got "novalue"');

      const [account, other] = await Promise.all([
        json<{ id: string }>(['accounts', 'create', '--key', `aws:${awsPools}`, '--name', `pools-aws-${sfx}`]),
        json<{ id: string }>(['accounts', 'create', '--key', `gcp:${gcpPools}`, '--name', `pools-gcp-${sfx}`]),
      ]);
      const corp = await json([
        'pools',
        'create',
        '--name',
        root,
        '--cidr',
        '25.0.0.0/8',
        '--account',
        `aws:${awsPools}`,
        '--description',
        'corporate space',
        '--tag',
        'env=prod',
        '--tag',
        'team=net',
      ]);
      expect(corp).toMatchObject({
        name: root,
        cidr: '25.0.0.0/8',
        version: 4,
        parent_id: null,
        account_id: account.id,
        description: 'corporate space',
        tags: { env: 'prod', team: 'net' },
      });
      const eu = await ok(['pools', 'create', '--name', child, '--cidr', '25.1.0.0/16', '--parent', root]);
      expect(eu.stdout).toMatch(new RegExp(`^pool ${child} \\([0-9a-f-]{36}\\) created: 25\\.1\\.0\\.0/16`));
      const euJson = await json(['pools', 'get', child]);
      expect(euJson.parent_id).toBe(corp.id);

      const [list, roots, children, both, getTable, outside] = await Promise.all([
        ok(['pools', 'list']),
        items<{ name: string }>(['pools', 'list', '--roots']),
        items<{ name: string }>(['pools', 'list', '--parent', root]),
        fails(2, ['pools', 'list', '--parent', root, '--roots']),
        ok(['pools', 'get', corp.id]),
        fails(1, ['pools', 'create', '--name', `out-${sfx}`, '--cidr', '192.168.0.0/16', '--parent', root]),
      ]);
      expect(tableLine(list.stdout)).toMatch(/^NAME\s+ID\s+CIDR\s+PARENT_ID\s+ACCOUNT_ID\s+DESCRIPTION\s+TAGS$/);
      expect(list.stdout).toMatch(new RegExp(`${child}\\s+${euJson.id}\\s+25\\.1\\.0\\.0/16\\s+${corp.id}`));
      expect(roots.map((p) => p.name)).toContain(root);
      expect(roots.map((p) => p.name)).not.toContain(child);
      expect(children.map((p) => p.name)).toEqual([child]);
      expect(both).toContain('--parent and --roots exclude each other');
      expect(getTable.stdout).toMatch(/tags\s+env=prod, team=net\n/);
      expect(outside).toContain('error: outside_parent');

      const web = await json(['pools', 'allocate', child, '--prefix-length', '24', '--name', 'web', '--account', `aws:${awsPools}`]);
      expect(web).toMatchObject({ pool_id: euJson.id, cidr: '25.1.0.0/24', name: 'web', account_id: account.id });
      const db = await ok(['pools', 'allocate', child, '--prefix-length', '24', '--name', 'db']);
      expect(db.stdout).toMatch(new RegExp(`^allocated 25\\.1\\.1\\.0/24 from ${child} as db \\(allocation [0-9a-f-]{36}\\)`));
      const pinned = await json(['pools', 'allocate', euJson.id, '--cidr', '25.1.5.0/24', '--account', `pools-gcp-${sfx}`]);
      expect(pinned).toMatchObject({ cidr: '25.1.5.0/24', name: null, account_id: other.id });

      const [overlap, neither, twoWays, badLength, hostBits, tooShort] = await Promise.all([
        fails(1, ['pools', 'allocate', child, '--cidr', '25.1.5.0/25']),
        fails(2, ['pools', 'allocate', child]),
        fails(2, ['pools', 'allocate', child, '--prefix-length', '24', '--cidr', '25.1.9.0/24']),
        fails(2, ['pools', 'allocate', child, '--prefix-length', 'x']),
        fails(1, ['pools', 'allocate', child, '--cidr', '25.1.7.1/24']),
        fails(1, ['pools', 'allocate', child, '--prefix-length', '8']),
      ]);
      expect(overlap).toContain('error: overlap');
      expect(neither).toContain('give exactly one of --prefix-length and --cidr');
      expect(twoWays).toContain('give exactly one of --prefix-length and --cidr');
      expect(badLength).toContain('--prefix-length must be a whole number');
      expect(hostBits).toContain('error: invalid_cidr');
      expect(hostBits).toContain('did you mean 25.1.7.0/24?');
      expect(tooShort).toContain('error: validation_failed');

      // One page, never the whole list, and a cursor to continue.
      const page = await hangar(['pools', 'blocks', child, '--prefix-length', '24', '--page-size', '4']);
      expect(page.code).toBe(0);
      expect(tableLine(page.stdout)).toMatch(/^CIDR\s+STATUS\s+OWNERS$/);
      expect(
        tableRows(page.stdout)
          .slice(0, 4)
          .map((l) => l.split(/\s+/).slice(0, 3).join(' ')),
      ).toEqual(['25.1.0.0/24 used allocation:web', '25.1.1.0/24 used allocation:db', '25.1.2.0/24 free -', '25.1.3.0/24 free -']);
      expect(page.stdout).toContain('/24 blocks: 256 in all, 3 used, 253 free');
      const cursor = /--cursor (\S+)/.exec(page.stderr)?.[1];
      expect(cursor).toEqual(expect.any(String));
      const next = await json<{ items: { cidr: string; status: string; owners: { kind: string; account_id: string | null }[] }[]; next_cursor: string | null }>(
        ['pools', 'blocks', child, '--prefix-length', '24', '--page-size', '2', '--cursor', cursor!],
      );
      expect(next.items.map((b) => `${b.cidr} ${b.status}`)).toEqual(['25.1.4.0/24 free', '25.1.5.0/24 used']);
      expect(next.items[1]!.owners[0]).toMatchObject({ kind: 'allocation', account_id: other.id });

      const [huge, hugeTable, badStatus, badPrefix] = await Promise.all([
        json<{ items: { cidr: string }[]; next_cursor: string | null; counts: { total: string } }>([
          'pools',
          'blocks',
          root,
          '--prefix-length',
          '30',
          '--status',
          'free',
          '--page-size',
          '2',
        ]),
        hangar(['pools', 'blocks', root, '--prefix-length', '30', '--status', 'used']),
        fails(2, ['pools', 'blocks', child, '--prefix-length', '24', '--status', 'taken']),
        fails(1, ['pools', 'blocks', child, '--prefix-length', '12']),
      ]);
      expect(huge.items.map((b) => b.cidr)).toEqual(['25.0.0.0/30', '25.0.0.4/30']);
      expect(huge.next_cursor).toEqual(expect.any(String));
      expect(huge.counts.total).toBe('4194304');
      expect(hugeTable.code).toBe(0);
      expect(hugeTable.stdout).toMatch(/^25\.1\.0\.0\/30\s+used\s+pool:corp-eu-/m);
      expect(tableRows(hugeTable.stdout).length).toBeLessThanOrEqual(101);
      expect(hugeTable.stderr).toContain('more blocks: repeat with --cursor');
      expect(badStatus).toContain('--status must be one of free, used, all');
      expect(badPrefix).toContain('error: validation_failed');

      const util = await ok(['pools', 'utilization', child]);
      expect(util.stdout).toMatch(/total\s+65,536\n/);
      expect(util.stdout).toMatch(/used\s+768 \(1\.17 %\)\n/);
      expect(util.stdout).toMatch(/free\s+64,768\n/);
      expect(util.stdout).toMatch(/\nACCOUNT_KEY\s+ACCOUNT_ID\s+ADDRESSES\s+ALLOCATIONS\n/);
      expect(util.stdout).toMatch(new RegExp(`aws:${awsPools}\\s+${account.id}\\s+256\\s+1`));
      expect(util.stdout).toMatch(new RegExp(`gcp:${gcpPools}\\s+${other.id}\\s+256\\s+1`));
      expect(util.stdout).toMatch(/\n-\s+-\s+256\s+1/);
      const utilJson = await json(['pools', 'utilization', root]);
      expect(utilJson).toMatchObject({ cidr: '25.0.0.0/8', total: '16777216', used: '65536', free: '16711680', percent_used: 0.39 });

      const [blocks, byAccount, within, csv, badWithin, csvAndJson, unknownPool] = await Promise.all([
        ok(['blocks', 'list', '--pool', child]),
        items<{ name: string; account_key: string }>(['blocks', 'list', '--account', `aws:${awsPools}`]),
        items<{ cidr: string }>(['blocks', 'list', '--within', '25.1.0.0/23']),
        ok(['blocks', 'list', '--pool', child, '--csv']),
        fails(1, ['blocks', 'list', '--within', '25.1.0.1/23']),
        fails(2, ['blocks', 'list', '--csv', '--json']),
        fails(1, ['blocks', 'list', '--pool', `nope-${sfx}`]),
      ]);
      expect(tableLine(blocks.stdout)).toMatch(/^CIDR\s+NAME\s+POOL_NAME\s+ACCOUNT_KEY\s+ID\s+CREATED_AT$/);
      expect(tableRows(blocks.stdout).map((l) => l.split(/\s+/).slice(0, 4).join(' '))).toEqual([
        `25.1.0.0/24 web ${child} aws:${awsPools}`,
        `25.1.1.0/24 db ${child} -`,
        `25.1.5.0/24 - ${child} gcp:${gcpPools}`,
      ]);
      expect(byAccount.map((b) => b.name)).toEqual(['web']);
      expect(within.map((b) => b.cidr)).toEqual(['25.1.0.0/24', '25.1.1.0/24']);
      const lines = csv.stdout.split('\r\n');
      expect(lines[0]).toBe('id,cidr,name,pool_id,pool_name,account_id,account_key,created_at,scope_id,scope_name');
      expect(lines).toHaveLength(5);
      expect(lines[1]).toMatch(new RegExp(`^${web.id},25\\.1\\.0\\.0/24,web,${euJson.id},${child},${account.id},aws:${awsPools},\\d{4}-`));
      expect(lines[4]).toBe('');
      expect(badWithin).toContain('error: invalid_cidr');
      expect(badWithin).toContain('did you mean 25.1.0.0/23?');
      expect(csvAndJson).toContain('--csv and --json exclude each other');
      expect(unknownPool).toContain(`error: not_found: no pool named "nope-${sfx}"`);

      expect(await fails(1, ['pools', 'rm', root, '--yes'])).toContain('error: has_dependents');
      expect((await ok(['pools', 'rm', root, '--cascade', '--yes'])).stdout).toContain(`removed pool ${root} (${corp.id})`);
      const [goneChild, goneBlocks] = await Promise.all([fails(1, ['pools', 'get', euJson.id]), items<unknown>(['blocks', 'list', '--within', '25.0.0.0/8'])]);
      expect(goneChild).toContain('error: not_found');
      expect(goneBlocks).toEqual([]);
    },
    SLOW,
  );
});
