import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useApi, unique } from '../support/api-fixture.ts';

const f = useApi({ beforeAll, afterAll });

function sshKey(type: string, bits?: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-k-'));
  execFileSync('ssh-keygen', ['-q', '-N', '', '-t', type, ...(bits ? ['-b', String(bits)] : []), '-C', 'it@test', '-f', join(dir, 'k')]);
  const line = readFileSync(join(dir, 'k.pub'), 'utf8').trim();
  rmSync(dir, { recursive: true, force: true });
  return line;
}

async function createNetwork(overrides: Record<string, unknown> = {}) {
  const res = await f.post('/api/v1/networks', {
    name: unique('net'),
    cidr: '10.20.0.0/24',
    gateway: '10.20.0.1',
    dns_servers: ['10.20.0.2'],
    search_domains: ['lab.example'],
    ...overrides,
  });
  expect(res.status).toBe(201);
  return res.body;
}

describe('SSH keys', () => {
  it('registers a key with its fingerprint and refuses duplicates by name and by key', async () => {
    const key = sshKey('ed25519');
    const name = unique('key');
    const res = await f.post('/api/v1/ssh-keys', { name, public_key: key });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name, type: 'ssh-ed25519', bits: 256, public_key: key });
    expect(res.body.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    const sameName = await f.post('/api/v1/ssh-keys', { name, public_key: sshKey('ed25519') });
    expect(sameName.status).toBe(409);
    expect(sameName.body.fields).toEqual({ name: 'already exists' });
    const sameKey = await f.post('/api/v1/ssh-keys', { name: unique('key'), public_key: key });
    expect(sameKey.status).toBe(409);
    expect(sameKey.body.fields).toEqual({ public_key: 'already exists' });
  });

  it('rejects weak and malformed keys with 422', async () => {
    const weak = await f.post('/api/v1/ssh-keys', { name: unique('key'), public_key: sshKey('rsa', 1024) });
    expect(weak.status).toBe(422);
    expect(weak.body.error).toBe('invalid_ssh_key');
    const junk = await f.post('/api/v1/ssh-keys', { name: unique('key'), public_key: 'ssh-ed25519 AAAA' });
    expect(junk.status).toBe(422);
  });

  it('deleting a key removes it from machines but keeps the machines', async () => {
    const key = await f.post('/api/v1/ssh-keys', { name: unique('key'), public_key: sshKey('ecdsa', 256) });
    const machine = await f.post('/api/v1/machines', { name: unique('m'), provider: 'dryrun', cpu: 1, memory_mb: 256, disk_gb: 1, ssh_key_ids: [key.body.id] });
    expect(machine.status).toBe(202);
    expect((await f.get(`/api/v1/machines/${machine.body.machine.id}`)).body.ssh_key_ids).toEqual([key.body.id]);
    expect((await f.del(`/api/v1/ssh-keys/${key.body.id}`)).status).toBe(204);
    const after = await f.get(`/api/v1/machines/${machine.body.machine.id}`);
    expect(after.status).toBe(200);
    expect(after.body.ssh_key_ids).toEqual([]);
    expect((await f.get(`/api/v1/ssh-keys/${key.body.id}`)).status).toBe(404);
  });
});

describe('networks', () => {
  it('creates, reads, updates and lists networks', async () => {
    const net = await createNetwork({ vlan: 42, bridge: 'vmbr0', range_start: '10.20.0.10', range_end: '10.20.0.200', reserved: ['10.20.0.50'] });
    expect(net).toMatchObject({ cidr: '10.20.0.0/24', version: 4, gateway: '10.20.0.1', vlan: 42, bridge: 'vmbr0', reserved: ['10.20.0.50'] });
    const got = await f.get(`/api/v1/networks/${net.id}`);
    expect(got.body.leases).toEqual({ live: 0, addresses: '254' });
    const patched = await f.patch(`/api/v1/networks/${net.id}`, { dns_servers: ['1.1.1.1', '2606:4700:4700::1111'] });
    expect(patched.status).toBe(200);
    expect(patched.body.dns_servers).toEqual(['1.1.1.1', '2606:4700:4700::1111']);
  });

  it('explains bad networks with 422 and the canonical form', async () => {
    const nonCanonical = await f.post('/api/v1/networks', { name: unique('net'), cidr: '10.0.0.1/24' });
    expect(nonCanonical.status).toBe(422);
    expect(nonCanonical.body.error).toBe('invalid_cidr');
    expect(nonCanonical.body.detail).toContain('10.0.0.0/24');
    const badPrefix = await f.post('/api/v1/networks', { name: unique('net'), cidr: '10.0.0.0/33' });
    expect(badPrefix.status).toBe(422);
    const outside = await f.post('/api/v1/networks', {
      name: unique('net'),
      cidr: '10.0.0.0/24',
      gateway: '10.0.1.1',
      range_start: '10.0.0.20',
      range_end: '10.0.0.10',
    });
    expect(outside.status).toBe(422);
    expect(Object.keys(outside.body.fields).sort()).toEqual(['gateway', 'range_end']);
    const badBridge = await f.post('/api/v1/networks', { name: unique('net'), cidr: '10.0.0.0/24', bridge: 'this-name-is-far-too-long' });
    expect(badBridge.status).toBe(400);
    expect(badBridge.body.fields).toHaveProperty('bridge');
  });
});

