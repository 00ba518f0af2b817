// The seed cache: within its window a changed machine still gets the cached row; tokens are still checked.
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { useApi, unique } from '../support/api-fixture.ts';
import { waitFor } from '../support/harness.ts';

const f = useApi({ beforeAll, afterAll }, { HANGAR_METADATA_CACHE_MS: '60000' });

describe('metadata seed cache', () => {
  it('serves repeated fetches from memory and still refuses a wrong token', async () => {
    const name = unique('cache');
    const created = await f.post('/api/v1/machines', { name, provider: 'dryrun', cpu: 1, memory_mb: 256, disk_gb: 1, domain: 'one.example' });
    const base = `${f.api.url}/cloud-init/${created.body.machine.id}/${created.body.metadata_token}`;
    const first = await (await fetch(`${base}/user-data`)).text();
    expect(first).toContain(`fqdn: ${name}.one.example`);
    // Change the database behind the API's back: a cached fetch cannot see it.
    await f.api.orm.em.getConnection().execute(`update machine set domain = 'two.example' where id = ?`, [created.body.machine.id]);
    const second = await (await fetch(`${base}/user-data`)).text();
    expect(second).toBe(first);
    // meta-data is a different cache entry (no keys, no network), fetched fresh.
    expect((await fetch(`${base}/meta-data`)).status).toBe(200);
    const wrong = await fetch(`${f.api.url}/cloud-init/${created.body.machine.id}/not-the-token/user-data`);
    expect(wrong.status).toBe(404);
    expect(await wrong.text()).not.toContain(name);
  });

  it('answers cached documents on the fast path with the same headers, fetch record and metrics', async () => {
    const created = await f.post('/api/v1/machines', { name: unique('fast'), provider: 'dryrun', cpu: 1, memory_mb: 256, disk_gb: 1 });
    const id = created.body.machine.id;
    const url = `${f.api.url}/cloud-init/${id}/${created.body.metadata_token}/meta-data`;
    const metric = async () => {
      const text = await (await fetch(`${f.api.url}/metrics`)).text();
      const line = text
        .split('\n')
        .find((l) => l.startsWith('hangar_http_requests_total{') && l.includes('route="/cloud-init/:machineId/:token/:doc"') && l.includes('status="200"'));
      return line ? Number(line.split(' ').at(-1)) : 0;
    };
    const before = await metric();
    const cold = await fetch(url);
    const bodies = [await cold.text()];
    for (let i = 0; i < 5; i++) {
      const warm = await fetch(url);
      expect(warm.status).toBe(200);
      expect(warm.headers.get('content-type')).toBe(cold.headers.get('content-type'));
      expect(warm.headers.get('cache-control')).toBe('no-store');
      bodies.push(await warm.text());
    }
    expect(new Set(bodies).size).toBe(1);
    expect(bodies[0]).toContain(`instance-id: hangar-${id}`);
    expect(await metric()).toBe(before + 6);
    // Every fetch is counted in the machine's record (throttled writes land within a couple of seconds).
    const counted = await waitFor(
      'the throttled fetch count',
      async () => {
        const machine = await f.get(`/api/v1/machines/${id}`);
        return machine.body.metadata_fetches['meta-data'].count === 6 ? machine.body : null;
      },
      10_000,
    );
    expect(counted.metadata_fetches['meta-data'].count).toBe(6);
    // A wrong token for a cached document falls through to the router's shared 404.
    const wrong = await fetch(url.replace(created.body.metadata_token, 'x'.repeat(32)));
    expect(wrong.status).toBe(404);
    expect(await wrong.json()).toEqual({ error: 'not_found', detail: 'not found' });
  });
});

// A short window, to see entries refreshed in the background before they expire.
const short = useApi({ beforeAll, afterAll }, { HANGAR_METADATA_CACHE_MS: '6000' });

describe('metadata seed cache refresh-ahead', () => {
  it('re-reads a document read late in its life, without serving anything older than the window', async () => {
    const name = unique('ahead');
    const created = await short.post('/api/v1/machines', { name, provider: 'dryrun', cpu: 1, memory_mb: 256, disk_gb: 1, domain: 'one.example' });
    const id = created.body.machine.id;
    const url = `${short.api.url}/cloud-init/${id}/${created.body.metadata_token}/user-data`;
    const filled = Date.now();
    expect(await (await fetch(url)).text()).toContain(`fqdn: ${name}.one.example`);
    await short.api.orm.em.getConnection().execute(`update machine set domain = 'two.example' where id = ?`, [id]);
    // Still inside the first half: the cached document, no refresh.
    expect(await (await fetch(url)).text()).toContain(`fqdn: ${name}.one.example`);
    // Past the latest refresh point (90 % of the window) the cached copy is served once more and
    // a re-read starts behind it...
    await new Promise((r) => setTimeout(r, Math.max(0, filled + 5450 - Date.now())));
    expect(await (await fetch(url)).text()).toContain(`fqdn: ${name}.one.example`);
    // ...so the change shows before the original entry would have expired (6 s after filling).
    const fresh = await waitFor(
      'the refreshed document',
      async () => {
        const text = await (await fetch(url)).text();
        return text.includes(`fqdn: ${name}.two.example`) ? text : null;
      },
      5_000,
      20,
    );
    expect(fresh).toContain('two.example');
    expect(Date.now() - filled).toBeLessThan(6000);
  });
});
