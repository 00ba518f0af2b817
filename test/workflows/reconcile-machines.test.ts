// The hypervisor observer as a real workflow (real Temporal, real PostgreSQL) against the dry-run
// provider's ledger: `missing` only after two complete scans, a partial listing marks nothing
// missing, a stopped VM is started again through vmPower only under `remediate` (provider policy or
// the machine's own), a Hangar-marked VM whose machine is gone is deleted only under `remediate`,
// and two scans at once open each finding once. Records the replay fixture when asked.
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { createMachineDriftActivities } from '../../activities/machine-drift-activities.ts';
import { Machine } from '../../db/entities/index.ts';
import { listFindings } from '../../db/repositories/drift.ts';
import { PgDryRunLedger } from '../../db/repositories/dryrun-ledger.ts';
import type { DriftPolicy } from '../../domain/drift.ts';
import { HangarError } from '../../domain/errors.ts';
import { DryRunProvider, type DryRunOptions } from '../../providers/dryrun/dryrun-provider.ts';
import { powerWorkflowId, reconcileWorkflowId, type WorkflowTypes } from '../../workflows/contracts.ts';
import { recordHistory } from '../support/histories.ts';
import { makeWorker, realActivities, useWorkflowEnv } from '../support/workflow-env.ts';

const ctx = useWorkflowEnv({ beforeAll, afterAll });
const ledger = () => new PgDryRunLedger(ctx.orm.em);

/** A ready dry-run machine; with `vm`, its pretend VM in the given power state with the machine's settings. */
async function readyMachine(opts: { vm?: 'running' | 'stopped'; driftPolicy?: DriftPolicy; powerState?: 'running' | 'stopped' } = {}) {
  const id = randomUUID();
  const providerId = `dry-${id}`;
  const em = ctx.orm.em.fork();
  em.create(Machine, {
    id,
    name: `drift-${id.slice(0, 8)}`,
    provider: 'dryrun',
    cpu: 2,
    memoryMb: 1024,
    diskGb: 10,
    metadataToken: 't',
    state: 'ready',
    providerId,
    powerState: opts.powerState ?? 'running',
    driftPolicy: opts.driftPolicy ?? null,
  });
  await em.flush();
  if (opts.vm) {
    await ledger().insertVm({ id: providerId, machineId: id, name: `drift-${id.slice(0, 8)}` });
    await ledger().updateVm(providerId, { cpu: 2, memoryMb: 1024, diskGb: 10, powerState: opts.vm });
  }
  return { id, providerId };
}

interface Run {
  target: string;
  /** Replaces the provider's listing (a fault the provider cannot be told to make). */
  inventory?: () => Promise<never>;
  policy?: DriftPolicy;
  dryrun?: DryRunOptions;
  /** Runs on the worker after the scan (e.g. waits for the vmPower the scan started). */
  after?: () => Promise<unknown>;
  workflowId?: string;
}

async function reconcile(run: Run) {
  const taskQueue = `reconcile-machines-${randomUUID()}`;
  const provider = new DryRunProvider(ledger(), run.dryrun ?? {});
  if (run.inventory) provider.inventory = run.inventory;
  const activities = {
    ...realActivities(ctx.orm, ctx.env),
    ...createMachineDriftActivities({ orm: ctx.orm, providers: { dryrun: provider }, temporal: ctx.env.client, taskQueue, shutdownTimeoutSec: 5 }),
  };
  const worker = await makeWorker(ctx.env, activities, taskQueue);
  const workflowId = run.workflowId ?? reconcileWorkflowId(`${run.target}-${randomUUID()}`);
  return worker.runUntil(async () => {
    const result = await ctx.env.client.workflow.execute<WorkflowTypes['reconcileMachines']>('reconcileMachines', {
      taskQueue,
      workflowId,
      args: [{ provider: 'dryrun', target: run.target, policy: run.policy ?? 'observe' }],
    });
    await run.after?.();
    return { result, workflowId };
  });
}

