// Activities that act on other workflows. One of them: settle a running workflow before an
// operation that must not race it (deprovisionVm settles the machine's provision, forceReleaseHost
// every workflow on the host).
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import { HangarError } from '../domain/errors.ts';
import { heartbeatIfInActivity, withFailureMapping } from './failures.ts';

export interface WorkflowControlDeps {
  temporal?: Client;
}

export function createWorkflowControlActivities(deps: WorkflowControlDeps) {
  return withFailureMapping({
    /**
     * Cancels the workflow if it runs (it compensates) and waits until it has closed; 'none' when
     * no such workflow exists, 'finished' when it had already closed.
     */
    async settleWorkflow(workflowId: string): Promise<'none' | 'finished' | 'cancelled'> {
      if (!deps.temporal) throw new HangarError('internal', 'settleWorkflow needs a Temporal client');
      const handle = deps.temporal.workflow.getHandle(workflowId);
      try {
        if ((await handle.describe()).status.name !== 'RUNNING') return 'finished';
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return 'none';
        throw err;
      }
      await handle.cancel();
      // Compensation may take minutes: heartbeats prove the wait is alive.
      const beat = setInterval(() => heartbeatIfInActivity(), 1000);
      try {
        await handle.result().catch(() => undefined);
      } finally {
        clearInterval(beat);
      }
      return 'cancelled';
    },
  });
}

export type WorkflowControlActivities = ReturnType<typeof createWorkflowControlActivities>;
