// Property tests through the real API: arbitrary unicode (NUL and lone surrogates included) in
// every text field of every create/update body, every list filter, cursor and path reference.
// Whatever arrives, the answer is never a 5xx: either success or a 4xx envelope, and text that
// PostgreSQL cannot store is a 400 naming the field it was in.
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import fc from 'fast-check';
import express from 'express';
import { capturingLogger, http, type HttpResult } from '../support/harness.ts';
import { useApi, unique } from '../support/api-fixture.ts';
import { at, awkwardText, ed25519PublicKey, encodeAny, isUnstorable, keyOf, type TextSlot } from '../support/awkward-text.ts';
import { encodeCursor } from '../../api/pagination.ts';
import { errorHandler } from '../../api/middleware/errors.ts';
import { requestContext } from '../../api/middleware/observability.ts';

const f = useApi({ beforeAll, afterAll });
const RUNS = { numRuns: 8 };
const ids = { network: '', pool: '', account: '', sshKey: '', machine: '', machineToken: '', host: '', cluster: '', template: '' };

beforeAll(async () => {
  const ok = (r: HttpResult, what: string) => {
    if (r.status >= 300) throw new Error(`seeding ${what}: ${r.status} ${r.text}`);
    return r.body;
  };
  ids.network = ok(await f.post('/api/v1/networks', { name: unique('uin'), cidr: '10.251.0.0/24' }), 'network').id;
  ids.pool = ok(await f.post('/api/v1/pools', { name: unique('uin'), cidr: `10.${160 + (process.pid % 30)}.0.0/16` }), 'pool').id;
  ids.account = ok(await f.post('/api/v1/accounts', { key: `aws:${String(Date.now()).slice(-12).padStart(12, '7')}`, name: 'uin' }), 'account').id;
  ids.sshKey = ok(await f.post('/api/v1/ssh-keys', { name: unique('uin'), public_key: ed25519PublicKey() }), 'ssh key').id;
  const machine = ok(await f.post('/api/v1/machines', { name: unique('uin'), provider: 'dryrun', cpu: 1, memory_mb: 512, disk_gb: 1 }), 'machine');
  ids.machine = machine.machine.id;
  ids.machineToken = machine.metadata_token;
  const host = ok(
    await f.post('/api/v1/hosts', {
      name: unique('uin'),
      bmc_address: 'redfish+http://127.0.0.1:9/redfish/v1/Systems/1',
      username: 'root',
      password: 'calvin',
    }),
    'host',
  );
  ids.host = host.host.id;
  // Parked, so that no other suite's "any available host" provision claims it.
  ok(await f.post(`/api/v1/hosts/${ids.host}/actions/maintenance-on`, {}), 'host maintenance');
  ids.cluster = ok(await f.post('/api/v1/clusters', { name: unique('uin') }), 'cluster').id;
  ids.template = ok(
    await f.post('/api/v1/templates', { name: unique('uin'), provider: 'dryrun', image: '/var/lib/images/base.qcow2' }),
    'template',
  ).template.name;
});

/** Fails with the request and the answer when the API answered 5xx or without the envelope. */
function expectClientOutcome(what: string, res: HttpResult, mustRefuse: string | null): void {
  const seen = { what, status: res.status, body: res.text.slice(0, 300) };
  expect({ ...seen, serverError: res.status >= 500 }).toEqual({ ...seen, serverError: false });
  if (res.status >= 400) {
    expect({ ...seen, envelope: typeof res.body?.error === 'string' && typeof res.body?.detail === 'string' }).toEqual({ ...seen, envelope: true });
  }
  if (mustRefuse !== null) {
    const fields = Object.keys(res.body?.fields ?? {});
    const named = fields.some((k) => k === mustRefuse || k.startsWith(`${mustRefuse}.`));
    expect({ ...seen, status400: res.status, named }).toEqual({ ...seen, status400: 400, named: true });
  }
}

