// The NoCloud metadata service against a real API, PostgreSQL and Temporal, checked with
// cloud-init's own tools (schema, net-convert, and its NoCloud reader over HTTP).
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { parse } from 'yaml';
import { WorkflowNotFoundError } from '@temporalio/client';
import { useApi, unique } from '../support/api-fixture.ts';
import { capturingLogger, http, startApi, testConfig, waitFor, type TestApi } from '../support/harness.ts';
import { blkidProbe, extractIso, netConvert, nocloudFetch, validateUserData } from '../support/cloud-init-tools.ts';
import { Machine } from '../../db/entities/index.ts';
import { clientAddress, parseTrustedProxies } from '../../api/metadata/client-address.ts';
import { phoneHomePayload } from '../../api/metadata/phone-home.ts';

const f = useApi({ beforeAll, afterAll });
const NOT_FOUND = { error: 'not_found', detail: 'not found' };
const DOCS = ['meta-data', 'user-data', 'vendor-data', 'network-config'] as const;

function sshKey(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-ci-'));
  try {
    execFileSync('ssh-keygen', ['-q', '-N', '', '-t', 'ed25519', '-C', 'ci@test', '-f', join(dir, 'k')]);
    return readFileSync(join(dir, 'k.pub'), 'utf8').trim();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function createKey(namePrefix: string) {
  const publicKey = sshKey();
  const res = await f.post('/api/v1/ssh-keys', { name: unique(namePrefix), public_key: publicKey });
  expect(res.status).toBe(201);
  return { id: res.body.id as string, publicKey };
}

async function createNetwork(body: Record<string, unknown>) {
  const res = await f.post('/api/v1/networks', { name: unique('ci-net'), ...body });
  expect(res.status).toBe(201);
  return res.body as { id: string; cidr: string };
}

const workflowsToEnd: string[] = [];

async function createMachine(body: Record<string, unknown> = {}) {
  const name = unique('ci');
  const res = await f.post('/api/v1/machines', { name, provider: 'dryrun', cpu: 1, memory_mb: 256, disk_gb: 1, ...body });
  expect(res.status).toBe(202);
  const id = res.body.machine.id as string;
  workflowsToEnd.push(`provision-vm/${id}`);
  return { id, name, token: res.body.metadata_token as string };
}

async function lease(networkId: string, body: Record<string, unknown>) {
  const res = await f.post(`/api/v1/networks/${networkId}/leases`, body);
  expect(res.status).toBe(201);
  return res.body as { address: string; mac: string | null };
}

const seedUrl = (api: { url: string }, m: { id: string; token: string }) => `${api.url}/cloud-init/${m.id}/${m.token}/`;
const getDoc = (api: { url: string }, m: { id: string; token: string }, doc: string, headers?: Record<string, string>) =>
  http(api.url, 'GET', `/cloud-init/${m.id}/${m.token}/${doc}`, { headers });

/** Posts the way cloud-init's phone_home module does: urlencoded form fields. */
function phoneHome(api: { url: string }, m: { id: string; token: string }, fields: Record<string, string> | string) {
  const rawBody = typeof fields === 'string' ? fields : new URLSearchParams(fields).toString();
  return http(api.url, 'POST', `/cloud-init/${m.id}/${m.token}/phone-home`, {
    rawBody,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
}

async function machineRecord(id: string) {
  const res = await f.get(`/api/v1/machines/${id}`);
  expect(res.status).toBe(200);
  return res.body;
}

f.beforeClose(async () => {
  // No worker runs here, so every provision workflow is still running: end them (while the client is open).
  await Promise.all(
    workflowsToEnd.map((id) =>
      f.api.temporal.workflow
        .getHandle(id)
        .terminate('cloud-init test done')
        .catch((err: unknown) => {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
        }),
    ),
  );
});

describe('serving the seed', () => {
  let machine: { id: string; name: string; token: string };
  let keys: { first: string; second: string };
  let leased: { address: string; mac: string | null };

  beforeAll(async () => {
    // Created z-first so that ordering by name, not by creation, is what the test sees.
    const z = await createKey('zz-key');
    const a = await createKey('aa-key');
    keys = { first: a.publicKey, second: z.publicKey };
    const net = await createNetwork({
      cidr: '10.77.0.0/24',
      gateway: '10.77.0.1',
      dns_servers: ['10.77.0.2', '1.1.1.1'],
      search_domains: ['lab.example', 'corp.example'],
    });
    machine = await createMachine({
      ssh_key_ids: [z.id, a.id],
      network_id: net.id,
      domain: 'lab.example',
      user_data_extras: { packages: ['qemu-guest-agent'], hostname: 'ignored' },
    });
    // A reserved lease first, then the active one that must win.
    await lease(net.id, { machine_id: machine.id, mac: '52:54:00:aa:bb:01', state: 'reserved' });
    leased = await lease(net.id, { machine_id: machine.id, mac: '52:54:00:AA:BB:CC', state: 'active' });
  });

  it('meta-data names the instance and host, as plain text', async () => {
    const res = await getDoc(f.api, machine, 'meta-data');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(parse(res.text)).toEqual({ 'instance-id': `hangar-${machine.id}`, 'local-hostname': machine.name });
  });

  it('user-data is a valid #cloud-config with the keys in name order and phone_home to this machine', async () => {
    const res = await getDoc(f.api, machine, 'user-data');
    expect(res.status).toBe(200);
    expect(res.text.startsWith('#cloud-config\n')).toBe(true);
    const verdict = await validateUserData(res.text);
    expect(verdict).toEqual({ ok: true, output: expect.any(String) });
    const doc = parse(res.text) as Record<string, any>;
    expect(doc.hostname).toBe(machine.name);
    expect(doc.fqdn).toBe(`${machine.name}.lab.example`);
    expect(doc.ssh_authorized_keys).toEqual([keys.first, keys.second]);
    expect(doc.packages).toEqual(['qemu-guest-agent']);
    const base = f.api.config.api.publicUrl.replace(/\/+$/, '');
    expect(doc.phone_home.url).toBe(`${base}/cloud-init/${machine.id}/${machine.token}/phone-home`);
  });

  it('vendor-data is an empty cloud-config', async () => {
    const res = await getDoc(f.api, machine, 'vendor-data');
    expect(res.status).toBe(200);
    expect(res.text.startsWith('#cloud-config')).toBe(true);
    expect(await validateUserData(res.text)).toMatchObject({ ok: true });
  });

  it('network-config carries the active lease, its network and its MAC, and cloud-init renders it', async () => {
    const res = await getDoc(f.api, machine, 'network-config');
    expect(res.status).toBe(200);
    expect(parse(res.text)).toEqual({
      version: 2,
      ethernets: {
        eth0: {
          match: { macaddress: '52:54:00:aa:bb:cc' },
          'set-name': 'eth0',
          addresses: [`${leased.address}/24`],
          routes: [{ to: '0.0.0.0/0', via: '10.77.0.1' }],
          nameservers: { addresses: ['10.77.0.2', '1.1.1.1'], search: ['lab.example', 'corp.example'] },
        },
      },
    });
    const netplan = Object.values(await netConvert(res.text, 'netplan')).join('\n');
    expect(netplan).toContain(`${leased.address}/24`);
    expect(netplan).toContain('52:54:00:aa:bb:cc');
    const networkd = Object.values(await netConvert(res.text, 'networkd')).join('\n');
    expect(networkd).toContain(`Address=${leased.address}/24`);
    expect(networkd).toContain('Gateway=10.77.0.1');
    expect(networkd).toMatch(/DNS=10\.77\.0\.2 1\.1\.1\.1/);
    expect(networkd).toMatch(/Domains=lab\.example corp\.example/);
    expect(networkd).toContain('MACAddress=52:54:00:aa:bb:cc');
  });

  it("serves the whole seed as a cidata ISO that blkid and cloud-init's seed files recognise", async () => {
    const res = await fetch(`${seedUrl(f.api, machine)}cidata.iso`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-iso9660-image');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const dir = mkdtempSync(join(tmpdir(), 'hangar-cidata-test-'));
    try {
      const iso = join(dir, 'cidata.iso');
      writeFileSync(iso, Buffer.from(await res.arrayBuffer()));
      expect(await blkidProbe(iso)).toMatchObject({ LABEL: 'cidata', TYPE: 'iso9660' });
      const tree = join(dir, 'tree');
      await extractIso(iso, tree);
      // Byte for byte what the URL seed serves.
      for (const doc of ['meta-data', 'user-data', 'vendor-data', 'network-config']) {
        expect([doc, readFileSync(join(tree, doc), 'utf8')]).toEqual([doc, (await getDoc(f.api, machine, doc)).text]);
      }
      expect(readFileSync(join(tree, 'user-data'), 'utf8')).toContain(keys.first);
      expect(readFileSync(join(tree, 'network-config'), 'utf8')).toContain(leased.address);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // The token guards it like the documents; the answer is the shared 404.
    const wrong = await fetch(`${f.api.url}/cloud-init/${machine.id}/${'x'.repeat(32)}/cidata.iso`);
    expect(wrong.status).toBe(404);
    expect(await wrong.json()).toEqual({ error: 'not_found', detail: 'not found' });
  });

  it("cloud-init's own NoCloud reader fetches the seed over HTTP", async () => {
    const seed = await nocloudFetch(seedUrl(f.api, machine));
    expect(seed['meta-data']).toMatchObject({ 'instance-id': `hangar-${machine.id}`, 'local-hostname': machine.name });
    expect(seed['user-data']).toContain(keys.first);
    expect(seed['user-data'].startsWith('#cloud-config')).toBe(true);
    expect(seed['vendor-data']).toContain('#cloud-config');
  });

  it('also answers a seed URL written without its trailing slash', async () => {
    const res = await http(f.api.url, 'GET', `/cloud-init/${machine.id}/${machine.token}meta-data`);
    expect(res.status).toBe(200);
    expect(parse(res.text)).toMatchObject({ 'instance-id': `hangar-${machine.id}` });
    const wrong = await http(f.api.url, 'GET', `/cloud-init/${machine.id}/x${machine.token}meta-data`);
    expect(wrong.status).toBe(404);
  });

  it('a reserved lease is used when there is no active one; no lease means DHCP', async () => {
    const net = await createNetwork({ cidr: '10.78.0.0/24', gateway: '10.78.0.1' });
    const reservedOnly = await createMachine({ network_id: net.id });
    const l = await lease(net.id, { machine_id: reservedOnly.id, state: 'reserved' });
    const withReserved = parse((await getDoc(f.api, reservedOnly, 'network-config')).text);
    expect(withReserved.ethernets.eth0).toMatchObject({ match: { name: 'e*' }, addresses: [`${l.address}/24`] });

    const bare = await createMachine();
    const res = await getDoc(f.api, bare, 'network-config');
    expect(res.status).toBe(200);
    expect(parse(res.text)).toEqual({ version: 2, ethernets: { eth0: { match: { name: 'e*' }, dhcp4: true } } });
    const networkd = Object.values(await netConvert(res.text, 'networkd')).join('\n');
    expect(networkd).toMatch(/DHCP=(ipv4|yes)/);
    const user = await getDoc(f.api, bare, 'user-data');
    expect((parse(user.text) as Record<string, unknown>).ssh_authorized_keys).toEqual([]);
  });
});

/** The token with its last character changed (appending a fixed 'x' leaves a token ending in x intact). */
const otherLastChar = (token: string) => token.slice(0, -1) + (token.endsWith('x') ? 'y' : 'x');

describe('who may read what', () => {
  let a: { id: string; name: string; token: string };
  let b: { id: string; name: string; token: string };
  beforeAll(async () => {
    a = await createMachine();
    b = await createMachine();
  });

  it('wrong token, unknown machine, malformed id and unknown paths all get the same 404', async () => {
    const answers = await Promise.all([
      http(f.api.url, 'GET', `/cloud-init/${a.id}/${otherLastChar(a.token)}/meta-data`),
      http(f.api.url, 'GET', `/cloud-init/${a.id}/${'y'.repeat(1000)}/user-data`),
      http(f.api.url, 'GET', `/cloud-init/${randomUUID()}/${a.token}/meta-data`),
      http(f.api.url, 'GET', `/cloud-init/not-a-uuid/${a.token}/meta-data`),
      http(f.api.url, 'GET', `/cloud-init/${a.id}/${a.token}/secrets`),
      http(f.api.url, 'GET', `/cloud-init/${a.id}/${a.token}`),
      phoneHome(f.api, { id: a.id, token: 'nope' }, { instance_id: 'x' }),
      phoneHome(f.api, { id: 'not-a-uuid', token: a.token }, { instance_id: 'x' }),
    ]);
    for (const res of answers) {
      expect(res.status).toBe(404);
      expect(res.body).toEqual(NOT_FOUND);
    }
    expect(new Set(answers.map((r) => r.text)).size).toBe(1);
    // Bodies are parsed only after the token check: a huge body with a wrong token is a 404, not a 413.
    const huge = await phoneHome(f.api, { id: a.id, token: 'nope' }, `a=${'x'.repeat(300_000)}`);
    expect(huge.status).toBe(404);
    expect((await phoneHome(f.api, a, `a=${'x'.repeat(300_000)}`)).status).toBe(413);
  });

  it("a machine's token reads only that machine", async () => {
    for (const doc of DOCS) {
      const cross = await getDoc(f.api, { id: b.id, token: a.token }, doc);
      expect(cross.status).toBe(404);
      expect(cross.body).toEqual(NOT_FOUND);
    }
    const own = await getDoc(f.api, a, 'meta-data');
    expect(own.status).toBe(200);
    expect(own.text).toContain(a.name);
    expect(own.text).not.toContain(b.name);
    expect((await phoneHome(f.api, { id: b.id, token: a.token }, { instance_id: 'x' })).status).toBe(404);
    expect((await machineRecord(b.id)).phoned_home_at).toBeNull();
  });

  it('source-address paths answer 404 while the mode is off', async () => {
    for (const doc of DOCS) {
      const res = await http(f.api.url, 'GET', `/cloud-init/${doc}`);
      expect(res.status).toBe(404);
      expect(res.body).toEqual(NOT_FOUND);
    }
  });
});

describe('fetch record', () => {
  it('records the first fetch at once, with count, lastAt and from', async () => {
    const m = await createMachine();
    expect((await machineRecord(m.id)).metadata_fetches).toEqual({});
    const before = Date.now();
    expect((await getDoc(f.api, m, 'meta-data')).status).toBe(200);
    const fetches = (await machineRecord(m.id)).metadata_fetches;
    expect(fetches).toEqual({ 'meta-data': { count: 1, lastAt: expect.any(String), from: '127.0.0.1' } });
    expect(Date.parse(fetches['meta-data'].lastAt)).toBeGreaterThanOrEqual(before - 1000);
    // A failed fetch is not a fetch.
    await getDoc(f.api, { id: m.id, token: 'wrong' }, 'user-data');
    expect((await machineRecord(m.id)).metadata_fetches['user-data']).toBeUndefined();
  });

  it('counts every fetch, also concurrent and throttled ones, per document', async () => {
    const m = await createMachine();
    const results = await Promise.all(Array.from({ length: 25 }, () => getDoc(f.api, m, 'user-data')));
    expect(results.every((r) => r.status === 200)).toBe(true);
    await getDoc(f.api, m, 'network-config');
    // Throttled fetches reach the database within about a second.
    const fetches = await waitFor(
      '25 user-data fetches recorded',
      async () => {
        const rec = (await machineRecord(m.id)).metadata_fetches;
        return rec['user-data']?.count === 25 ? rec : null;
      },
      10_000,
    );
    expect(fetches['network-config']).toMatchObject({ count: 1, from: '127.0.0.1' });
    expect(fetches['meta-data']).toBeUndefined();
  });

  it('writes the counts not yet swept when the API shuts down, before its ORM closes', async () => {
    const m = await createMachine();
    const closing = await startApi(testConfig());
    try {
      // The first fetch is written at once; the next four wait for the once-a-second sweep.
      for (let i = 0; i < 5; i++) expect((await getDoc(closing, m, 'vendor-data')).status).toBe(200);
    } finally {
      // Closed at once, well inside the sweep's second: shutdown has to write the four itself.
      await closing.close();
    }
    expect((await machineRecord(m.id)).metadata_fetches['vendor-data']).toMatchObject({ count: 5, from: '127.0.0.1' });
  });
});

describe('phone-home', () => {
  it('records the urlencoded fields cloud-init posts and signals the running provision workflow', async () => {
    const m = await createMachine();
    const handle = f.api.temporal.workflow.getHandle(`provision-vm/${m.id}`);
    expect((await handle.describe()).status.name).toBe('RUNNING');
    const res = await phoneHome(f.api, m, {
      instance_id: `hangar-${m.id}`,
      hostname: m.name,
      fqdn: `${m.name}.lab.example`,
      pub_key_ed25519: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB root@host',
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'recorded' });
    const record = await machineRecord(m.id);
    expect(Date.parse(record.phoned_home_at)).not.toBeNaN();

    const history = await handle.fetchHistory();
    const signals = (history.events ?? []).map((e) => e.workflowExecutionSignaledEventAttributes).filter((s) => !!s);
    const signal = signals.find((s) => s.signalName === 'phoneHome');
    expect(signal).toBeDefined();
    const data = signal!.input?.payloads?.[0]?.data;
    expect(JSON.parse(Buffer.from(data!).toString('utf8'))).toMatchObject({ instance_id: `hangar-${m.id}`, hostname: m.name });
    await handle.terminate('phone-home test done');
  });

  it('keeps at most 20 string fields of up to 4 KiB, and JSON works too', async () => {
    const m = await createMachine();
    const fields = new URLSearchParams();
    fields.append('instance_id', 'i-1');
    fields.append('big', 'x'.repeat(4097));
    fields.append('twice', 'a');
    fields.append('twice', 'b');
    for (let i = 0; i < 30; i++) fields.append(`k${String(i).padStart(2, '0')}`, String(i));
    expect((await phoneHome(f.api, m, fields.toString())).status).toBe(200);
    const [row] = await f.api.orm.em
      .fork()
      .getConnection()
      .execute<{ phone_home_payload: Record<string, string> }[]>(`select phone_home_payload from machine where id = ?`, [m.id]);
    const payload = row!.phone_home_payload;
    expect(Object.keys(payload)).toHaveLength(20);
    expect(payload.instance_id).toBe('i-1');
    expect(payload).not.toHaveProperty('big');
    expect(payload).not.toHaveProperty('twice');
    expect(payload.k18).toBe('18');
    expect(payload).not.toHaveProperty('k19');

    const json = await http(f.api.url, 'POST', `/cloud-init/${m.id}/${m.token}/phone-home`, { body: { hostname: 'h', nested: { a: 1 } } });
    expect(json.status).toBe(200);
    const [again] = await f.api.orm.em
      .fork()
      .getConnection()
      .execute<{ phone_home_payload: unknown }[]>(`select phone_home_payload from machine where id = ?`, [m.id]);
    expect(again!.phone_home_payload).toEqual({ hostname: 'h' });
  });

  it('answers 200 when no workflow waits: finished or never started', async () => {
    const finished = await createMachine();
    await f.api.temporal.workflow.getHandle(`provision-vm/${finished.id}`).terminate('gone');
    const res = await phoneHome(f.api, finished, { instance_id: 'i', hostname: finished.name });
    expect(res.status).toBe(200);
    expect((await machineRecord(finished.id)).phoned_home_at).not.toBeNull();

    // A machine row that never had a workflow.
    const em = f.api.orm.em.fork();
    const id = randomUUID();
    const token = 'never-had-a-workflow-token';
    em.create(Machine, { id, name: unique('ci-bare'), provider: 'dryrun', cpu: 1, memoryMb: 256, diskGb: 1, metadataToken: token });
    await em.flush();
    const orphan = await phoneHome(f.api, { id, token }, { instance_id: 'i' });
    expect(orphan.status).toBe(200);
    expect(orphan.body).toEqual({ status: 'recorded' });
    expect((await machineRecord(id)).phoned_home_at).not.toBeNull();
  });
});

describe('source-address mode', () => {
  let proxied: TestApi;
  let direct: TestApi;
  let machine: { id: string; name: string; token: string };
  let address: string;

  beforeAll(async () => {
    proxied = await startApi(testConfig({ HANGAR_METADATA_SOURCE_MODE: 'true', HANGAR_METADATA_TRUSTED_PROXIES: '127.0.0.0/8' }));
    direct = await startApi(testConfig({ HANGAR_METADATA_SOURCE_MODE: 'true' }));
    const net = await createNetwork({ cidr: '10.79.0.0/24', gateway: '10.79.0.1' });
    machine = await createMachine({ network_id: net.id });
    address = (await lease(net.id, { machine_id: machine.id, state: 'active' })).address;
  });
  afterAll(async () => {
    await proxied?.close();
    await direct?.close();
  });

  it('behind a trusted proxy, the right-most untrusted X-Forwarded-For address identifies the machine', async () => {
    for (const xff of [address, `203.0.113.7, ${address}`, `${address}, 127.0.0.9`]) {
      const res = await http(proxied.url, 'GET', '/cloud-init/meta-data', { headers: { 'x-forwarded-for': xff } });
      expect(res.status).toBe(200);
      expect(parse(res.text)).toEqual({ 'instance-id': `hangar-${machine.id}`, 'local-hostname': machine.name });
    }
    // A client cannot claim another's address by putting it on the left.
    const spoofed = await http(proxied.url, 'GET', '/cloud-init/meta-data', { headers: { 'x-forwarded-for': `${address}, 10.250.0.9` } });
    expect(spoofed.status).toBe(404);
    expect(spoofed.body).toEqual(NOT_FOUND);
    const garbage = await http(proxied.url, 'GET', '/cloud-init/meta-data', { headers: { 'x-forwarded-for': `${address}, not-an-ip` } });
    expect(garbage.status).toBe(404);
  });

  it('user-data still phones home to the id/token URL, and the fetch records the client address', async () => {
    const res = await http(proxied.url, 'GET', '/cloud-init/user-data', { headers: { 'x-forwarded-for': address } });
    expect(res.status).toBe(200);
    const base = proxied.config.api.publicUrl.replace(/\/+$/, '');
    expect((parse(res.text) as Record<string, any>).phone_home.url).toBe(`${base}/cloud-init/${machine.id}/${machine.token}/phone-home`);
    expect((await machineRecord(machine.id)).metadata_fetches['user-data']).toMatchObject({ count: 1, from: address });
  });

  it('two machines holding the same active address get nothing', async () => {
    const n1 = await createNetwork({ cidr: '10.80.0.0/24' });
    const n2 = await createNetwork({ cidr: '10.80.0.0/24' });
    const m1 = await createMachine();
    const m2 = await createMachine();
    await lease(n1.id, { machine_id: m1.id, address: '10.80.0.10', state: 'active' });
    await lease(n2.id, { machine_id: m2.id, address: '10.80.0.10', state: 'active' });
    const res = await http(proxied.url, 'GET', '/cloud-init/meta-data', { headers: { 'x-forwarded-for': '10.80.0.10' } });
    expect(res.status).toBe(404);
    expect(res.body).toEqual(NOT_FOUND);
  });

  it('without trusted proxies X-Forwarded-For is ignored and the socket address decides', async () => {
    const ignored = await http(direct.url, 'GET', '/cloud-init/meta-data', { headers: { 'x-forwarded-for': address } });
    expect(ignored.status).toBe(404);
    expect(ignored.body).toEqual(NOT_FOUND);

    // A machine that really is at 127.0.0.1 is found by the socket address alone.
    const loop = await createNetwork({ cidr: '127.0.0.0/24' });
    const local = await createMachine();
    await lease(loop.id, { machine_id: local.id, address: '127.0.0.1', state: 'active' });
    try {
      const res = await http(direct.url, 'GET', '/cloud-init/meta-data', { headers: { 'x-forwarded-for': address } });
      expect(res.status).toBe(200);
      expect(parse(res.text)).toMatchObject({ 'instance-id': `hangar-${local.id}` });
    } finally {
      expect((await f.del(`/api/v1/networks/${loop.id}/leases/127.0.0.1`)).status).toBe(200);
    }
  });
});

describe('client address rule', () => {
  const trusted = { trusted: parseTrustedProxies('10.0.0.0/8, fd00::/8,192.0.2.1') };

  it('normalises IPv4-mapped peers and ignores the header from untrusted peers', () => {
    expect(clientAddress(trusted, '::ffff:203.0.113.5', '198.51.100.1')).toBe('203.0.113.5');
    expect(clientAddress({ trusted: [] }, '::ffff:10.0.0.5', '198.51.100.1')).toBe('10.0.0.5');
    expect(clientAddress(trusted, undefined, '198.51.100.1')).toBeNull();
  });

  it('reads X-Forwarded-For from the right, skipping trusted proxies', () => {
    expect(clientAddress(trusted, '::ffff:10.0.0.5', '1.1.1.1, 198.51.100.1, 10.2.3.4')).toBe('198.51.100.1');
    expect(clientAddress(trusted, '192.0.2.1', ['1.1.1.1', '198.51.100.2'])).toBe('198.51.100.2');
    expect(clientAddress(trusted, 'fd00::1', '2001:DB8::1, fd00::2')).toBe('2001:db8::1');
    expect(clientAddress(trusted, '10.0.0.5', '10.9.9.9, 10.8.8.8')).toBe('10.9.9.9');
    expect(clientAddress(trusted, '10.0.0.5', undefined)).toBe('10.0.0.5');
    expect(clientAddress(trusted, '10.0.0.5', '198.51.100.1, bogus')).toBeNull();
  });

  it('refuses a malformed trusted-proxy list and caps phone-home payloads', () => {
    expect(() => parseTrustedProxies('10.0.0.0/33')).toThrow(/TRUSTED_PROXIES/);
    expect(phoneHomePayload({ a: 'x', b: 1, c: ['y'] })).toEqual({ a: 'x' });
    expect(phoneHomePayload('text')).toEqual({});
  });
});

describe('logs', () => {
  it('never contain a metadata token', async () => {
    const { logger, lines } = capturingLogger('debug');
    const api = await startApi(testConfig(), logger);
    try {
      const m = await createMachine();
      expect((await getDoc(api, m, 'meta-data')).status).toBe(200);
      expect((await http(api.url, 'GET', `/cloud-init/${m.id}/${m.token}user-data`)).status).toBe(200);
      expect((await getDoc(api, { id: m.id, token: `${m.token}x` }, 'meta-data')).status).toBe(404);
      expect((await http(api.url, 'GET', `/cloud-init/${m.id}/${m.token}/nothing-here`)).status).toBe(404);
      expect((await phoneHome(api, m, { instance_id: 'i' })).status).toBe(200);
      await waitFor('access log lines', async () => lines.filter((l) => l.includes('"request"')).length >= 5, 5_000, 50);
      const cloudInitLines = lines.filter((l) => l.includes('/cloud-init/'));
      expect(cloudInitLines.length).toBeGreaterThanOrEqual(5);
      expect(cloudInitLines.some((l) => l.includes('[redacted]'))).toBe(true);
      for (const line of lines) expect(line).not.toContain(m.token);
    } finally {
      await api.close();
    }
  });
});
