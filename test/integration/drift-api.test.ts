// /api/v1/drift: list with filters and paging, get, and the operator's ignore (audited), on
// findings written by applyScan into the real database.
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { AuditEvent, Machine } from '../../db/entities/index.ts';
import { applyScan } from '../../db/repositories/drift.ts';
import { compareResources } from '../../domain/drift.ts';
import { waitFor } from '../support/harness.ts';
import { unique, useApi } from '../support/api-fixture.ts';

const f = useApi({ beforeAll, afterAll });

/** Opens a power_mismatch and an unmanaged finding under a fresh provider name; returns the resource ids. */
async function seedFindings(provider: string) {
  const managed = randomUUID();
  const stray = randomUUID();
  await applyScan(f.api.orm.em, {
    target: `api-${provider}`,
    provider,
    complete: true,
    differences: compareResources(
      [{ ref: { type: 'machine', id: managed, name: 'vm-a' }, power: 'running' }],
      [
        { ref: { type: 'machine', id: managed, name: 'vm-a' }, managed: true, power: 'stopped' },
        { ref: { type: 'qemu_instance', id: stray, name: 'by-hand' }, managed: false },
      ],
    ),
    judged: [`machine/${managed}`, `qemu_instance/${stray}`],
  });
  return { managed, stray };
}