describe('leases', () => {
  it('hands out the lowest free address, skipping gateway, reserved and the network/broadcast addresses', async () => {
    const net = await createNetwork({ cidr: '10.30.0.0/29', gateway: '10.30.0.1', reserved: ['10.30.0.3'] });
    const got: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await f.post(`/api/v1/networks/${net.id}/leases`, {});
      expect(res.status).toBe(201);
      got.push(res.body.address);
    }
    expect(got).toEqual(['10.30.0.2', '10.30.0.4', '10.30.0.5', '10.30.0.6']);
    const exhausted = await f.post(`/api/v1/networks/${net.id}/leases`, {});
    expect(exhausted.status).toBe(409);
    expect(exhausted.body.error).toBe('network_exhausted');
    // Releasing opens a gap, and the next request fills the lowest one.
    expect((await f.del(`/api/v1/networks/${net.id}/leases/10.30.0.4`)).status).toBe(200);
    expect((await f.post(`/api/v1/networks/${net.id}/leases`, {})).body.address).toBe('10.30.0.4');
  });

  it('finds addresses below the allocation hint again when exclusions change', async () => {
    const net = await createNetwork({ cidr: '10.33.0.0/28', gateway: '10.33.0.1', reserved: ['10.33.0.2', '10.33.0.3'] });
    const first = await f.post(`/api/v1/networks/${net.id}/leases`, {});
    const second = await f.post(`/api/v1/networks/${net.id}/leases`, {});
    expect([first.body.address, second.body.address]).toEqual(['10.33.0.4', '10.33.0.5']);
    expect((await f.patch(`/api/v1/networks/${net.id}`, { reserved: ['10.33.0.3'] })).status).toBe(200);
    expect((await f.post(`/api/v1/networks/${net.id}/leases`, {})).body.address).toBe('10.33.0.2');
    expect((await f.post(`/api/v1/networks/${net.id}/leases`, {})).body.address).toBe('10.33.0.6');
    // A machine deleted through SQL releases its lease through the trigger, which lowers the hint.
    const m = await f.post('/api/v1/machines', { name: unique('hint'), provider: 'dryrun', cpu: 1, memory_mb: 256, disk_gb: 1 });
    expect((await f.post(`/api/v1/networks/${net.id}/leases`, { machine_id: m.body.machine.id })).body.address).toBe('10.33.0.7');
    expect((await f.del(`/api/v1/networks/${net.id}/leases/10.33.0.4`)).status).toBe(200);
    await f.api.orm.em.getConnection().execute(`delete from machine where id = ?`, [m.body.machine.id]);
    expect((await f.post(`/api/v1/networks/${net.id}/leases`, {})).body.address).toBe('10.33.0.4');
    expect((await f.post(`/api/v1/networks/${net.id}/leases`, {})).body.address).toBe('10.33.0.7');
  });

  it('leases a specific address once and explains why others cannot be leased', async () => {
    const net = await createNetwork({ cidr: '10.31.0.0/24', gateway: '10.31.0.1', reserved: ['10.31.0.9'] });
    const first = await f.post(`/api/v1/networks/${net.id}/leases`, { address: '10.31.0.77', mac: 'AA-BB-CC-00-11-22' });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ address: '10.31.0.77', mac: 'aa:bb:cc:00:11:22', state: 'reserved' });
    expect(first.body.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const again = await f.post(`/api/v1/networks/${net.id}/leases`, { address: '10.31.0.77' });
    expect(again.status).toBe(409);
    expect(again.body.error).toBe('address_in_use');
    for (const [address, code] of [
      ['10.31.0.1', 'address_reserved'],
      ['10.31.0.9', 'address_reserved'],
      ['10.31.0.0', 'address_reserved'],
      ['10.31.0.255', 'address_reserved'],
      ['10.32.0.5', 'outside_network'],
      ['fd00::1', 'outside_network'],
      ['10.31.0.300', 'invalid_address'],
    ] as const) {
      const res = await f.post(`/api/v1/networks/${net.id}/leases`, { address });
      expect({ address, status: res.status, error: res.body.error }).toEqual({ address, status: 422, error: code });
    }
    const badMac = await f.post(`/api/v1/networks/${net.id}/leases`, { mac: 'zz:zz' });
    expect(badMac.status).toBe(400);
  });

  it('gives 200 parallel requests for 150 free addresses exactly 150 distinct leases and 50 clean 409s', async () => {
    // /24 has 254 hosts; gateway + 103 reserved leave exactly 150.
    const reserved = Array.from({ length: 103 }, (_, i) => `10.40.0.${i + 2}`);
    const net = await createNetwork({ cidr: '10.40.0.0/24', gateway: '10.40.0.1', reserved });
    const results = await Promise.all(Array.from({ length: 200 }, () => f.post(`/api/v1/networks/${net.id}/leases`, {})));
    const ok = results.filter((r) => r.status === 201);
    const conflicts = results.filter((r) => r.status === 409);
    expect(ok).toHaveLength(150);
    expect(conflicts).toHaveLength(50);
    for (const c of conflicts) expect(c.body.error).toBe('network_exhausted');
    expect(new Set(ok.map((r) => r.body.address)).size).toBe(150);
    const [row] = await f.api.orm.em
      .getConnection()
      .execute<{ n: string; d: string }[]>(`select count(*) as n, count(distinct address) as d from ip_lease where network_id = ? and state <> 'released'`, [
        net.id,
      ]);
    expect(row).toEqual({ n: '150', d: '150' });
  });

  it('works in an IPv6 /64 without enumerating it', async () => {
    const net = await createNetwork({ cidr: '2001:db8:42::/64', gateway: '2001:db8:42::1', dns_servers: ['2001:db8:42::53'], reserved: ['2001:db8:42::2'] });
    const a = await f.post(`/api/v1/networks/${net.id}/leases`, {});
    const b = await f.post(`/api/v1/networks/${net.id}/leases`, {});
    expect([a.body.address, b.body.address]).toEqual(['2001:db8:42::3', '2001:db8:42::4']);
    const specific = await f.post(`/api/v1/networks/${net.id}/leases`, { address: '2001:db8:42:0:ffff:ffff:ffff:fffe' });
    expect(specific.status).toBe(201);
    // RFC 5952: a single zero group is not compressed.
    expect(specific.body.address).toBe('2001:db8:42:0:ffff:ffff:ffff:fffe');
    const list = await f.get(`/api/v1/networks/${net.id}/leases?page_size=2`);
    expect(list.body.items.map((l: { address: string }) => l.address)).toEqual(['2001:db8:42::3', '2001:db8:42::4']);
    const next = await f.get(`/api/v1/networks/${net.id}/leases?page_size=2&cursor=${list.body.next_cursor}`);
    expect(next.body.items.map((l: { address: string }) => l.address)).toEqual(['2001:db8:42:0:ffff:ffff:ffff:fffe']);
    expect(next.body.next_cursor).toBeNull();
  });

  it('releases leases when their machine is deleted, and refuses to drop a network with live leases', async () => {
    const net = await createNetwork({ cidr: '10.50.0.0/24', gateway: '10.50.0.1' });
    const machine = await f.post('/api/v1/machines', { name: unique('m'), provider: 'dryrun', cpu: 1, memory_mb: 256, disk_gb: 1, network_id: net.id });
    const lease = await f.post(`/api/v1/networks/${net.id}/leases`, { machine_id: machine.body.machine.id });
    expect(lease.body.machine_name).toBe(machine.body.machine.name);
    expect((await f.get(`/api/v1/machines/${machine.body.machine.id}`)).body.addresses).toEqual([
      { network_id: net.id, address: '10.50.0.2', state: 'reserved' },
    ]);
    const refused = await f.del(`/api/v1/networks/${net.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body.error).toBe('has_dependents');
    await f.api.orm.em.getConnection().execute(`delete from machine where id = ?`, [machine.body.machine.id]);
    const leases = await f.get(`/api/v1/networks/${net.id}/leases?state=released`);
    expect(leases.body.items.map((l: { address: string; machine_id: string | null }) => [l.address, l.machine_id])).toEqual([['10.50.0.2', null]]);
    expect((await f.del(`/api/v1/networks/${net.id}`)).status).toBe(204);
  });
});

describe('machine metadata token', () => {
  it('is shown on create and to operators via seed-url, never to viewers or in lists', async () => {
    const created = await f.post('/api/v1/machines', { name: unique('tok'), provider: 'dryrun', cpu: 1, memory_mb: 256, disk_gb: 1 });
    const token = created.body.metadata_token;
    expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const asViewer = await f.get(`/api/v1/machines/${created.body.machine.id}/seed-url`);
    expect(asViewer.status).toBe(403);
    const { http } = await import('../support/harness.ts');
    const asOperator = await http(f.api.url, 'GET', `/api/v1/machines/${created.body.machine.id}/seed-url`, { token: f.operator });
    expect(asOperator.body.url).toContain(`/cloud-init/${created.body.machine.id}/${token}/`);
    const list = await f.get('/api/v1/machines?page_size=1000');
    expect(list.text).not.toContain(token);
    expect((await f.get(`/api/v1/machines/${created.body.machine.id}`)).text).not.toContain(token);
  });
});