const openKinds = async (resourceId: string) => (await listFindings(ctx.orm.em, { resourceId, state: 'open', limit: 10 })).map((f) => f.kind).sort();
const ledgerPower = async (providerId: string) => (await ledger().findVm(providerId))?.powerState ?? null;
/** Remediation's audit events for a resource (findings' own drift.open/resolve events are on the finding). */
const audited = (resourceId: string) =>
  ctx.orm.em
    .getConnection()
    .execute<{ actor: string; action: string; finding_id: string }[]>(
      `select actor, action, detail->>'finding_id' as finding_id from audit_event where resource_id = ? order by id`,
      [resourceId],
    );
const newTarget = () => `dryrun-test-${randomUUID().slice(0, 8)}`;

describe('reconcileMachines (dry-run)', () => {
  it('calls a machine missing only after two complete scans, and a partial listing marks nothing missing', async () => {
    const target = newTarget();
    const gone = await readyMachine();
    const alsoGone = await readyMachine();
    const fine = await readyMachine({ vm: 'running' });

    // Partial listings (one page failed) never start the count.
    const partial = await reconcile({ target, dryrun: { failListingPage: 0 } });
    expect(partial.result.complete).toBe(false);
    await reconcile({ target, dryrun: { failListingPage: 0 } });
    expect(await openKinds(gone.id)).toEqual([]);

    const first = await reconcile({ target });
    expect(first.result.complete).toBe(true);
    expect(await openKinds(gone.id)).toEqual([]);
    // A partial scan between two complete ones neither completes nor resets the count.
    await reconcile({ target, dryrun: { failListingPage: 0 } });
    expect(await openKinds(gone.id)).toEqual([]);

    // alsoGone's VM appears before the second complete scan (a slow create): the count restarts.
    await ledger().insertVm({ id: alsoGone.providerId, machineId: alsoGone.id, name: 'also' });
    await ledger().updateVm(alsoGone.providerId, { cpu: 2, memoryMb: 1024, diskGb: 10, powerState: 'running' });
    await reconcile({ target });
    expect(await openKinds(gone.id)).toEqual(['missing']);
    expect(await openKinds(alsoGone.id)).toEqual([]);
    expect(await openKinds(fine.id)).toEqual([]);

    // A later partial listing resolves nothing it did not list.
    await reconcile({ target, dryrun: { failListingPage: 0 } });
    expect(await openKinds(gone.id)).toEqual(['missing']);
  }, 120_000);

  it('starts a stopped VM through vmPower only under remediate (the provider policy or the machine override); the finding then resolves', async () => {
    const target = newTarget();
    const observed = await readyMachine({ vm: 'stopped' });
    const overridden = await readyMachine({ vm: 'stopped', driftPolicy: 'remediate' });
    const userStopped = await readyMachine({ vm: 'stopped', powerState: 'stopped' });
    const waitPower = (id: string) => () => ctx.env.client.workflow.getHandle(powerWorkflowId(id)).result();

    const run = await reconcile({ target, policy: 'observe', after: waitPower(overridden.id) });
    recordHistory({ address: ctx.env.address, namespace: 'default' }, run.workflowId, 'reconcile-machines-completed');
    expect(run.result.remediated).toBe(1);
    // observe: reported, not undone; the machine set to remediate was started by an operation.
    expect(await openKinds(observed.id)).toEqual(['power_mismatch']);
    expect(await ledgerPower(observed.providerId)).toBe('stopped');
    expect(await ledgerPower(overridden.providerId)).toBe('running');
    expect(await openKinds(userStopped.id)).toEqual([]);
    const ops = await ctx.orm.em
      .getConnection()
      .execute<{ kind: string; workflow_id: string; requested_by: string }[]>(
        `select kind, workflow_id, requested_by from operation where resource_type = 'machine' and resource_id = ?`,
        [overridden.id],
      );
    expect(ops).toEqual([{ kind: 'start', workflow_id: powerWorkflowId(overridden.id), requested_by: `observer:${target}` }]);
    const [finding] = await listFindings(ctx.orm.em, { resourceId: overridden.id, limit: 10 });
    expect(finding).toMatchObject({ kind: 'power_mismatch', action_taken: 'start_vm' });
    expect(await audited(overridden.id)).toEqual([{ actor: `observer:${target}`, action: 'drift.start_vm', finding_id: finding!.id }]);

    const next = await reconcile({ target, policy: 'observe' });
    expect(next.result.remediated).toBe(0);
    const [resolved] = await listFindings(ctx.orm.em, { resourceId: overridden.id, limit: 10 });
    expect(resolved).toMatchObject({ state: 'resolved', action_taken: 'start_vm' });
    expect(await openKinds(observed.id)).toEqual(['power_mismatch']);
  }, 120_000);

  it('deletes a Hangar-marked VM whose machine is gone only under remediate; a failed machine keeps its VM', async () => {
    const target = newTarget();
    const orphanMachine = randomUUID();
    await ledger().insertVm({ id: `dry-${orphanMachine}`, machineId: orphanMachine, name: 'orphan' });
    const failed = await readyMachine({ vm: 'stopped' });
    await ctx.orm.em.getConnection().execute(`update machine set state = 'failed' where id = ?`, [failed.id]);
    const orphanId = `${target}/dry-${orphanMachine}`;

    await reconcile({ target, policy: 'observe' });
    expect(await openKinds(orphanId)).toEqual(['orphan']);
    expect(await ledger().findVm(`dry-${orphanMachine}`)).not.toBeNull();

    const fixing = await reconcile({ target, policy: 'remediate' });
    expect(fixing.result.remediated).toBeGreaterThanOrEqual(1);
    expect(await ledger().findVm(`dry-${orphanMachine}`)).toBeNull();
    expect(await ledger().findVm(failed.providerId)).not.toBeNull();
    expect(await openKinds(failed.id)).toEqual([]);
    await reconcile({ target, policy: 'observe' });
    const [finding] = await listFindings(ctx.orm.em, { resourceId: orphanId, limit: 10 });
    expect(finding).toMatchObject({ state: 'resolved', action_taken: 'delete_orphan' });
    expect(await audited(orphanId)).toEqual([{ actor: `observer:${target}`, action: 'drift.delete_orphan', finding_id: finding!.id }]);
  }, 120_000);

  it('two scans of one target at once open each finding once', async () => {
    const target = newTarget();
    const stopped = await readyMachine({ vm: 'stopped' });
    const changed = await readyMachine({ vm: 'running' });
    await ledger().updateVm(changed.providerId, { cpu: 8 });
    await Promise.all([reconcile({ target }), reconcile({ target }), reconcile({ target: `${target}-other` })]);
    const all = async (resourceId: string) => (await listFindings(ctx.orm.em, { resourceId, limit: 10 })).map((f) => `${f.kind}:${f.state}`);
    expect(await all(stopped.id)).toEqual(['power_mismatch:open']);
    expect(await all(changed.id)).toEqual(['config_mismatch:open']);
    const [config] = await listFindings(ctx.orm.em, { resourceId: changed.id, limit: 1 });
    expect([config!.desired, config!.observed]).toEqual([{ cpu: 2 }, { cpu: 8 }]);
  }, 120_000);

  it('records each scan for the metrics: its duration, a partial listing with its reason, and a listing that fails outright', async () => {
    const target = newTarget();
    await readyMachine({ vm: 'running' });
    const scanRow = async () =>
      (
        await ctx.orm.em
          .getConnection()
          .execute<{ last_duration_ms: number | null; failures: number; last_error: string | null; last_scan_complete: boolean }[]>(
            `select last_duration_ms::int as last_duration_ms, failures::int as failures, last_error, last_scan_complete from drift_scan_target where target = ?`,
            [target],
          )
      )[0];
    await reconcile({ target });
    const complete = await scanRow();
    expect(complete).toMatchObject({ last_scan_complete: true, failures: 0, last_error: null });
    expect(complete!.last_duration_ms).toEqual(expect.any(Number));

    await reconcile({ target, dryrun: { failListingPage: 0 } });
    expect(await scanRow()).toMatchObject({ last_scan_complete: false, last_error: expect.stringContaining('page 0') });

    const broken = reconcile({ target, inventory: () => Promise.reject(new HangarError('provider_rejected', 'the listing endpoint answered 403')) });
    await expect(broken).rejects.toThrow();
    const failed = await scanRow();
    expect(failed!.failures).toBeGreaterThan(complete!.failures);
    expect(failed!.last_error).toContain('403');
  }, 120_000);
});