interface BodyCase {
  method: 'POST' | 'PATCH';
  path: () => string;
  body: () => Record<string, unknown>;
  slots: TextSlot[];
  token?: 'admin';
}

const slots = (...paths: string[]) => paths.map(at);
const redfishImage = 'http://images.example/installer.iso';
const bodyCases: Record<string, BodyCase> = {
  'create ssh key': {
    method: 'POST',
    path: () => '/api/v1/ssh-keys',
    body: () => ({ name: unique('k'), public_key: ed25519PublicKey() }),
    slots: slots('name', 'public_key'),
  },
  'update ssh key': { method: 'PATCH', path: () => `/api/v1/ssh-keys/${ids.sshKey}`, body: () => ({ name: unique('k') }), slots: slots('name') },
  'create network': {
    method: 'POST',
    path: () => '/api/v1/networks',
    body: () => ({ name: unique('n'), cidr: '10.252.0.0/24' }),
    slots: slots('name', 'cidr', 'gateway', 'dns_servers.0', 'search_domains.0', 'bridge', 'range_start', 'range_end', 'reserved.0'),
  },
  'update network': {
    method: 'PATCH',
    path: () => `/api/v1/networks/${ids.network}`,
    body: () => ({}),
    slots: slots('gateway', 'dns_servers.0', 'search_domains.0', 'bridge', 'range_start', 'range_end', 'reserved.0'),
  },
  'create lease': { method: 'POST', path: () => `/api/v1/networks/${ids.network}/leases`, body: () => ({}), slots: slots('address', 'mac') },
  'create account': {
    method: 'POST',
    path: () => '/api/v1/accounts',
    body: () => ({ key: 'gcp:hangar-uin-test', name: 'x' }),
    slots: slots('key', 'name', 'platform', 'environment', 'regions.0'),
  },
  'update account': {
    method: 'PATCH',
    path: () => `/api/v1/accounts/${ids.account}`,
    body: () => ({}),
    slots: slots('name', 'platform', 'environment', 'regions.0'),
  },
  'create pool': {
    method: 'POST',
    path: () => '/api/v1/pools',
    body: () => ({ name: unique('p'), cidr: '172.31.0.0/16' }),
    slots: [...slots('name', 'cidr', 'description', 'tags.env'), keyOf('tags')],
  },
  'update pool': {
    method: 'PATCH',
    path: () => `/api/v1/pools/${ids.pool}`,
    body: () => ({}),
    slots: [...slots('name', 'description', 'tags.env'), keyOf('tags')],
  },
  'create allocation': { method: 'POST', path: () => `/api/v1/pools/${ids.pool}/allocations`, body: () => ({ prefix_length: 28 }), slots: slots('name') },
  'allocate by cidr': { method: 'POST', path: () => `/api/v1/pools/${ids.pool}/allocations`, body: () => ({}), slots: slots('cidr') },
  'create machine': {
    method: 'POST',
    path: () => '/api/v1/machines',
    body: () => ({ name: unique('m'), provider: 'dryrun', cpu: 1, memory_mb: 512, disk_gb: 1 }),
    slots: [
      ...slots('name', 'template', 'node', 'mac', 'bridge', 'domain', 'user_data_extras.motd', 'user_data_extras.write_files.0.content'),
      keyOf('user_data_extras'),
    ],
  },
  'update machine': {
    method: 'PATCH',
    path: () => `/api/v1/machines/${ids.machine}`,
    body: () => ({}),
    slots: [...slots('domain', 'user_data_extras.motd'), keyOf('user_data_extras')],
  },
  'attach disk': { method: 'POST', path: () => `/api/v1/machines/${ids.machine}/disks`, body: () => ({ size_gb: 1 }), slots: slots('storage') },
  'create template': {
    method: 'POST',
    path: () => '/api/v1/templates',
    body: () => ({ name: unique('t'), provider: 'dryrun', image: '/var/lib/images/base.qcow2' }),
    slots: slots('name', 'image', 'checksum', 'node', 'storage'),
  },
  'create host': {
    method: 'POST',
    path: () => '/api/v1/hosts',
    body: () => ({ name: unique('h'), bmc_address: 'redfish+http://127.0.0.1:9/redfish/v1/Systems/1', username: 'root', password: 'calvin' }),
    slots: slots('name', 'bmc_address', 'username', 'password', 'ca_pem', 'fingerprint', 'boot_mac', 'tags.0', 'description'),
  },
  'update host': {
    method: 'PATCH',
    path: () => `/api/v1/hosts/${ids.host}`,
    body: () => ({}),
    slots: slots('bmc_address', 'username', 'password', 'ca_pem', 'fingerprint', 'boot_mac', 'tags.0', 'description'),
  },
  'provision host': {
    method: 'POST',
    path: () => '/api/v1/hosts/provision',
    body: () => ({ name: unique('b'), image_url: redfishImage, tags: [`no-such-${process.pid}`] }),
    slots: [...slots('name', 'image_url', 'tags.0', 'phone_home_timeout', 'claim_timeout', 'domain', 'user_data_extras.motd'), keyOf('user_data_extras')],
  },
  'provision host by name': {
    method: 'POST',
    path: () => '/api/v1/hosts/provision',
    body: () => ({ name: unique('b'), image_url: redfishImage }),
    slots: slots('host'),
  },
  'provision host from template': {
    method: 'POST',
    path: () => '/api/v1/hosts/provision',
    body: () => ({ name: unique('b'), tags: [`no-such-${process.pid}`] }),
    slots: slots('template'),
  },
  'create redfish machine': {
    method: 'POST',
    path: () => '/api/v1/machines',
    body: () => ({ provider: 'redfish', name: unique('b'), image_url: redfishImage, tags: [`no-such-${process.pid}`] }),
    slots: slots('name', 'image_url', 'tags.0', 'domain', 'user_data_extras.motd'),
  },
  'deprovision host': {
    method: 'POST',
    path: () => `/api/v1/hosts/${ids.host}/actions/deprovision`,
    body: () => ({}),
    slots: slots('wipe_image_url', 'wipe_timeout'),
  },
  'create cluster': {
    method: 'POST',
    path: () => '/api/v1/clusters',
    body: () => ({ name: unique('c') }),
    slots: slots('name', 'control_plane_vip', 'description'),
  },
  'update cluster': { method: 'PATCH', path: () => `/api/v1/clusters/${ids.cluster}`, body: () => ({}), slots: slots('control_plane_vip', 'description') },
  'add cluster machine': {
    method: 'POST',
    path: () => `/api/v1/clusters/${ids.cluster}/machines`,
    body: () => ({ role: 'worker' }),
    slots: slots('machine_id', 'role'),
  },
  'create token': { method: 'POST', path: () => '/api/v1/tokens', body: () => ({ role: 'viewer' }), slots: slots('name', 'role'), token: 'admin' },
};

