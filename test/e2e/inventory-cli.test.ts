// The inventory commands of `hangar` as a user runs them: the real launcher against a real API
// (no worker: machines stay in `pending`, which is all the links and the seed URL need).
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createToken, startApi, testConfig, type TestApi } from '../support/harness.ts';
import { hangarCli, tableLine, tableRows } from '../support/hangar-cli.ts';

const sfx = Date.now().toString(36);
let api: TestApi;
let env: Record<string, string>;
const { run: hangar, ok, json, fails } = hangarCli(() => env);
let tmp: string;

// Each test starts dozens of CLI processes; on a loaded two-core machine that takes a while.
const SLOW = 300_000;


function keygen(name: string, comment: string): { path: string; line: string; fingerprint: string } {
  const path = join(tmp, name);
  execFileSync('ssh-keygen', ['-q', '-N', '', '-t', 'ed25519', '-C', comment, '-f', path]);
  const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${path}.pub`], { encoding: 'utf8' }).split(' ')[1]!;
  return { path: `${path}.pub`, line: readFileSync(`${path}.pub`, 'utf8').trim(), fingerprint };
}

beforeAll(async () => {
  api = await startApi(testConfig());
  tmp = mkdtempSync(join(tmpdir(), 'hangar-inv-cli-'));
  // Every command is a fresh Node process; a compile cache shared by them saves about a quarter of each start.
  env = { HANGAR_API_URL: api.url, HANGAR_TOKEN: await createToken(api.orm, 'operator'), HANGAR_LOG_LEVEL: 'silent', NODE_COMPILE_CACHE: join(tmp, 'node-cache') };
});

afterAll(async () => {
  await api?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('hangar keys', () => {
  it('adds from a file or a flag, lists, gets and removes SSH keys by name or id', async () => {
    const a = keygen('a', `alice@${sfx}`);
    const b = keygen('b', `bob@${sfx}`);
    const added = await ok(['keys', 'add', '--name', `alice-${sfx}`, '--file', a.path]);
    expect(added.stdout).toMatch(new RegExp(`^ssh key alice-${sfx} \\([0-9a-f-]{36}\\) added: ssh-ed25519 256 ${a.fingerprint.replace(/[+/]/g, '\\$&')}`));
    const bob = await json(['keys', 'add', '--name', `bob-${sfx}`, '--public-key', b.line]);
    expect(bob).toMatchObject({ name: `bob-${sfx}`, type: 'ssh-ed25519', bits: 256, fingerprint: b.fingerprint, comment: `bob@${sfx}` });

    const [list, all, page1, dup, both, neither, missingFile] = await Promise.all([
      ok(['keys', 'list']),
      json<{ name: string; id: string }[]>(['keys', 'list']),
      json<{ items: { name: string }[]; next_cursor: string | null }>(['keys', 'list', '--page-size', '1']),
      fails(1, ['keys', 'add', '--name', `again-${sfx}`, '--file', a.path]),
      fails(2, ['keys', 'add', '--name', `x-${sfx}`, '--file', a.path, '--public-key', b.line]),
      fails(2, ['keys', 'add', '--name', `x-${sfx}`]),
      fails(2, ['keys', 'add', '--name', `x-${sfx}`, '--file', join(tmp, 'nope.pub')]),
    ]);
    expect(tableLine(list.stdout)).toMatch(/^NAME\s+ID\s+TYPE\s+BITS\s+FINGERPRINT\s+COMMENT$/);
    expect(list.stdout).toContain(`alice-${sfx}`);
    expect(list.stdout).toContain(a.fingerprint);
    expect(all.map((k) => k.name)).toEqual(expect.arrayContaining([`alice-${sfx}`, `bob-${sfx}`]));
    expect(page1.items).toHaveLength(1);
    expect(page1.next_cursor).toEqual(expect.any(String));
    const page2 = await json<{ items: { name: string }[] }>(['keys', 'list', '--page-size', '1', '--cursor', page1.next_cursor!]);
    expect(page2.items[0]!.name > page1.items[0]!.name).toBe(true);
    expect(dup).toContain('error: already_exists');
    expect(dup).toContain('public_key: already exists');
    expect(both).toContain('give exactly one of --public-key and --file');
    expect(neither).toContain('give exactly one of --public-key and --file');
    expect(missingFile).toContain('ENOENT');

    const byName = await json<{ id: string; public_key: string }>(['keys', 'get', `bob-${sfx}`]);
    expect(byName.id).toBe(bob.id);
    expect(byName.public_key).toBe(b.line);
    const byId = await ok(['keys', 'get', bob.id]);
    expect(tableLine(byId.stdout)).toMatch(/^FIELD\s+VALUE$/);
    expect(byId.stdout).toMatch(new RegExp(`fingerprint\\s+${b.fingerprint.replace(/[+/]/g, '\\$&')}`));

    expect((await ok(['keys', 'rm', `bob-${sfx}`])).stdout).toContain(`removed ssh key bob-${sfx} (${bob.id})`);
    expect(await fails(1, ['keys', 'get', `bob-${sfx}`])).toContain(`error: not_found: no SSH key named "bob-${sfx}"`);
    expect(await fails(1, ['keys', 'get', bob.id])).toContain('error: not_found');
  }, SLOW);
});

describe('hangar networks and leases', () => {
  it('creates, shows and updates a network, with the canonical CIDR on a bad one', async () => {
    const [badCidr, badVlan, noCidr] = await Promise.all([
      fails(1, ['networks', 'create', '--name', `bad-${sfx}`, '--cidr', '10.0.0.1/24']),
      fails(2, ['networks', 'create', '--name', `bad-${sfx}`, '--cidr', '10.0.0.0/24', '--vlan', 'ten']),
      fails(2, ['networks', 'create', '--name', `bad-${sfx}`]),
    ]);
    expect(badCidr).toContain('error: invalid_cidr');
    expect(badCidr).toContain('did you mean 10.0.0.0/24?');
    expect(badVlan).toContain('--vlan must be a whole number, got "ten"');
    expect(noCidr).toContain("required option '--cidr <cidr>' not specified");

    const net = await json(['networks', 'create', '--name', `lab-${sfx}`, '--cidr', '192.168.50.0/29', '--gateway', '192.168.50.1',
      '--dns', '1.1.1.1', '--dns', '9.9.9.9', '--search', 'lab.example', '--vlan', '42', '--bridge', 'vmbr0', '--reserved', '192.168.50.2']);
    expect(net).toMatchObject({
      name: `lab-${sfx}`, cidr: '192.168.50.0/29', version: 4, gateway: '192.168.50.1', dns_servers: ['1.1.1.1', '9.9.9.9'],
      search_domains: ['lab.example'], vlan: 42, bridge: 'vmbr0', reserved: ['192.168.50.2'],
    });

    const [list, listJson, get, getJson, dupe] = await Promise.all([
      ok(['networks', 'list']),
      json<{ id: string }[]>(['networks', 'list']),
      ok(['networks', 'get', `lab-${sfx}`]),
      json(['networks', 'get', net.id]),
      fails(1, ['networks', 'create', '--name', `lab-${sfx}`, '--cidr', '10.9.0.0/24']),
    ]);
    expect(tableLine(list.stdout)).toMatch(/^NAME\s+ID\s+CIDR\s+GATEWAY\s+VLAN\s+BRIDGE\s+DNS_SERVERS$/);
    expect(list.stdout).toMatch(new RegExp(`lab-${sfx}\\s+${net.id}\\s+192\\.168\\.50\\.0/29\\s+192\\.168\\.50\\.1\\s+42\\s+vmbr0\\s+1\\.1\\.1\\.1, 9\\.9\\.9\\.9`));
    expect(listJson.map((n) => n.id)).toContain(net.id);
    expect(get.stdout).toMatch(/leases\s+0 live of 6 addresses/);
    expect(getJson.leases).toEqual({ live: 0, addresses: '6' });
    expect(dupe).toContain('error: already_exists');

    const updated = await json(['networks', 'update', `lab-${sfx}`, '--vlan', '43', '--no-bridge']);
    expect(updated).toMatchObject({ vlan: 43, bridge: null, gateway: '192.168.50.1', dns_servers: ['1.1.1.1', '9.9.9.9'] });
    const table = await ok(['networks', 'update', net.id, '--dns', '8.8.8.8']);
    expect(table.stdout).toMatch(/dns_servers\s+8\.8\.8\.8\n/);
    expect(table.stdout).toMatch(/vlan\s+43\n/);
    const [nothing, badGateway] = await Promise.all([
      fails(2, ['networks', 'update', `lab-${sfx}`]),
      fails(1, ['networks', 'update', `lab-${sfx}`, '--gateway', '10.0.0.1']),
    ]);
    expect(nothing).toContain('nothing to update');
    expect(badGateway).toContain('error: unprocessable');
    expect(badGateway).toContain('gateway: 10.0.0.1 is outside 192.168.50.0/29');
  }, SLOW);

  it('leases the lowest free address, reuses released ones, and reports exhaustion', async () => {
    const name = `leases-${sfx}`;
    // .0 network, .1 gateway, .2 reserved, .7 broadcast: .3-.6 are leasable.
    await ok(['networks', 'create', '--name', name, '--cidr', '10.77.0.0/29', '--gateway', '10.77.0.1', '--reserved', '10.77.0.2']);
    const first = await ok(['leases', 'create', name]);
    expect(first.stdout).toMatch(new RegExp(`^leased 10\\.77\\.0\\.3 in ${name} \\(reserved, lease [0-9a-f-]{36}\\)`));
    const second = await json(['leases', 'create', name]);
    expect(second).toMatchObject({ address: '10.77.0.4', state: 'reserved' });
    const pinned = await json(['leases', 'create', name, '--address', '10.77.0.6', '--mac', 'AA-BB-CC-DD-EE-FF', '--active']);
    expect(pinned).toMatchObject({ address: '10.77.0.6', state: 'active', mac: 'aa:bb:cc:dd:ee:ff' });
    expect((await json(['leases', 'create', name])).address).toBe('10.77.0.5');

    const [exhausted, taken, reserved, outside, list, active, badState] = await Promise.all([
      fails(1, ['leases', 'create', name]),
      fails(1, ['leases', 'create', name, '--address', '10.77.0.6']),
      fails(1, ['leases', 'create', name, '--address', '10.77.0.2']),
      fails(1, ['leases', 'create', name, '--address', '10.78.0.9']),
      ok(['leases', 'list', name]),
      json<{ address: string }[]>(['leases', 'list', name, '--state', 'active']),
      fails(2, ['leases', 'list', name, '--state', 'gone']),
    ]);
    expect(exhausted).toContain('error: network_exhausted');
    expect(taken).toContain('error: address_in_use');
    expect(reserved).toContain('error: address_reserved');
    expect(outside).toContain('error: outside_network');
    expect(tableLine(list.stdout)).toMatch(/^ADDRESS\s+STATE\s+MACHINE_NAME\s+MAC\s+ID\s+UPDATED_AT$/);
    expect(tableRows(list.stdout).map((l) => l.split(/\s+/)[0])).toEqual(['10.77.0.3', '10.77.0.4', '10.77.0.5', '10.77.0.6']);
    expect(list.stdout).toMatch(/10\.77\.0\.6\s+active\s+-\s+aa:bb:cc:dd:ee:ff/);
    expect(active.map((l) => l.address)).toEqual(['10.77.0.6']);
    expect(badState).toContain('--state must be one of reserved, active, released, got "gone"');

    expect((await ok(['leases', 'release', name, '10.77.0.4'])).stdout).toContain(`released 10.77.0.4 in ${name}`);
    expect(await fails(1, ['leases', 'release', name, '10.77.0.4'])).toContain('error: not_found: no live lease for 10.77.0.4');
    expect((await json<{ address: string; state: string }[]>(['leases', 'list', name, '--state', 'released'])).map((l) => l.address)).toEqual(['10.77.0.4']);
    expect((await json(['leases', 'create', name])).address).toBe('10.77.0.4');

    expect(await fails(1, ['networks', 'rm', name])).toContain('error: has_dependents');
    expect((await ok(['networks', 'rm', name, '--force'])).stdout).toContain(`removed network ${name}`);
    expect(await fails(1, ['networks', 'get', name])).toContain(`error: not_found: no network named "${name}"`);
    expect(await fails(1, ['leases', 'list', name])).toContain('error: not_found');
  }, SLOW);
});

describe('hangar machines update and seed-url', () => {
  it('links SSH keys and a network by name, detaches, and prints the seed URL', async () => {
    const m = `inv-${sfx}`;
    const created = await json<{ machine: { id: string } }>(['machines', 'create', '--name', m]);
    const id = created.machine.id;
    const [k1, k2, net] = await Promise.all([
      json(['keys', 'add', '--name', `m1-${sfx}`, '--public-key', keygen('m1', 'm1').line]),
      json(['keys', 'add', '--name', `m2-${sfx}`, '--public-key', keygen('m2', 'm2').line]),
      json(['networks', 'create', '--name', `mnet-${sfx}`, '--cidr', '10.88.0.0/24']),
    ]);

    const linked = await json(['machines', 'update', m, '--ssh-key', `m1-${sfx}`, '--ssh-key', k2.id, '--network', `mnet-${sfx}`, '--domain', 'lab.example']);
    expect(linked).toMatchObject({ id, network_id: net.id, domain: 'lab.example' });
    expect([...linked.ssh_key_ids].sort()).toEqual([k1.id, k2.id].sort());

    const lease = await json(['leases', 'create', `mnet-${sfx}`, '--machine', m, '--active']);
    expect(lease).toMatchObject({ machine_id: id, machine_name: m, address: '10.88.0.1', state: 'active' });

    const table = await ok(['machines', 'update', id, '--no-network', '--ssh-key', `m2-${sfx}`, '--no-domain']);
    expect(tableLine(table.stdout)).toMatch(/^FIELD\s+VALUE$/);
    expect(table.stdout).toMatch(/network_id\s+-\n/);
    expect(table.stdout).toMatch(new RegExp(`ssh_key_ids\\s+${k2.id}\\n`));
    expect(table.stdout).toMatch(/addresses\s+\{"network_id":"[0-9a-f-]{36}","address":"10\.88\.0\.1","state":"active"\}/);
    const cleared = await json(['machines', 'update', m, '--no-ssh-key']);
    expect(cleared).toMatchObject({ ssh_key_ids: [], network_id: null, domain: null });

    const [seed, seedJson, viewerSeed, nothing, unknownKey, unknownNet, unknownMachine] = await Promise.all([
      ok(['machines', 'seed-url', m]),
      json<{ url: string }>(['machines', 'seed-url', id]),
      hangar(['machines', 'seed-url', id], { HANGAR_TOKEN: await createToken(api.orm, 'viewer') }),
      fails(2, ['machines', 'update', m]),
      fails(1, ['machines', 'update', m, '--ssh-key', `nope-${sfx}`]),
      fails(1, ['machines', 'update', m, '--network', `nope-${sfx}`]),
      fails(1, ['machines', 'seed-url', `nope-${sfx}`]),
    ]);
    expect(seed.stdout.trim()).toMatch(new RegExp(`^https?://[^/]+/cloud-init/${id}/[A-Za-z0-9_-]{20,}/$`));
    expect(seedJson.url).toBe(seed.stdout.trim());
    expect(viewerSeed.code).toBe(1);
    expect(viewerSeed.stderr).toContain('error: forbidden');
    expect(nothing).toContain('nothing to update');
    expect(unknownKey).toContain(`error: not_found: no SSH key named "nope-${sfx}"`);
    expect(unknownNet).toContain(`error: not_found: no network named "nope-${sfx}"`);
    expect(unknownMachine).toContain(`error: not_found: no machine named "nope-${sfx}"`);
  }, SLOW);
});

