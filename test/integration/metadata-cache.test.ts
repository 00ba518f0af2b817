// The seed cache: within its window a changed machine still gets the cached row; tokens are still checked.
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { useApi, unique } from '../support/api-fixture.ts';

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
  });
});