describe('text PostgreSQL cannot store, in request bodies', () => {
  for (const [name, c] of Object.entries(bodyCases)) {
    it(`${name}: never a 5xx; NUL and lone surrogates are a 400 naming the field`, async () => {
      for (const slot of c.slots) {
        await fc.assert(
          fc.asyncProperty(awkwardText, async (text) => {
            const body = slot.put(c.body(), text);
            const res = await http(f.api.url, c.method, c.path(), { token: c.token === 'admin' ? f.admin : f.operator, body });
            expectClientOutcome(`${c.method} ${c.path()} ${slot.field}=${JSON.stringify(text).slice(0, 80)}`, res, isUnstorable(text) ? slot.field : null);
          }),
          RUNS,
        );
      }
    });
  }
});

const lists: Record<string, { path: () => string; filters: string[]; unpaged?: true }> = {
  machines: { path: () => '/api/v1/machines', filters: ['state', 'provider', 'network', 'name_prefix'] },
  'ssh keys': { path: () => '/api/v1/ssh-keys', filters: [] },
  networks: { path: () => '/api/v1/networks', filters: [] },
  leases: { path: () => `/api/v1/networks/${ids.network}/leases`, filters: ['state'] },
  accounts: { path: () => '/api/v1/accounts', filters: ['provider', 'q'] },
  pools: { path: () => '/api/v1/pools', filters: ['parent_id', 'root', 'account_id'] },
  'pool blocks': { path: () => `/api/v1/pools/${ids.pool}/blocks?prefix_length=24`, filters: ['status', 'prefix_length'] },
  'pool allocations': { path: () => `/api/v1/pools/${ids.pool}/allocations`, filters: [], unpaged: true },
  blocks: { path: () => '/api/v1/blocks', filters: ['account', 'pool', 'within', 'format'] },
  operations: { path: () => '/api/v1/operations', filters: ['resource_id', 'kind'] },
  audit: { path: () => '/api/v1/audit', filters: ['actor', 'resource_id'] },
  templates: { path: () => '/api/v1/templates', filters: ['provider', 'state'] },
  hosts: { path: () => '/api/v1/hosts', filters: ['state', 'tag'] },
  clusters: { path: () => '/api/v1/clusters', filters: [] },
  tokens: { path: () => '/api/v1/tokens', filters: [], unpaged: true },
  disks: { path: () => `/api/v1/machines/${ids.machine}/disks`, filters: [], unpaged: true },
};
const withQuery = (path: string, key: string, value: string) => `${path}${path.includes('?') ? '&' : '?'}${key}=${encodeAny(value)}`;