describe('hangar accounts, pools and blocks', () => {
  // Keys and ranges other suites of the same jest run do not use.
  const aws = String(Date.now()).slice(-12).padStart(12, '7');
  const awsTemp = String(Date.now() + 7).slice(-12).padStart(12, '8');
  const awsPools = String(Date.now() + 13).slice(-12).padStart(12, '9');
  const gcpPools = `pools-${sfx}`;
  const gcp = `proj-${sfx}`;

  it('creates, lists, gets and removes accounts by key or name', async () => {
    const a = await json(['accounts', 'create', '--key', `aws:${aws}`, '--name', `core-${sfx}`, '--platform', 'core', '--tier', 'prd',
      '--environment', 'production', '--region', 'us-east-1', '--region', 'eu-west-1']);
    expect(a).toMatchObject({ key: `aws:${aws}`, provider: 'aws', name: `core-${sfx}`, platform: 'core', tier: 'prd', environment: 'production', regions: ['us-east-1', 'eu-west-1'] });
    const g = await ok(['accounts', 'create', '--key', `gcp:${gcp}`, '--name', `analytics-${sfx}`, '--tier', 'dev']);
    expect(g.stdout).toMatch(new RegExp(`^account gcp:${gcp} \\([0-9a-f-]{36}\\) created: analytics-${sfx}`));

    const [list, onlyGcp, search, byKey, byName, badProvider, badKey, badTier, badAwsId, badRegion] = await Promise.all([
      ok(['accounts', 'list']),
      json<{ key: string; provider: string }[]>(['accounts', 'list', '--provider', 'gcp']),
      json<{ key: string }[]>(['accounts', 'list', '--search', `core-${sfx}`]),
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
    expect((await ok(['accounts', 'rm', `aws:${awsTemp}`])).stdout).toContain(`removed account aws:${awsTemp} (${temp.id})`);
    expect(await fails(1, ['accounts', 'get', `aws:${awsTemp}`])).toContain(`error: not_found: no account with key or name "aws:${awsTemp}"`);
    expect(await fails(1, ['accounts', 'get', temp.id])).toContain('error: not_found');
  }, SLOW);

  it('builds a pool tree, allocates, pages blocks, reports utilization and exports blocks', async () => {
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
    const corp = await json(['pools', 'create', '--name', root, '--cidr', '25.0.0.0/8', '--account', `aws:${awsPools}`,
      '--description', 'corporate space', '--tag', 'env=prod', '--tag', 'team=net']);
    expect(corp).toMatchObject({ name: root, cidr: '25.0.0.0/8', version: 4, parent_id: null, account_id: account.id, description: 'corporate space', tags: { env: 'prod', team: 'net' } });
    const eu = await ok(['pools', 'create', '--name', child, '--cidr', '25.1.0.0/16', '--parent', root]);
    expect(eu.stdout).toMatch(new RegExp(`^pool ${child} \\([0-9a-f-]{36}\\) created: 25\\.1\\.0\\.0/16`));
    const euJson = await json(['pools', 'get', child]);
    expect(euJson.parent_id).toBe(corp.id);

    const [list, roots, children, both, getTable, outside] = await Promise.all([
      ok(['pools', 'list']),
      json<{ name: string }[]>(['pools', 'list', '--roots']),
      json<{ name: string }[]>(['pools', 'list', '--parent', root]),
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
    expect(tableRows(page.stdout).slice(0, 4).map((l) => l.split(/\s+/).slice(0, 3).join(' '))).toEqual([
      '25.1.0.0/24 used allocation:web', '25.1.1.0/24 used allocation:db', '25.1.2.0/24 free -', '25.1.3.0/24 free -',
    ]);
    expect(page.stdout).toContain('/24 blocks: 256 in all, 3 used, 253 free');
    const cursor = /--cursor (\S+)/.exec(page.stderr)?.[1];
    expect(cursor).toEqual(expect.any(String));
    const next = await json<{ items: { cidr: string; status: string; owners: { kind: string; account_id: string | null }[] }[]; next_cursor: string | null }>(
      ['pools', 'blocks', child, '--prefix-length', '24', '--page-size', '2', '--cursor', cursor!]);
    expect(next.items.map((b) => `${b.cidr} ${b.status}`)).toEqual(['25.1.4.0/24 free', '25.1.5.0/24 used']);
    expect(next.items[1]!.owners[0]).toMatchObject({ kind: 'allocation', account_id: other.id });

    const [huge, hugeTable, badStatus, badPrefix] = await Promise.all([
      json<{ items: { cidr: string }[]; next_cursor: string | null; counts: { total: string } }>(['pools', 'blocks', root, '--prefix-length', '30', '--status', 'free', '--page-size', '2']),
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
    expect(util.stdout).toMatch(/total\s+65536\n/);
    expect(util.stdout).toMatch(/used\s+768 \(1\.17%\)\n/);
    expect(util.stdout).toMatch(/free\s+64768\n/);
    expect(util.stdout).toMatch(/\nACCOUNT_KEY\s+ACCOUNT_ID\s+ADDRESSES\s+ALLOCATIONS\n/);
    expect(util.stdout).toMatch(new RegExp(`aws:${awsPools}\\s+${account.id}\\s+256\\s+1`));
    expect(util.stdout).toMatch(new RegExp(`gcp:${gcpPools}\\s+${other.id}\\s+256\\s+1`));
    expect(util.stdout).toMatch(/\n-\s+-\s+256\s+1/);
    const utilJson = await json(['pools', 'utilization', root]);
    expect(utilJson).toMatchObject({ cidr: '25.0.0.0/8', total: '16777216', used: '65536', free: '16711680', percent_used: 0.39 });

    const [blocks, byAccount, within, csv, badWithin, csvAndJson, unknownPool] = await Promise.all([
      ok(['blocks', 'list', '--pool', child]),
      json<{ name: string; account_key: string }[]>(['blocks', 'list', '--account', `aws:${awsPools}`]),
      json<{ cidr: string }[]>(['blocks', 'list', '--within', '25.1.0.0/23']),
      ok(['blocks', 'list', '--pool', child, '--csv']),
      fails(1, ['blocks', 'list', '--within', '25.1.0.1/23']),
      fails(2, ['blocks', 'list', '--csv', '--json']),
      fails(1, ['blocks', 'list', '--pool', `nope-${sfx}`]),
    ]);
    expect(tableLine(blocks.stdout)).toMatch(/^CIDR\s+NAME\s+POOL_NAME\s+ACCOUNT_KEY\s+ID\s+CREATED_AT$/);
    expect(tableRows(blocks.stdout).map((l) => l.split(/\s+/).slice(0, 4).join(' '))).toEqual([
      `25.1.0.0/24 web ${child} aws:${awsPools}`, `25.1.1.0/24 db ${child} -`, `25.1.5.0/24 - ${child} gcp:${gcpPools}`,
    ]);
    expect(byAccount.map((b) => b.name)).toEqual(['web']);
    expect(within.map((b) => b.cidr)).toEqual(['25.1.0.0/24', '25.1.1.0/24']);
    const lines = csv.stdout.split('\r\n');
    expect(lines[0]).toBe('id,cidr,name,pool_id,pool_name,account_id,account_key,created_at');
    expect(lines).toHaveLength(5);
    expect(lines[1]).toMatch(new RegExp(`^${web.id},25\\.1\\.0\\.0/24,web,${euJson.id},${child},${account.id},aws:${awsPools},\\d{4}-`));
    expect(lines[4]).toBe('');
    expect(badWithin).toContain('error: invalid_cidr');
    expect(badWithin).toContain('did you mean 25.1.0.0/23?');
    expect(csvAndJson).toContain('--csv and --json exclude each other');
    expect(unknownPool).toContain(`error: not_found: no pool named "nope-${sfx}"`);

    expect(await fails(1, ['pools', 'rm', root])).toContain('error: has_dependents');
    expect((await ok(['pools', 'rm', root, '--cascade'])).stdout).toContain(`removed pool ${root} (${corp.id})`);
    const [goneChild, goneBlocks] = await Promise.all([
      fails(1, ['pools', 'get', euJson.id]),
      json<unknown[]>(['blocks', 'list', '--within', '25.0.0.0/8']),
    ]);
    expect(goneChild).toContain('error: not_found');
    expect(goneBlocks).toEqual([]);
  }, SLOW);
});

describe('hangar inventory errors', () => {
  it('exits 1 for unknown names, 2 for bad flag values and 3 when the API is down', async () => {
    const [key, net, pool, account, leases, pageSize, missingArg, unknownFlag, down, noToken] = await Promise.all([
      fails(1, ['keys', 'rm', `ghost-${sfx}`]),
      fails(1, ['networks', 'update', `ghost-${sfx}`, '--vlan', '3']),
      fails(1, ['pools', 'utilization', `ghost-${sfx}`]),
      fails(1, ['accounts', 'rm', `gcp:ghost-${sfx}`]),
      fails(1, ['leases', 'create', `ghost-${sfx}`]),
      fails(2, ['networks', 'list', '--page-size', '0']),
      fails(2, ['leases', 'release', 'somenet']),
      fails(2, ['keys', 'list', '--colour']),
      hangar(['pools', 'list'], { HANGAR_API_URL: 'http://127.0.0.1:1' }),
      hangar(['keys', 'list'], { HANGAR_TOKEN: '' }),
    ]);
    expect(key).toContain(`error: not_found: no SSH key named "ghost-${sfx}"`);
    expect(net).toContain(`error: not_found: no network named "ghost-${sfx}"`);
    expect(pool).toContain(`error: not_found: no pool named "ghost-${sfx}"`);
    expect(account).toContain(`error: not_found: no account with key or name "gcp:ghost-${sfx}"`);
    expect(leases).toContain('error: not_found');
    expect(pageSize).toContain('--page-size must be between 1 and');
    expect(missingArg).toContain("missing required argument 'address'");
    expect(unknownFlag).toContain("unknown option '--colour'");
    expect(down.code).toBe(3);
    expect(down.stderr).toContain('cannot reach the Hangar API');
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toContain('no API token');
  }, SLOW);
});
