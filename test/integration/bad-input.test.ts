// Every endpoint answers bad input with a 4xx envelope, never a 500.
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { http } from '../support/harness.ts';
import { encodeCursor } from '../../api/pagination.ts';
import { useApi, unique } from '../support/api-fixture.ts';

const f = useApi({ beforeAll, afterAll });
let networkId = '';
let poolId = '';

beforeAll(async () => {
  networkId = (await f.post('/api/v1/networks', { name: unique('bad'), cidr: '10.250.0.0/24' })).body.id;
  poolId = (await f.post('/api/v1/pools', { name: unique('bad'), cidr: `10.${200 + (process.pid % 40)}.0.0/16` })).body.id;
});

const lists = () => [
  '/api/v1/machines',
  '/api/v1/ssh-keys',
  '/api/v1/networks',
  `/api/v1/networks/${networkId}/leases`,
  '/api/v1/accounts',
  '/api/v1/pools',
  `/api/v1/pools/${poolId}/blocks?prefix_length=24`,
  '/api/v1/blocks',
  '/api/v1/operations',
  '/api/v1/audit',
];
const creates = () => [
  '/api/v1/machines',
  '/api/v1/ssh-keys',
  '/api/v1/networks',
  `/api/v1/networks/${networkId}/leases`,
  '/api/v1/accounts',
  '/api/v1/pools',
  `/api/v1/pools/${poolId}/allocations`,
];
const join = (path: string, q: string) => `${path}${path.includes('?') ? '&' : '?'}${q}`;

describe('bad input on every endpoint', () => {
  it('refuses page_size beyond the cap and cursors this server never issued', async () => {
    for (const path of lists()) {
      const big = await f.get(join(path, 'page_size=100000'));
      expect({ path, status: big.status, field: Object.keys(big.body?.fields ?? {}) }).toEqual({ path, status: 400, field: ['page_size'] });
      const zero = await f.get(join(path, 'page_size=0'));
      expect({ path, status: zero.status }).toEqual({ path, status: 400 });
      const forged = await f.get(join(path, 'cursor=not-a-cursor!'));
      expect({ path, status: forged.status, field: Object.keys(forged.body?.fields ?? {}) }).toEqual({ path, status: 400, field: ['cursor'] });
      // Well-formed encoding, made-up contents: still a clean 400.
      for (const inner of ['x|y', 'zzz', '10.0.0.1|nope', '99999999999999999999999999999999999999999999']) {
        const decodable = await f.get(join(path, `cursor=${encodeCursor(inner)}`));
        expect({ path, inner, status: decodable.status }).toEqual({ path, inner, status: decodable.status === 200 ? 200 : 400 });
      }
    }
  });

  it('refuses bodies that are not JSON objects, and malformed JSON', async () => {
    for (const path of creates()) {
      const text = await http(f.api.url, 'POST', path, { token: f.operator, rawBody: 'name=x', headers: { 'content-type': 'text/plain' } });
      expect({ path, status: text.status, error: text.body?.error }).toEqual({ path, status: 400, error: 'validation_failed' });
      const broken = await http(f.api.url, 'POST', path, { token: f.operator, rawBody: '{"name": ', headers: { 'content-type': 'application/json' } });
      expect({ path, status: broken.status, error: broken.body?.error }).toEqual({ path, status: 400, error: 'malformed_json' });
      const array = await f.post(path, [1, 2, 3]);
      expect({ path, status: array.status }).toEqual({ path, status: 400 });
      const empty = await f.post(path, {});
      expect({ path, ok: empty.status < 500 }).toEqual({ path, ok: true });
    }
  });

  it('answers unknown ids with 404 and wrong types with 400, never 500', async () => {
    for (const path of [
      '/api/v1/ssh-keys/x',
      '/api/v1/networks/x',
      '/api/v1/accounts/x',
      '/api/v1/pools/x',
      `/api/v1/pools/${crypto.randomUUID()}/blocks?prefix_length=24`,
    ]) {
      const res = await f.get(path);
      expect({ path, status: res.status, error: res.body?.error }).toEqual({ path, status: 404, error: 'not_found' });
    }
    const weird = [
      ['/api/v1/networks', { name: 'x', cidr: 42 }],
      ['/api/v1/networks', { name: 'x', cidr: '10.0.0.0/24', vlan: 5000 }],
      ['/api/v1/pools', { name: 'x', cidr: ['10.0.0.0/8'] }],
      ['/api/v1/accounts', { key: null, name: 'x' }],
      [`/api/v1/pools/${poolId}/allocations`, { prefix_length: '24' }],
      [`/api/v1/networks/${networkId}/leases`, { address: 12 }],
    ] as const;
    for (const [path, body] of weird) {
      const res = await f.post(path, body);
      expect({ path, body, status: res.status }).toEqual({ path, body, status: 400 });
      expect(res.body.fields).toBeDefined();
    }
    expect((await f.get(`/api/v1/pools/${poolId}/blocks?prefix_length=abc`)).status).toBe(400);
    expect((await f.get(`/api/v1/pools/${poolId}/blocks`)).status).toBe(400);
    expect((await f.get(`/api/v1/pools/${poolId}/blocks?prefix_length=24&status=maybe`)).status).toBe(400);
  });
});
