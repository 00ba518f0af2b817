// The NoCloud documents are checked with cloud-init's own tools (schema, net-convert, its YAML
// loader and its seed reader), and the cidata ISO with xorriso and blkid.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  renderMetaData,
  renderNetworkConfig,
  renderSeed,
  renderUserData,
  renderVendorData,
  type CloudInitMachine,
  type CloudInitSeed,
} from '../../domain/cloud-init.ts';
import { HangarError } from '../../domain/errors.ts';
import { listIso, readIsoFile, writeCidataIso } from '../../providers/cloud-init/cidata-iso.ts';
import { blkidProbe, cloudInitLoadYaml, extractIso, netConvert, nocloudFetch, validateUserData } from '../support/cloud-init-tools.ts';

const PHONE_HOME = 'http://127.0.0.1:8080/cloud-init/m-1/tok/phone-home';
const opts = { phoneHomeUrl: PHONE_HOME };
const KEY_A = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGd2Yx1o8Fq3Wm3Kc0cUq2vO9kYV7bZ0lF1l0xYc2pQe alice@lab';
const KEY_B = 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 bob@lab';
const KEY_EXTRA = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExtraExtraExtraExtraExtraExtraExtraExtra x@extra';

// DHCP, no domain, a hostname PyYAML (YAML 1.1) would read as a boolean if left unquoted.
const dhcp: CloudInitMachine = { id: '2b7c0d1e-0000-4000-8000-000000000001', name: 'on', sshKeys: [KEY_A] };
// IPv4 static with an all-digit MAC, which PyYAML reads as a base-60 integer if unquoted.
const v4: CloudInitMachine = {
  id: '2b7c0d1e-0000-4000-8000-000000000002',
  name: 'web-1',
  domain: 'lab.example',
  sshKeys: [KEY_A, KEY_B],
  userDataExtras: {
    packages: ['curl', 'htop'],
    runcmd: [['systemctl', 'enable', '--now', 'ssh'], 'echo provisioned by hangar'],
    write_files: [{ path: '/etc/motd', content: 'managed by hangar\n', permissions: '0644' }],
  },
  network: {
    mac: '52:54:00:12:34:56',
    address: '10.20.30.40',
    prefix: 24,
    version: 4,
    gateway: '10.20.30.1',
    dns: ['10.20.30.2', '9.9.9.9'],
    searchDomains: ['lab.example', 'corp.example'],
  },
};
// IPv6 static without a MAC, own login user.
const v6: CloudInitMachine = {
  id: '2b7c0d1e-0000-4000-8000-000000000003',
  name: 'db-6',
  domain: 'v6.lab.example',
  sshKeys: [KEY_B],
  defaultUser: 'ops',
  network: {
    address: '2001:db8:10::5',
    prefix: 64,
    version: 6,
    gateway: '2001:db8:10::1',
    dns: ['2001:db8:10::53'],
    searchDomains: ['v6.lab.example'],
  },
};
// Extras that try to take over what Hangar owns, plus one harmless key.
const hostile: CloudInitMachine = {
  id: '2b7c0d1e-0000-4000-8000-000000000004',
  name: 'target',
  domain: 'lab.example',
  sshKeys: [KEY_A],
  userDataExtras: {
    hostname: 'evil',
    fqdn: 'evil.example.com',
    preserve_hostname: true,
    phone_home: { url: 'http://evil.example.com/steal', post: 'all', tries: 1 },
    users: ['default', { name: 'hangar', ssh_authorized_keys: [KEY_EXTRA], sudo: false }, { name: 'auditor', shell: '/bin/sh' }],
    ssh_authorized_keys: [KEY_EXTRA, KEY_A],
    packages: ['jq'],
  },
};
const machines = { dhcp, v4, v6, hostile };

type Doc = Record<string, unknown>;
const userData = (m: CloudInitMachine) => renderUserData(m, opts);
const parseDoc = (text: string) => parse(text, { version: '1.1' }) as Doc;