describe('drift API', () => {
  it('lists findings filtered by provider, kind, resource and state, and pages through them', async () => {
    const provider = `p${randomUUID().slice(0, 8)}`;
    const { managed, stray } = await seedFindings(provider);
    const all = await f.get(`/api/v1/drift?provider=${provider}`);
    expect(all.status).toBe(200);
    expect(all.body.items.map((i: { kind: string }) => i.kind).sort()).toEqual(['power_mismatch', 'unmanaged']);
    const byKind = await f.get(`/api/v1/drift?provider=${provider}&kind=unmanaged`);
    expect(byKind.body.items).toEqual([expect.objectContaining({ resource_id: stray, resource_type: 'qemu_instance', state: 'open', desired: null })]);
    const byResource = await f.get(`/api/v1/drift?resource_id=${managed}`);
    expect(byResource.body.items).toEqual([expect.objectContaining({ kind: 'power_mismatch', desired: { power: 'running' }, observed: { power: 'stopped' } })]);
    expect((await f.get(`/api/v1/drift?provider=${provider}&state=resolved`)).body.items).toEqual([]);
    const first = await f.get(`/api/v1/drift?provider=${provider}&page_size=1`);
    expect(first.body.items).toHaveLength(1);
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const second = await f.get(`/api/v1/drift?provider=${provider}&page_size=1&cursor=${first.body.next_cursor}`);
    expect(second.body.items).toHaveLength(1);
    expect(second.body.items[0].id).not.toBe(first.body.items[0].id);
    expect(second.body.next_cursor).toBeNull();
  });

  it('exports open findings by kind and provider, and the last complete scan per target, in /metrics', async () => {
    const provider = `p${randomUUID().slice(0, 8)}`;
    await seedFindings(provider);
    const text = await (await fetch(`${f.api.url}/metrics`)).text();
    expect(text).toContain(`hangar_drift_open{kind="unmanaged",provider="${provider}"} 1`);
    expect(text).toContain(`hangar_drift_open{kind="power_mismatch",provider="${provider}"} 1`);
    const scan = new RegExp(`hangar_drift_last_complete_scan_timestamp_seconds\\{target="api-${provider}",provider="${provider}"\\} ([0-9.e+]+)`).exec(text);
    expect(Number(scan?.[1])).toBeGreaterThan(Date.now() / 1000 - 3600);
  });

  it('refuses an unknown kind or state with 400 naming the field', async () => {
    const res = await f.get('/api/v1/drift?kind=gone');
    expect(res.status).toBe(400);
    expect(res.body.fields).toHaveProperty('kind');
    expect((await f.get('/api/v1/drift?state=closed')).body.fields).toHaveProperty('state');
  });

  it('gets one finding; an unknown or malformed id is 404', async () => {
    const { stray } = await seedFindings(`p${randomUUID().slice(0, 8)}`);
    const [finding] = (await f.get(`/api/v1/drift?resource_id=${stray}`)).body.items;
    const one = await f.get(`/api/v1/drift/${finding.id}`);
    expect(one.status).toBe(200);
    expect(one.body).toEqual(finding);
    expect((await f.get(`/api/v1/drift/${randomUUID()}`)).status).toBe(404);
    expect((await f.get('/api/v1/drift/not-a-uuid')).status).toBe(404);
  });

  it('lets an operator (not a viewer) ignore a finding, and audits it', async () => {
    const { stray } = await seedFindings(`p${randomUUID().slice(0, 8)}`);
    const [finding] = (await f.get(`/api/v1/drift?resource_id=${stray}`)).body.items;
    expect((await f.post(`/api/v1/drift/${finding.id}/actions/ignore`, undefined, f.viewer)).status).toBe(403);
    const res = await f.post(`/api/v1/drift/${finding.id}/actions/ignore`, undefined);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: finding.id, state: 'ignored' });
    expect((await f.get(`/api/v1/drift?resource_id=${stray}&state=ignored`)).body.items).toHaveLength(1);
    const event = await waitFor('the audit event', () =>
      f.api.orm.em.fork().findOne(AuditEvent, { resourceId: finding.id, action: 'drift.ignore', statusCode: 200 }),
    );
    expect(event.detail).toMatchObject({ resource_id: stray, kind: 'unmanaged' });
  });

  it("shows a machine's and a host's open findings and a drift condition on GET /machines/{id} and /hosts/{id}", async () => {
    const em = f.api.orm.em.fork();
    const machineId = randomUUID();
    em.create(Machine, { id: machineId, name: unique('drifted'), provider: 'dryrun', cpu: 1, memoryMb: 256, diskGb: 1, metadataToken: randomUUID() });
    await em.flush();
    const host = await f.post('/api/v1/hosts', {
      name: unique('drifted-host'),
      bmc_address: 'redfish+http://127.0.0.1:9/redfish/v1/Systems/1',
      username: 'root',
      password: 'calvin',
    });
    expect([201, 202]).toContain(host.status);
    const hostId = host.body.host.id;

    const clean = await f.get(`/api/v1/machines/${machineId}`);
    expect(clean.body.drift).toEqual([]);
    expect(clean.body.conditions.map((c: { type: string }) => c.type)).not.toContain('drift');
    expect((await f.get(`/api/v1/hosts/${hostId}`)).body.drift).toEqual([]);

    const provider = `p${randomUUID().slice(0, 8)}`;
    await applyScan(f.api.orm.em, {
      target: `api-${provider}`,
      provider,
      complete: true,
      differences: [
        {
          ref: { type: 'machine', id: machineId, name: 'drifted' },
          kind: 'power_mismatch',
          desired: { power: 'running' },
          observed: { power: 'stopped' },
          createdByHangar: true,
        },
        { ref: { type: 'host', id: hostId, name: 'drifted-host' }, kind: 'unreachable', desired: null, observed: { error: 'timeout' }, createdByHangar: true },
      ],
      judged: [],
    });
    const machine = await f.get(`/api/v1/machines/${machineId}`);
    expect(machine.body.drift).toEqual([expect.objectContaining({ resource_id: machineId, kind: 'power_mismatch', state: 'open' })]);
    expect(machine.body.conditions).toContainEqual(
      expect.objectContaining({ type: 'drift', status: 'True', message: expect.stringContaining('power_mismatch') }),
    );
    const hostView = await f.get(`/api/v1/hosts/${hostId}`);
    expect(hostView.body.drift).toEqual([expect.objectContaining({ resource_id: hostId, kind: 'unreachable' })]);
    expect(hostView.body.conditions).toContainEqual(expect.objectContaining({ type: 'drift', status: 'True' }));

    // Ignored findings are no longer shown on the resource.
    await f.post(`/api/v1/drift/${machine.body.drift[0].id}/actions/ignore`, undefined);
    const after = await f.get(`/api/v1/machines/${machineId}`);
    expect(after.body.drift).toEqual([]);
    expect(after.body.conditions.map((c: { type: string }) => c.type)).not.toContain('drift');
  });
});
