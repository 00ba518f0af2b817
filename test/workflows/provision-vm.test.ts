import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import { DryRunCall, DryRunVm, Machine } from '../../db/entities/index.ts';
import { HangarError } from '../../domain/errors.ts';
import { toActivityFailure } from '../../activities/failures.ts';
import { phoneHomeSignal, progressQuery, provisionWorkflowId, type WorkflowTypes } from '../../workflows/contracts.ts';
import type { Progress } from '../../domain/progress.ts';
import { insertMachine, makeWorker, realActivities, useWorkflowEnv } from '../support/workflow-env.ts';

const ctx = useWorkflowEnv({ beforeAll, afterAll });

async function effects(machineId: string): Promise<string[]> {
  const calls = await ctx.orm.em.fork().find(DryRunCall, { machineId }, { orderBy: { id: 'asc' } });
  return calls.map((c) => `${c.method}:${c.effect}`);
}

async function run(spec: Awaited<ReturnType<typeof insertMachine>>, activities: object) {
  const taskQueue = `wf-${randomUUID()}`;
  const worker = await makeWorker(ctx.env, activities, taskQueue);
  const handle = await ctx.env.client.workflow.start<WorkflowTypes['provisionVm']>('provisionVm', {
    taskQueue,
    workflowId: provisionWorkflowId(spec.machineId),
    args: [spec],
  });
  let error: unknown;
  let progress!: Progress;
  // A worker runs once; the query after completion needs it too (queries replay on a worker).
  await worker.runUntil(async () => {
    await handle.result().catch((e: unknown) => {
      error = e;
    });
    progress = await handle.query(progressQuery);
  });
  return { error, progress, handle };
}

describe('provisionVm workflow', () => {
  it('runs every step in order and marks the machine ready', async () => {
    const spec = await insertMachine(ctx.orm);
    const { error, progress } = await run(spec, realActivities(ctx.orm, ctx.env));
    expect(error).toBeUndefined();
    expect(progress.state).toBe('completed');
    expect(progress.steps.map((s) => `${s.name}:${s.status}`)).toEqual([
      'mark-provisioning:completed',
      'create:completed',
      'configure:completed',
      'start:completed',
      'mark-ready:completed',
    ]);
    expect((await ctx.orm.em.fork().findOneOrFail(Machine, { id: spec.machineId })).state).toBe('ready');
    expect(await effects(spec.machineId)).toEqual(['create:applied', 'configure:applied', 'start:applied']);
  });

  // A permanent failure at each step in turn: everything done before it is undone.
  const scenarios: { failAt: 'create' | 'configure' | 'start' | 'mark-ready'; expectedEffects: string[]; undone: string[] }[] = [
    { failAt: 'create', expectedEffects: ['delete:noop'], undone: ['undo:delete-vm'] },
    { failAt: 'configure', expectedEffects: ['create:applied', 'delete:applied'], undone: ['undo:delete-vm'] },
    { failAt: 'start', expectedEffects: ['create:applied', 'configure:applied', 'stop:noop', 'delete:applied'], undone: ['undo:stop-vm', 'undo:delete-vm'] },
    {
      failAt: 'mark-ready',
      expectedEffects: ['create:applied', 'configure:applied', 'start:applied', 'stop:applied', 'delete:applied'],
      undone: ['undo:stop-vm', 'undo:delete-vm'],
    },
  ];
  for (const { failAt, expectedEffects, undone } of scenarios) {
    it(`compensates everything done before a permanent failure at "${failAt}"`, async () => {
      const spec = await insertMachine(ctx.orm);
      const base = realActivities(ctx.orm, ctx.env, failAt === 'mark-ready' ? {} : { failStep: failAt });
      const activities =
        failAt === 'mark-ready'
          ? {
              ...base,
              async setMachineState(id: string, state: string, lastError: string | null = null) {
                if (state === 'ready') throw toActivityFailure(new HangarError('provider_rejected', 'inventory refused the ready state'));
                return base.setMachineState(id, state as never, lastError);
              },
            }
          : base;
      const { error, progress } = await run(spec, activities);
      expect(error).toBeInstanceOf(WorkflowFailedError);
      expect((error as WorkflowFailedError).cause).toMatchObject({ type: 'provider_rejected' });
      expect(progress.state).toBe('failed');
      expect(progress.steps.find((s) => s.name === failAt)?.status).toBe('failed');
      for (const name of undone) expect(progress.steps.find((s) => s.name === name)?.status).toBe('compensated');
      expect(await effects(spec.machineId)).toEqual(expectedEffects);
      expect(await ctx.orm.em.fork().count(DryRunVm, { machineId: spec.machineId })).toBe(0);
      const machine = await ctx.orm.em.fork().findOneOrFail(Machine, { id: spec.machineId });
      expect(machine.state).toBe('failed');
      expect(machine.lastError).toMatch(/injected permanent failure|refused the ready state/);
    });
  }

  it('reports a compensation that fails instead of swallowing it', async () => {
    const spec = await insertMachine(ctx.orm);
    const base = realActivities(ctx.orm, ctx.env, { failStep: 'start' });
    const activities = {
      ...base,
      async deleteVm() {
        throw toActivityFailure(new HangarError('provider_rejected', 'hypervisor refused to delete'));
      },
    };
    const { error, progress } = await run(spec, activities);
    const failure = error as WorkflowFailedError;
    expect(failure.cause?.message).toContain('compensation failed for delete-vm (hypervisor refused to delete)');
    expect(progress.steps.find((s) => s.name === 'undo:delete-vm')).toMatchObject({ status: 'failed', error: 'hypervisor refused to delete' });
    // The VM really is left behind, and the operation says so.
    expect(await ctx.orm.em.fork().count(DryRunVm, { machineId: spec.machineId })).toBe(1);
  });

  it('retries a transient failure with the shared preset, then succeeds', async () => {
    const spec = await insertMachine(ctx.orm);
    const base = realActivities(ctx.orm, ctx.env);
    let attempts = 0;
    const activities = {
      ...base,
      async createVm(s: typeof spec) {
        attempts++;
        if (attempts === 1) throw new Error('connection reset by hypervisor');
        return base.createVm(s);
      },
    };
    const started = Date.now();
    const { error, progress } = await run(spec, activities);
    expect(error).toBeUndefined();
    expect(progress.state).toBe('completed');
    expect(attempts).toBe(2);
    // The preset's first retry waits its initial interval (2 s).
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    expect(await effects(spec.machineId)).toEqual(['create:applied', 'configure:applied', 'start:applied']);
  });
});