describe('text PostgreSQL cannot store, in list filters and cursors', () => {
  for (const [name, list] of Object.entries(lists)) {
    it(`${name}: every filter, the cursor and page_size answer 2xx or a 4xx envelope`, async () => {
      for (const param of [...list.filters, 'cursor', 'page_size']) {
        await fc.assert(
          fc.asyncProperty(awkwardText, async (text) => {
            const res = await http(f.api.url, 'GET', withQuery(list.path(), param, text), { token: f.admin });
            // A lone surrogate cannot travel in a URL (it arrives as U+FFFD); NUL does.
            expectClientOutcome(`GET ${name} ${param}=${JSON.stringify(text).slice(0, 80)}`, res, text.includes('\u0000') ? param : null);
          }),
          RUNS,
        );
      }
      // A well-encoded cursor with text inside that PostgreSQL cannot store (unpaged lists ignore cursors).
      if (!list.unpaged)
        await fc.assert(
          fc.asyncProperty(awkwardText, async (text) => {
            const res = await http(f.api.url, 'GET', withQuery(list.path(), 'cursor', encodeCursor(text)), { token: f.admin });
            expectClientOutcome(`GET ${name} cursor(${JSON.stringify(text).slice(0, 80)})`, res, isUnstorable(text) ? 'cursor' : null);
          }),
          RUNS,
        );
    });
  }

  it('refuses a forged operations cursor whose date PostgreSQL cannot store', async () => {
    for (const at of ['0000-01-01T00:00:00.000Z', '0000-12-31T23:59:59.999Z', '2026-02-30T00:00:00.000Z']) {
      const res = await f.get(withQuery('/api/v1/operations', 'cursor', encodeCursor(`${at}|${crypto.randomUUID()}`)));
      expect({ at, status: res.status, fields: res.body?.fields }).toEqual({ at, status: 400, fields: { cursor: 'invalid' } });
    }
  });
});