describe('user-data', () => {
  it.each(Object.entries(machines))('%s: passes cloud-init schema with no deprecations', async (_name, m) => {
    const text = userData(m);
    expect(text.split('\n')[0]).toBe('#cloud-config');
    const result = await validateUserData(text);
    expect(result).toEqual({ ok: true, output: expect.stringContaining('Valid cloud-config') });
    expect(result.output).not.toMatch(/deprecat/i);
  });

  it('the validator fails broken documents (wrong types, bad YAML, no #cloud-config header)', async () => {
    const wrongTypes = `#cloud-config\npreserve_hostname: "nope"\nphone_home:\n  post: [bogus]\n`;
    const r1 = await validateUserData(wrongTypes);
    expect(r1.ok).toBe(false);
    expect(r1.output).toMatch(/preserve_hostname/);
    expect(r1.output).toMatch(/phone_home/);
    expect((await validateUserData('#cloud-config\nusers: [\n')).ok).toBe(false);
    expect((await validateUserData(userData(v4).replace('#cloud-config\n', ''))).ok).toBe(false);
  });

  it('carries hostname, fqdn, users, keys and phone_home as cloud-init reads them', async () => {
    const doc = (await cloudInitLoadYaml(userData(v4))) as Doc;
    expect(doc).toMatchObject({
      hostname: 'web-1',
      fqdn: 'web-1.lab.example',
      preserve_hostname: false,
      users: [
        'default',
        {
          name: 'hangar',
          sudo: 'ALL=(ALL) NOPASSWD:ALL',
          shell: '/bin/bash',
          lock_passwd: true,
          ssh_authorized_keys: [KEY_A, KEY_B],
        },
      ],
      ssh_authorized_keys: [KEY_A, KEY_B],
      phone_home: { url: PHONE_HOME, post: ['instance_id', 'hostname', 'fqdn'], tries: 10 },
    });
    expect((doc.users as unknown[]).length).toBe(2);
  });

  it('keeps YAML 1.1 look-alikes as strings (hostname "on") and omits fqdn without a domain', async () => {
    const doc = (await cloudInitLoadYaml(userData(dhcp))) as Doc;
    expect(doc.hostname).toBe('on');
    expect(doc).not.toHaveProperty('fqdn');
    const ops = (await cloudInitLoadYaml(userData(v6))) as Doc;
    expect((ops.users as Doc[])[1]).toMatchObject({ name: 'ops', ssh_authorized_keys: [KEY_B] });
  });

  it('passes harmless extras through unchanged', () => {
    const doc = parseDoc(userData(v4));
    expect(doc.packages).toEqual(['curl', 'htop']);
    expect(doc.runcmd).toEqual([['systemctl', 'enable', '--now', 'ssh'], 'echo provisioned by hangar']);
    expect(doc.write_files).toEqual([{ path: '/etc/motd', content: 'managed by hangar\n', permissions: '0644' }]);
  });

  it('never lets extras override hostname, fqdn, preserve_hostname or phone_home', () => {
    const doc = parseDoc(userData(hostile));
    expect(doc.hostname).toBe('target');
    expect(doc.fqdn).toBe('target.lab.example');
    expect(doc.preserve_hostname).toBe(false);
    expect(doc.phone_home).toEqual({ url: PHONE_HOME, post: ['instance_id', 'hostname', 'fqdn'], tries: 10 });
    expect(doc.packages).toEqual(['jq']);
    expect(userData(hostile)).not.toContain('evil');
  });

  it('appends extra users and keys but keeps the machine user and keys as they are', () => {
    const doc = parseDoc(userData(hostile));
    expect(doc.users).toEqual([
      'default',
      { name: 'hangar', sudo: 'ALL=(ALL) NOPASSWD:ALL', shell: '/bin/bash', lock_passwd: true, ssh_authorized_keys: [KEY_A] },
      { name: 'auditor', shell: '/bin/sh' },
    ]);
    expect(doc.ssh_authorized_keys).toEqual([KEY_A, KEY_EXTRA]);
  });

  it('cannot be emptied by extras that set protected keys to null or []', () => {
    const m: CloudInitMachine = { ...v4, userDataExtras: { users: [], ssh_authorized_keys: [], phone_home: null, hostname: null } };
    const doc = parseDoc(userData(m));
    expect(doc.hostname).toBe('web-1');
    expect((doc.users as unknown[]).length).toBe(2);
    expect(doc.ssh_authorized_keys).toEqual([KEY_A, KEY_B]);
    expect(doc.phone_home).toMatchObject({ url: PHONE_HOME });
  });

  it('rejects extras that are not plain JSON objects with validation_failed', () => {
    class Custom {
      packages = ['x'];
    }
    const bad: unknown[] = [
      ['packages'],
      'packages: [x]',
      42,
      new Map([['packages', ['x']]]),
      new Custom(),
      { runcmd: [() => 1] },
      { packages: [Number.NaN] },
      { users: 'root' },
      { ssh_authorized_keys: [1] },
    ];
    for (const extras of bad) {
      const m = { ...v4, userDataExtras: extras as Record<string, unknown> };
      let caught: unknown;
      try {
        userData(m);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(HangarError);
      expect((caught as HangarError).code).toBe('validation_failed');
    }
  });

  it('rejects SSH keys that are not exactly one authorized_keys line', () => {
    expect(() => userData({ ...v4, sshKeys: [`${KEY_A}\nssh-ed25519 AAAA attacker`] })).toThrow(expect.objectContaining({ code: 'invalid_ssh_key' }));
    expect(() => userData({ ...v4, sshKeys: [' '] })).toThrow(expect.objectContaining({ code: 'invalid_ssh_key' }));
    expect(() => userData({ ...v4, userDataExtras: { ssh_authorized_keys: ['a\nb'] } })).toThrow(expect.objectContaining({ code: 'validation_failed' }));
  });

  it('rejects a phone_home URL that is not http(s)', () => {
    expect(() => renderUserData(v4, { phoneHomeUrl: 'file:///etc/passwd' })).toThrow(HangarError);
    expect(() => renderUserData(v4, { phoneHomeUrl: 'not a url' })).toThrow(HangarError);
  });
});

describe('meta-data and vendor-data', () => {
  it('meta-data has a stable instance-id and the hostname, as cloud-init reads it', async () => {
    for (const m of Object.values(machines)) {
      expect(parseDoc(renderMetaData(m))).toEqual({ 'instance-id': `hangar-${m.id}`, 'local-hostname': m.name });
      expect(renderMetaData(m)).toBe(renderMetaData({ ...m, sshKeys: [] }));
    }
    expect(await cloudInitLoadYaml(renderMetaData(dhcp))).toEqual({ 'instance-id': `hangar-${dhcp.id}`, 'local-hostname': 'on' });
    expect(renderMetaData(v4)).not.toBe(renderMetaData(v6));
  });

  it('vendor-data is an empty cloud-config that passes cloud-init schema', async () => {
    expect(await validateUserData(renderVendorData())).toMatchObject({ ok: true });
  });
});

describe('network-config', () => {
  const mainFile = (files: Record<string, string>, suffix: string) => {
    const hits = Object.entries(files).filter(([path]) => path.endsWith(suffix));
    expect(hits).toHaveLength(1);
    return hits[0]![1];
  };

  it('IPv4 with MAC: netplan and networkd output carry address, gateway, DNS, search and the MAC match', async () => {
    const text = renderNetworkConfig(v4);
    const loaded = (await cloudInitLoadYaml(text)) as { ethernets: { eth0: { match: { macaddress: unknown } } } };
    expect(loaded.ethernets.eth0.match.macaddress).toBe('52:54:00:12:34:56');

    const netplan = parse(mainFile(await netConvert(text, 'netplan'), '.yaml')) as { network: { ethernets: Record<string, Doc> } };
    expect(netplan.network.ethernets.eth0).toEqual({
      match: { macaddress: '52:54:00:12:34:56' },
      'set-name': 'eth0',
      addresses: ['10.20.30.40/24'],
      routes: [{ to: '0.0.0.0/0', via: '10.20.30.1' }],
      nameservers: { addresses: ['10.20.30.2', '9.9.9.9'], search: ['lab.example', 'corp.example'] },
    });

    const networkd = mainFile(await netConvert(text, 'networkd'), 'eth0.network');
    expect(networkd).toContain('MACAddress=52:54:00:12:34:56');
    expect(networkd).toContain('Name=eth0');
    expect(networkd).toContain('Address=10.20.30.40/24');
    expect(networkd).toContain('Destination=0.0.0.0/0');
    expect(networkd).toContain('Gateway=10.20.30.1');
    expect(networkd).toMatch(/^DNS=10\.20\.30\.2 9\.9\.9\.9$/m);
    expect(networkd).toMatch(/^Domains=lab\.example corp\.example$/m);
    expect(networkd).toContain('DHCP=no');
  });

  it('IPv6 without MAC: matched by name, default route rendered right for netplan and networkd', async () => {
    const text = renderNetworkConfig(v6);
    const netplan = parse(mainFile(await netConvert(text, 'netplan'), '.yaml')) as { network: { ethernets: Record<string, Doc> } };
    expect(netplan.network.ethernets.eth0).toMatchObject({
      match: { name: 'e*' },
      addresses: ['2001:db8:10::5/64'],
      gateway6: '2001:db8:10::1',
      nameservers: { addresses: ['2001:db8:10::53'], search: ['v6.lab.example'] },
    });
    expect(netplan.network.ethernets.eth0).not.toHaveProperty('set-name');

    const networkd = mainFile(await netConvert(text, 'networkd'), 'eth0.network');
    expect(networkd).not.toContain('MACAddress=');
    expect(networkd).toContain('Address=2001:db8:10::5/64');
    expect(networkd).toContain('Gateway=2001:db8:10::1');
    // cloud-init 22.4 renders `to: ::/0` as this bogus route; gateway6 avoids it.
    expect(networkd).not.toContain('Destination=::/64');
    expect(networkd).toContain('DNS=2001:db8:10::53');
    expect(networkd).toContain('Domains=v6.lab.example');
  });

  it('without a network: DHCP on the first NIC', async () => {
    const text = renderNetworkConfig(dhcp);
    expect(parse(text)).toEqual({ version: 2, ethernets: { eth0: { match: { name: 'e*' }, dhcp4: true } } });
    expect(mainFile(await netConvert(text, 'networkd'), 'eth0.network')).toMatch(/^DHCP=ipv4$/m);
    const netplan = parse(mainFile(await netConvert(text, 'netplan'), '.yaml')) as { network: { ethernets: Record<string, Doc> } };
    expect(netplan.network.ethernets.eth0).toEqual({ match: { name: 'e*' }, dhcp4: true });
  });

  it('net-convert fails on a broken network config (proves the check can fail)', async () => {
    const broken = 'version: 2\nethernets:\n  eth0:\n    addresses: [not-an-ip/24]\n';
    await expect(netConvert(broken, 'networkd')).rejects.toThrow(/net-convert/);
  });

  it('rejects inconsistent network input', () => {
    expect(() => renderNetworkConfig({ network: { ...v4.network!, mac: 'zz:zz' } })).toThrow(HangarError);
    expect(() => renderNetworkConfig({ network: { ...v4.network!, prefix: 33 } })).toThrow(HangarError);
    expect(() => renderNetworkConfig({ network: { ...v4.network!, version: 6 } })).toThrow(HangarError);
  });
});

describe('cidata ISO', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hangar-cidata-test-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('has volume id cidata, Joliet, and exactly the four seed files with their contents', async () => {
    const seed = renderSeed(v4, opts);
    const iso = join(dir, 'seed.iso');
    await writeCidataIso(iso, seed);

    expect(await listIso(iso)).toEqual({ volumeId: 'cidata', files: ['meta-data', 'network-config', 'user-data', 'vendor-data'] });
    for (const [name, content] of Object.entries(seed)) expect(await readIsoFile(iso, name)).toBe(content);
    expect(await blkidProbe(iso)).toMatchObject({ LABEL: 'cidata', TYPE: 'iso9660', VERSION: 'Joliet Extension' });
    // Only the image is left next to it: no partial files.
    expect(await readdir(dir)).toEqual(['seed.iso']);
  });

  it("is read back by cloud-init's seed reader from the extracted image", async () => {
    const seed = renderSeed(v6, opts);
    const iso = join(dir, 'v6.iso');
    await writeCidataIso(iso, seed);
    const tree = join(dir, 'v6-tree');
    await extractIso(iso, tree);
    const got = await nocloudFetch(`${tree}/`);
    expect(got['meta-data']).toEqual({ 'instance-id': `hangar-${v6.id}`, 'local-hostname': 'db-6' });
    expect(got['user-data']).toBe(seed['user-data']);
    expect(got['vendor-data']).toBe(seed['vendor-data']);
  });

  it('replaces an existing image and fails loudly, naming the tool, without leaving temp files', async () => {
    const iso = join(dir, 'again.iso');
    await writeCidataIso(iso, { 'meta-data': 'instance-id: a\n', 'user-data': '#cloud-config\n{}\n' });
    await writeCidataIso(iso, { 'meta-data': 'instance-id: b\n', 'user-data': '#cloud-config\n{}\n' });
    expect(await readIsoFile(iso, 'meta-data')).toBe('instance-id: b\n');

    const before = (await readdir(tmpdir())).filter((f) => f.startsWith('hangar-cidata-')).length;
    await expect(writeCidataIso(join(dir, 'no-such-dir', 'x.iso'), { 'meta-data': 'x' })).rejects.toThrow(/^xorriso .*failed/);
    const after = (await readdir(tmpdir())).filter((f) => f.startsWith('hangar-cidata-')).length;
    expect(after).toBe(before);
    await expect(stat(join(dir, 'no-such-dir'))).rejects.toThrow();
    await expect(writeCidataIso(join(dir, 'y.iso'), { '../escape': 'x' })).rejects.toThrow(/invalid cidata file name/);
    await expect(readIsoFile(iso, 'network-config')).rejects.toThrow(/xorriso/);
  });
});