describe('provisionVm phone-home wait', () => {
  it('waits for the phoneHome signal before marking the machine ready', async () => {
    const spec = { ...(await insertMachine(ctx.orm)), phoneHomeTimeout: '1m' };
    const taskQueue = `wf-${randomUUID()}`;
    const worker = await makeWorker(ctx.env, realActivities(ctx.orm, ctx.env), taskQueue);
    const progress = await worker.runUntil(async () => {
      const handle = await ctx.env.client.workflow.start<WorkflowTypes['provisionVm']>('provisionVm', {
        taskQueue,
        workflowId: provisionWorkflowId(spec.machineId),
        args: [spec],
      });
      // Until the signal, the workflow sits in wait-phone-home and the machine is not ready.
      let snapshot: Progress;
      do {
        await new Promise((r) => setTimeout(r, 100));
        snapshot = await handle.query(progressQuery);
      } while (snapshot.steps.find((s) => s.name === 'wait-phone-home')?.status !== 'running');
      expect((await ctx.orm.em.fork().findOneOrFail(Machine, { id: spec.machineId })).state).toBe('provisioning');
      await handle.signal(phoneHomeSignal, { instance_id: `hangar-${spec.machineId}`, hostname: spec.name });
      await handle.result();
      return handle.query(progressQuery);
    });
    expect(progress.steps.map((s) => `${s.name}:${s.status}`)).toEqual([
      'mark-provisioning:completed',
      'create:completed',
      'configure:completed',
      'start:completed',
      'wait-phone-home:completed',
      'mark-ready:completed',
    ]);
    expect((await ctx.orm.em.fork().findOneOrFail(Machine, { id: spec.machineId })).state).toBe('ready');
  });

  it('fails with a diagnosis when no phone-home arrives in time, and compensates', async () => {
    const spec = { ...(await insertMachine(ctx.orm)), phoneHomeTimeout: '2s' };
    // The machine fetched meta-data but never user-data: the diagnosis must say so.
    await ctx.orm.em
      .fork()
      .nativeUpdate(Machine, { id: spec.machineId }, { metadataFetches: { 'meta-data': { count: 1, lastAt: new Date().toISOString(), from: '10.0.0.9' } } });
    const { error, progress } = await run(spec, realActivities(ctx.orm, ctx.env));
    const failure = error as WorkflowFailedError;
    expect(failure.cause).toMatchObject({ type: 'phone_home_timeout' });
    expect(failure.cause?.message).toContain('no phone-home within 2s');
    expect(failure.cause?.message).toContain('fetched meta-data but not user-data');
    expect(progress.steps.find((s) => s.name === 'wait-phone-home')?.status).toBe('failed');
    expect(progress.steps.find((s) => s.name === 'undo:delete-vm')?.status).toBe('compensated');
    expect(await ctx.orm.em.fork().count(DryRunVm, { machineId: spec.machineId })).toBe(0);
    expect((await ctx.orm.em.fork().findOneOrFail(Machine, { id: spec.machineId })).state).toBe('failed');
  });
});