describe('text PostgreSQL cannot store, in paths, headers and the metadata service', () => {
  const refs = () => [
    '/api/v1/templates/',
    '/api/v1/clusters/',
    '/api/v1/hosts/',
    '/api/v1/machines/',
    '/api/v1/ssh-keys/',
    '/api/v1/operations/',
    `/api/v1/clusters/${ids.cluster}/machines/`,
    `/api/v1/networks/${ids.network}/leases/`,
    '/cloud-init/',
  ];
  it('path references: never a 5xx; undecodable or NUL segments are a 400 naming the path', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...refs()), awkwardText, async (prefix, text) => {
        const method = prefix.includes('/machines/') && prefix.includes('clusters') ? 'DELETE' : prefix.includes('/leases/') ? 'DELETE' : 'GET';
        const res = await http(f.api.url, method, `${prefix}${encodeAny(text)}`, { token: f.admin });
        expectClientOutcome(`${method} ${prefix}${JSON.stringify(text).slice(0, 80)}`, res, isUnstorable(text) ? 'path' : null);
      }),
      { numRuns: 60 },
    );
  });

  it('an Idempotency-Key on a request with a URL far longer than 255 characters', async () => {
    const path = `/api/v1/ssh-keys?${'note=long-url&'.repeat(40)}x=1`;
    const body = { name: unique('idem'), public_key: ed25519PublicKey() };
    const headers = { 'idempotency-key': `long-url-${crypto.randomUUID()}` };
    const first = await http(f.api.url, 'POST', path, { token: f.operator, body, headers });
    expect(first.status).toBe(201);
    const again = await http(f.api.url, 'POST', path, { token: f.operator, body, headers });
    expect({ status: again.status, replayed: again.headers.get('idempotent-replayed'), id: again.body.id }).toEqual({
      status: 201,
      replayed: 'true',
      id: first.body.id,
    });
  });

  it('the phone-home body (unauthenticated): fields PostgreSQL cannot store are dropped, never a 5xx', async () => {
    const url = `/cloud-init/${ids.machine}/${ids.machineToken}/phone-home`;
    await fc.assert(
      fc.asyncProperty(awkwardText, awkwardText, async (key, value) => {
        const json = await http(f.api.url, 'POST', url, { body: { hostname: value, [key]: value, instance_id: 'i-1' } });
        expectClientOutcome(`phone-home json ${JSON.stringify(value).slice(0, 60)}`, json, null);
        expect(json.status).toBe(200);
        const form = await http(f.api.url, 'POST', url, {
          rawBody: `hostname=${encodeAny(value)}&${encodeAny(key)}=${encodeAny(value)}`,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        });
        expectClientOutcome(`phone-home form ${JSON.stringify(value).slice(0, 60)}`, form, null);
        expect(form.status).toBe(200);
      }),
      RUNS,
    );
    await http(f.api.url, 'POST', url, { body: { hostname: 'bad\u0000name', instance_id: 'i-2' } });
    const machine = await f.get(`/api/v1/machines/${ids.machine}`);
    expect(machine.body.phone_home_payload).toEqual({ instance_id: 'i-2' });
  });
});

describe('the error mapper for PostgreSQL data exceptions (SQLSTATE class 22)', () => {
  it('answers a real data exception with a 400 envelope and logs it as a defect', async () => {
    let refusal: unknown;
    try {
      // jsonb refuses the NUL escape: untranslatable_character (22P05).
      await f.api.orm.em.fork().getConnection().execute(`select ?::jsonb as j`, ['{"motd": "nul\\u0000inside"}']);
    } catch (err) {
      refusal = err;
    }
    expect((refusal as { code?: string }).code).toMatch(/^22/);
    const captured = capturingLogger('warn');
    const app = express();
    app.use(requestContext(captured.logger));
    app.get('/refused', () => {
      throw refusal;
    });
    app.use(errorHandler);
    const server = await new Promise<import('node:http').Server>((r) => {
      const s = app.listen(0, '127.0.0.1', () => r(s));
    });
    try {
      const res = await http(`http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`, 'GET', '/refused');
      expect({ status: res.status, error: res.body.error }).toEqual({ status: 400, error: 'validation_failed' });
      expect(res.body.detail).toMatch(/cannot be stored \(SQLSTATE 22\w{3}\)/);
      const defect = captured.lines.map((l) => JSON.parse(l) as { level: number; sqlState?: string; msg: string }).find((l) => l.sqlState);
      expect(defect).toMatchObject({ level: 50, sqlState: (refusal as { code: string }).code });
      expect(defect!.msg).toMatch(/validation gap/);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
