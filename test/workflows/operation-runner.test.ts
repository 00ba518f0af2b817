// The operation runner every workflow uses, on a real Temporal test server: compensations are
// reported, a failed compensation is named in the failure (and the rest still run), cancellation
// is reported as cancelled, and a step not declared for the run fails instead of being invented.
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { WorkflowFailedError } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import type { Progress } from '../../domain/progress.ts';
import { progressQuery } from '../../workflows/contracts.ts';
import type { ProbeActivities, ProbeInput, probeOperation } from './fixtures/runner-workflows.ts';
import { createWorkflowEnv } from '../support/workflow-env.ts';
import type { TestWorkflowEnvironment } from '@temporalio/testing';

const PROBES = fileURLToPath(new URL('./fixtures/runner-workflows.ts', import.meta.url));

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await createWorkflowEnv();
}, 120_000);
afterAll(async () => {
  await env?.teardown();
});

async function run(
  input: ProbeInput,
  whileRunning?: (handle: { cancel(): Promise<unknown>; query: (q: typeof progressQuery) => Promise<Progress> }) => Promise<void>,
) {
  const calls: string[] = [];
  const activities: ProbeActivities = {
    async work(step) {
      calls.push(`work:${step}`);
    },
    async undo(name, cause, failedSoFar) {
      calls.push(`undo:${name}(${cause}; failed before: ${failedSoFar.join(',') || '-'})`);
      if (name === 'fail') throw ApplicationFailure.create({ type: 'provider_rejected', message: 'undo refused', nonRetryable: true });
    },
  };
  const taskQueue = `runner-${randomUUID()}`;
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowsPath: PROBES, activities });
  return worker.runUntil(async () => {
    const handle = await env.client.workflow.start<typeof probeOperation>('probeOperation', { taskQueue, workflowId: `probe-${randomUUID()}`, args: [input] });
    if (whileRunning) await whileRunning(handle);
    let error: unknown;
    await handle.result().catch((e: unknown) => {
      error = e;
    });
    return { error, calls, progress: await handle.query(progressQuery) };
  });
}

const steps = (p: Progress) => p.steps.map((s) => `${s.name}:${s.status}`);

describe('operation runner', () => {
  it('completes a run with every declared step and no compensation', async () => {
    const { error, calls, progress } = await run({ failAt: 'none' });
    expect(error).toBeUndefined();
    expect(progress.state).toBe('completed');
    expect(steps(progress)).toEqual(['prepare:completed', 'act:completed', 'finish:completed']);
    expect(calls).toEqual(['work:prepare', 'work:act', 'work:finish']);
  });

  it('unwinds newest first, reports each compensation and fails with the cause code and the report', async () => {
    const { error, calls, progress } = await run({ failAt: 'act' });
    expect(calls).toEqual([
      'work:prepare',
      'undo:unprepare(the provider said no; failed before: -)',
      'undo:mark-failed(the provider said no; failed before: -)',
    ]);
    expect(progress.state).toBe('failed');
    expect(progress.error).toEqual({ code: 'provider_rejected', message: 'the provider said no' });
    expect(steps(progress)).toEqual(['prepare:completed', 'act:failed', 'finish:pending', 'undo:unprepare:compensated', 'undo:mark-failed:compensated']);
    const cause = (error as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect(cause.type).toBe('provider_rejected');
    expect(cause.message).toBe('probing failed: the provider said no');
    expect(cause.details).toEqual([{ compensated: ['unprepare', 'mark-failed'], failed: [] }]);
  });

  it('names a failed compensation in the failure, still runs the others, and tells them what failed', async () => {
    const { error, calls, progress } = await run({ failAt: 'act', failingUndo: 'unprepare' });
    expect(calls).toEqual([
      'work:prepare',
      'undo:fail(the provider said no; failed before: -)',
      'undo:mark-failed(the provider said no; failed before: unprepare)',
    ]);
    expect(progress.steps.find((s) => s.name === 'undo:unprepare')).toMatchObject({ status: 'failed', error: 'undo refused' });
    expect(progress.steps.find((s) => s.name === 'undo:mark-failed')?.status).toBe('compensated');
    const cause = (error as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause.message).toBe('probing failed: the provider said no; compensation failed for unprepare (undo refused)');
    expect(cause.details).toEqual([{ compensated: ['mark-failed'], failed: [{ name: 'unprepare', code: 'provider_rejected', message: 'undo refused' }] }]);
  });

  it('reports a cancellation as cancelled after compensating, and the run closes as cancelled', async () => {
    const { error, calls, progress } = await run({ failAt: 'wait' }, async (handle) => {
      let p: Progress;
      do {
        await new Promise((r) => setTimeout(r, 100));
        p = await handle.query(progressQuery);
      } while (p.steps.find((s) => s.name === 'act')?.status !== 'running');
      await handle.cancel();
    });
    expect((error as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect(progress.state).toBe('cancelled');
    expect(progress.error?.code).toBe('cancelled');
    expect(steps(progress)).toEqual(['prepare:completed', 'act:failed', 'finish:pending', 'undo:unprepare:compensated', 'undo:mark-failed:compensated']);
    expect(calls).toHaveLength(3);
  });

  it('fails a step that this run did not declare instead of inventing it', async () => {
    const { error, progress } = await run({ failAt: 'none', skipFinish: true });
    const cause = (error as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause.type).toBe('internal');
    expect(cause.message).toContain('step "finish" is not declared for this probe run');
    expect(progress.steps.map((s) => s.name)).toEqual(['prepare', 'act', 'undo:unprepare', 'undo:mark-failed']);
  });
});
