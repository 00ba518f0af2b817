// The inventory observer as a real workflow (real Temporal, real PostgreSQL): a lease held by a
// failed machine, a ready machine without its lease (missing only after two scans) and a claimed
// host no workflow drives become findings; `observe` changes nothing, `remediate` releases the
// leaked lease, and the finding then resolves. Records the replay fixture when asked.
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { createDriftActivities } from '../../activities/drift-activities.ts';
import { Host, Machine, Network } from '../../db/entities/index.ts';
import { listFindings } from '../../db/repositories/drift.ts';
import type { DriftPolicy } from '../../domain/drift.ts';
import { reconcileWorkflowId, type WorkflowTypes } from '../../workflows/contracts.ts';
import { recordHistory } from '../support/histories.ts';
import { makeWorker, useWorkflowEnv } from '../support/workflow-env.ts';

const ctx = useWorkflowEnv({ beforeAll, afterAll });

interface Fixture {
  leaseId: string;
  leaselessMachine: string;
  fineMachine: string;
  hostId: string;
  freshHostId: string;
}

async function seed(): Promise<Fixture> {
  const em = ctx.orm.em.fork();
  const octet = Math.floor(Math.random() * 200) + 20;
  const network = em.create(Network, {
    id: randomUUID(),
    name: `recon-${randomUUID().slice(0, 8)}`,
    cidr: `10.${octet}.${Math.floor(Math.random() * 250)}.0/24`,
    reserved: [],
    dnsServers: [],
    searchDomains: [],
  });
  const machine = (state: 'failed' | 'ready', networkId: string | null) =>
    em.create(Machine, {
      id: randomUUID(),
      name: `recon-${randomUUID().slice(0, 8)}`,
      provider: 'dryrun',
      cpu: 1,
      memoryMb: 512,
      diskGb: 1,
      metadataToken: 't',
      state,
      networkId,
    });
  const failed = machine('failed', network.id);
  const leaseless = machine('ready', network.id);
  const fine = machine('ready', network.id);
  const claimer = machine('ready', null);
  const freshClaimer = machine('ready', null);
  const host = (claimedBy: string) =>
    em.create(Host, {
      id: randomUUID(),
      name: `recon-host-${randomUUID().slice(0, 8)}`,
      bmcAddress: 'https://127.0.0.1:1/redfish/v1/Systems/1',
      username: 'u',
      passwordSealed: 'sealed',
      state: 'claimed',
      claimedBy,
    });
  const hostId = host(claimer.id).id;
  // Claimed a moment ago: its workflow may simply not have started yet.
  const freshHostId = host(freshClaimer.id).id;
  await em.flush();
  const conn = ctx.orm.em.getConnection();
  await conn.execute(`update host set updated_at = now() - interval '10 minutes' where id = ?`, [hostId]);
  const prefix = network.cidr.replace(/\.0\/24$/, '');
  const leaseId = randomUUID();
  const lease = `insert into ip_lease (id, network_id, address, machine_id, state, created_at, updated_at) values (?, ?, ?::inet, ?, 'active', now(), now())`;
  await conn.execute(lease, [leaseId, network.id, `${prefix}.10`, failed.id]);
  await conn.execute(lease, [randomUUID(), network.id, `${prefix}.11`, fine.id]);
  return { leaseId, leaselessMachine: leaseless.id, fineMachine: fine.id, hostId, freshHostId };
}

async function reconcile(policy: DriftPolicy) {
  const taskQueue = `reconcile-${randomUUID()}`;
  const worker = await makeWorker(ctx.env, createDriftActivities({ orm: ctx.orm, temporal: ctx.env.client }), taskQueue);
  const workflowId = reconcileWorkflowId(`inventory-test-${randomUUID()}`);
  const result = await worker.runUntil(
    ctx.env.client.workflow.execute<WorkflowTypes['reconcileInventory']>('reconcileInventory', { taskQueue, workflowId, args: [{ policy }] }),
  );
  return { result, workflowId };
}

const open = async (resourceId: string) => (await listFindings(ctx.orm.em, { resourceId, state: 'open', limit: 10 })).map((f) => f.kind);
const leaseState = async (id: string) =>
  (await ctx.orm.em.getConnection().execute<{ state: string }[]>(`select state from ip_lease where id = ?`, [id]))[0]?.state;

describe('reconcileInventory', () => {
  it('reports leaked leases, ready machines without their lease and host claims no workflow drives (after a grace period); remediate releases the leaked lease', async () => {
    const f = await seed();
    const first = await reconcile('observe');
    expect(first.result.opened).toBeGreaterThanOrEqual(2);
    expect(await open(f.leaseId)).toEqual(['orphan']);
    expect(await open(f.hostId)).toEqual(['orphan']);
    expect(await open(f.freshHostId)).toEqual([]);
    // One complete scan is not enough to call the lease missing.
    expect(await open(f.leaselessMachine)).toEqual([]);
    expect(await open(f.fineMachine)).toEqual([]);

    const second = await reconcile('observe');
    recordHistory({ address: ctx.env.address, namespace: 'default' }, second.workflowId, 'reconcile-inventory-completed');
    expect(await open(f.leaselessMachine)).toEqual(['missing']);
    // observe records only.
    expect(await leaseState(f.leaseId)).toBe('active');
    expect(second.result.remediated).toBe(0);

    const fixing = await reconcile('remediate');
    expect(fixing.result.remediated).toBeGreaterThanOrEqual(1);
    expect(await leaseState(f.leaseId)).toBe('released');
    const [finding] = await listFindings(ctx.orm.em, { resourceId: f.leaseId, limit: 10 });
    expect(finding).toMatchObject({ action_taken: 'release_lease' });
    const audit = await ctx.orm.em
      .getConnection()
      .execute<{ action: string }[]>(`select action from audit_event where resource_id = ? and resource_type = 'lease'`, [f.leaseId]);
    expect(audit).toEqual([{ action: 'drift.release_lease' }]);

    await reconcile('observe');
    const [after] = await listFindings(ctx.orm.em, { resourceId: f.leaseId, limit: 10 });
    expect(after).toMatchObject({ state: 'resolved', action_taken: 'release_lease' });
    // Remediation releases leases only: the host claim is still reported, not released.
    expect(await open(f.hostId)).toEqual(['orphan']);
    expect((await ctx.orm.em.fork().findOneOrFail(Host, { id: f.hostId })).state).toBe('claimed');
  }, 120_000);
});
