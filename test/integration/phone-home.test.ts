// Seed → cloud-init's own NoCloud reader → phone-home → the waiting workflow finishes.
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningWorker } from '../../workers/worker.ts';
import { createToken, http, startApi, startInProcessWorker, testConfig, waitForOperation, type TestApi } from '../support/harness.ts';
import { nocloudFetch } from '../support/cloud-init-tools.ts';
import { unique } from '../support/api-fixture.ts';

let api: TestApi;
let worker: RunningWorker;
let token: string;

beforeAll(async () => {
  const config = testConfig({ HANGAR_PHONE_HOME_TIMEOUT: '2m' });
  api = await startApi(config);
  worker = await startInProcessWorker(config);
  token = await createToken(api.orm, 'operator');
});

afterAll(async () => {
  await worker?.shutdown();
  await api?.close();
});

describe('phone-home', () => {
  it('completes a provision when the machine phones home after reading its seed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hangar-ph-'));
    execFileSync('ssh-keygen', ['-q', '-N', '', '-t', 'ed25519', '-C', 'ph@test', '-f', join(dir, 'k')]);
    const publicKey = readFileSync(join(dir, 'k.pub'), 'utf8').trim();
    rmSync(dir, { recursive: true, force: true });
    const key = await http(api.url, 'POST', '/api/v1/ssh-keys', { token, body: { name: unique('ph'), public_key: publicKey } });
    const net = await http(api.url, 'POST', '/api/v1/networks', {
      token,
      body: { name: unique('ph'), cidr: '10.77.0.0/24', gateway: '10.77.0.1', dns_servers: ['10.77.0.53'] },
    });
    const name = unique('ph');
    const created = await http(api.url, 'POST', '/api/v1/machines', {
      token,
      body: { name, provider: 'dryrun', cpu: 1, memory_mb: 512, disk_gb: 2, ssh_key_ids: [key.body.id], network_id: net.body.id, wait_for_phone_home: true },
    });
    expect(created.status).toBe(202);
    const id = created.body.machine.id;
    await http(api.url, 'POST', `/api/v1/networks/${net.body.id}/leases`, { token, body: { machine_id: id, state: 'active' } });

    const seed = await http(api.url, 'GET', `/api/v1/machines/${id}/seed-url`, { token });
    expect(seed.body.url).toBe(`${api.config.api.publicUrl}/cloud-init/${id}/${created.body.metadata_token}/`);
    // The seed URL points at the configured public URL; the test reaches the same API on its port.
    const base = `${api.url}/cloud-init/${id}/${created.body.metadata_token}/`;
    const fetched = await nocloudFetch(base);
    expect(fetched['meta-data']).toMatchObject({ 'instance-id': `hangar-${id}`, 'local-hostname': name });
    expect(fetched['user-data']).toContain(publicKey);

    // Meanwhile the workflow waits.
    const waiting = await http(api.url, 'GET', `/api/v1/operations/${created.body.operation.id}`, { token });
    expect(waiting.body.status).toBe('running');

    const phoned = await fetch(`${base}phone-home`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ instance_id: `hangar-${id}`, hostname: name, fqdn: name, pub_key_ed25519: publicKey }).toString(),
    });
    expect(phoned.status).toBe(200);

    const op = await waitForOperation(api, token, created.body.operation.id);
    expect(op.status).toBe('completed');
    expect(op.progress.steps.find((s: { name: string }) => s.name === 'wait-phone-home').status).toBe('completed');
    const machine = await http(api.url, 'GET', `/api/v1/machines/${id}`, { token });
    expect(machine.body.state).toBe('ready');
    expect(machine.body.phone_home_payload).toMatchObject({ instance_id: `hangar-${id}`, hostname: name });
    expect(Object.keys(machine.body.metadata_fetches).sort()).toEqual(expect.arrayContaining(['meta-data', 'user-data']));
    expect(machine.body.addresses).toEqual([{ network_id: net.body.id, address: '10.77.0.2', state: 'active' }]);
  });
});