describe('nocloud_fetch.py over HTTP', () => {
  const seeds = new Map<string, CloudInitSeed>();
  const requested: string[] = [];
  let server: Server;
  let base: string;

  beforeAll(async () => {
    seeds.set(v4.id, renderSeed(v4, opts));
    seeds.set(hostile.id, renderSeed(hostile, opts));
    server = createServer((req, res) => {
      requested.push(req.url ?? '');
      const m = /^\/cloud-init\/([^/]+)\/tok\/([a-z-]+)$/.exec(req.url ?? '');
      const body = m ? seeds.get(m[1]!)?.[m[2] as keyof CloudInitSeed] : undefined;
      if (body === undefined) {
        res.writeHead(404).end('not found');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it.each([
    ['v4', v4],
    ['hostile', hostile],
  ])('%s: cloud-init reads back the served meta-data, user-data and vendor-data', async (_name, m) => {
    const seed = seeds.get(m.id)!;
    const got = await nocloudFetch(`${base}/cloud-init/${m.id}/tok/`);
    expect(got['meta-data']).toEqual({ 'instance-id': `hangar-${m.id}`, 'local-hostname': m.name });
    expect(got['user-data']).toBe(seed['user-data']);
    expect(got['vendor-data']).toBe(seed['vendor-data']);
    for (const f of ['meta-data', 'user-data', 'vendor-data']) expect(requested).toContain(`/cloud-init/${m.id}/tok/${f}`);
  });

  it('fails when the seed is not there', async () => {
    await expect(nocloudFetch(`${base}/cloud-init/unknown/tok/`)).rejects.toThrow(/404/);
  });
});
