// The inventory commands of `hangar` as a user runs them (SSH keys, networks, leases, machine
// links; accounts, pools and blocks are in ipam-cli.test.ts): the real launcher against a real API
// (no worker: machines stay in `pending`, which is all the links and the seed URL need).
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createToken } from '../support/harness.ts';
import { useCliSuite, tableLine, tableRows } from '../support/hangar-cli.ts';

const sfx = Date.now().toString(36);
const cli = useCliSuite({ beforeAll, afterAll });
const { run: hangar, ok, json, fails, items } = cli;

// Each test starts dozens of CLI processes; on a loaded two-core machine that takes a while.
const SLOW = 300_000;

function keygen(name: string, comment: string): { path: string; line: string; fingerprint: string } {
  const path = join(cli.tmp, name);
  execFileSync('ssh-keygen', ['-q', '-N', '', '-t', 'ed25519', '-C', comment, '-f', path]);
  const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${path}.pub`], { encoding: 'utf8' }).split(' ')[1]!;
  return { path: `${path}.pub`, line: readFileSync(`${path}.pub`, 'utf8').trim(), fingerprint };
}

describe('hangar keys', () => {
  it(
    'adds from a file or a flag, lists, gets and removes SSH keys by name or id',
    async () => {
      const a = keygen('a', `alice@${sfx}`);
      const b = keygen('b', `bob@${sfx}`);
      const added = await ok(['keys', 'add', '--name', `alice-${sfx}`, '--file', a.path]);
      expect(added.stdout).toMatch(new RegExp(`^ssh key alice-${sfx} \\([0-9a-f-]{36}\\) added: ssh-ed25519 256 ${a.fingerprint.replace(/[+/]/g, '\\$&')}`));
      const bob = await json(['keys', 'add', '--name', `bob-${sfx}`, '--public-key', b.line]);
      expect(bob).toMatchObject({ name: `bob-${sfx}`, type: 'ssh-ed25519', bits: 256, fingerprint: b.fingerprint, comment: `bob@${sfx}` });

      const [list, all, page1, dup, both, neither, missingFile] = await Promise.all([
        ok(['keys', 'list']),
        items<{ name: string; id: string }>(['keys', 'list']),
        json<{ items: { name: string }[]; next_cursor: string | null }>(['keys', 'list', '--page-size', '1']),
        fails(1, ['keys', 'add', '--name', `again-${sfx}`, '--file', a.path]),
        fails(2, ['keys', 'add', '--name', `x-${sfx}`, '--file', a.path, '--public-key', b.line]),
        fails(2, ['keys', 'add', '--name', `x-${sfx}`]),
        fails(2, ['keys', 'add', '--name', `x-${sfx}`, '--file', join(cli.tmp, 'nope.pub')]),
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

      expect((await ok(['keys', 'rm', `bob-${sfx}`, '--yes'])).stdout).toContain(`removed ssh key bob-${sfx} (${bob.id})`);
      expect(await fails(1, ['keys', 'get', `bob-${sfx}`])).toContain(`error: not_found: no SSH key named "bob-${sfx}"`);
      expect(await fails(1, ['keys', 'get', bob.id])).toContain('error: not_found');
    },
    SLOW,
  );
});

describe('hangar networks and leases', () => {
  it(
    'creates, shows and updates a network, with the canonical CIDR on a bad one',
    async () => {
      const [badCidr, badVlan, noCidr] = await Promise.all([
        fails(1, ['networks', 'create', '--name', `bad-${sfx}`, '--cidr', '10.0.0.1/24']),
        fails(2, ['networks', 'create', '--name', `bad-${sfx}`, '--cidr', '10.0.0.0/24', '--vlan', 'ten']),
        fails(2, ['networks', 'create', '--name', `bad-${sfx}`]),
      ]);
      expect(badCidr).toContain('error: invalid_cidr');
      expect(badCidr).toContain('did you mean 10.0.0.0/24?');
      expect(badVlan).toContain('--vlan must be a whole number, got "ten"');
      expect(noCidr).toContain("required option '--cidr <cidr>' not specified");

      const net = await json([
        'networks',
        'create',
        '--name',
        `lab-${sfx}`,
        '--cidr',
        '192.168.50.0/29',
        '--gateway',
        '192.168.50.1',
        '--dns',
        '1.1.1.1',
        '--dns',
        '9.9.9.9',
        '--search',
        'lab.example',
        '--vlan',
        '42',
        '--bridge',
        'vmbr0',
        '--reserved',
        '192.168.50.2',
      ]);
      expect(net).toMatchObject({
        name: `lab-${sfx}`,
        cidr: '192.168.50.0/29',
        version: 4,
        gateway: '192.168.50.1',
        dns_servers: ['1.1.1.1', '9.9.9.9'],
        search_domains: ['lab.example'],
        vlan: 42,
        bridge: 'vmbr0',
        reserved: ['192.168.50.2'],
      });

      const [list, listJson, get, getJson, dupe] = await Promise.all([
        ok(['networks', 'list']),
        items<{ id: string }>(['networks', 'list']),
        ok(['networks', 'get', `lab-${sfx}`]),
        json(['networks', 'get', net.id]),
        fails(1, ['networks', 'create', '--name', `lab-${sfx}`, '--cidr', '10.9.0.0/24']),
      ]);
      expect(tableLine(list.stdout)).toMatch(/^NAME\s+ID\s+CIDR\s+GATEWAY\s+VLAN\s+BRIDGE\s+DNS_SERVERS$/);
      expect(list.stdout).toMatch(
        new RegExp(`lab-${sfx}\\s+${net.id}\\s+192\\.168\\.50\\.0/29\\s+192\\.168\\.50\\.1\\s+42\\s+vmbr0\\s+1\\.1\\.1\\.1, 9\\.9\\.9\\.9`),
      );
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
    },
    SLOW,
  );

  it(
    'leases the lowest free address, reuses released ones, and reports exhaustion',
    async () => {
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
        items<{ address: string }>(['leases', 'list', name, '--state', 'active']),
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

      expect((await ok(['leases', 'release', name, '10.77.0.4', '--yes'])).stdout).toContain(`released 10.77.0.4 in ${name}`);
      expect(await fails(1, ['leases', 'release', name, '10.77.0.4', '--yes'])).toContain('error: not_found: no live lease for 10.77.0.4');
      expect((await items<{ address: string; state: string }>(['leases', 'list', name, '--state', 'released'])).map((l) => l.address)).toEqual(['10.77.0.4']);
      expect((await json(['leases', 'create', name])).address).toBe('10.77.0.4');

      expect(await fails(1, ['networks', 'rm', name, '--yes'])).toContain('error: has_dependents');
      expect((await ok(['networks', 'rm', name, '--force', '--yes'])).stdout).toContain(`removed network ${name}`);
      expect(await fails(1, ['networks', 'get', name])).toContain(`error: not_found: no network named "${name}"`);
      expect(await fails(1, ['leases', 'list', name])).toContain('error: not_found');
    },
    SLOW,
  );
});

describe('hangar machines update and seed-url', () => {
  it(
    'links SSH keys and a network by name, detaches, and prints the seed URL',
    async () => {
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
        hangar(['machines', 'seed-url', id], { HANGAR_TOKEN: await createToken(cli.api.orm, 'viewer') }),
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
    },
    SLOW,
  );
});

describe('hangar inventory errors', () => {
  it(
    'exits 1 for unknown names, 2 for bad flag values and 3 when the API is down',
    async () => {
      const [key, net, pool, account, leases, pageSize, missingArg, unknownFlag, down, noToken] = await Promise.all([
        fails(1, ['keys', 'rm', `ghost-${sfx}`, '--yes']),
        fails(1, ['networks', 'update', `ghost-${sfx}`, '--vlan', '3']),
        fails(1, ['pools', 'utilization', `ghost-${sfx}`]),
        fails(1, ['accounts', 'rm', `gcp:ghost-${sfx}`, '--yes']),
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
    },
    SLOW,
  );
});
