// Step bookkeeping behind every workflow's `progress` query. Workflow time (`Date`) is
// deterministic inside the workflow sandbox, so these timestamps replay identically.
import { defineQuery } from '@temporalio/workflow';
import type { OperationState, Progress, ProgressStep, StepStatus } from '../../domain/progress.ts';

export const progressQuery = defineQuery<Progress>('progress');

export class ProgressTracker {
  private readonly progress: Progress;

  constructor(workflow: string, resourceId: string, stepNames: string[]) {
    const now = new Date().toISOString();
    this.progress = {
      workflow,
      resourceId,
      state: 'running',
      steps: stepNames.map((name) => ({ name, status: 'pending' })),
      startedAt: now,
      updatedAt: now,
    };
  }

  snapshot(): Progress {
    // structuredClone is not available in the workflow sandbox.
    return JSON.parse(JSON.stringify(this.progress)) as Progress;
  }

  private step(name: string): ProgressStep {
    let step = this.progress.steps.find((s) => s.name === name);
    if (!step) {
      step = { name, status: 'pending' };
      this.progress.steps.push(step);
    }
    return step;
  }

  mark(name: string, status: StepStatus, error?: string): void {
    const step = this.step(name);
    const now = new Date().toISOString();
    if (status === 'running') step.startedAt = now;
    else step.finishedAt = now;
    step.status = status;
    if (error) step.error = error;
    this.progress.updatedAt = now;
  }

  setState(state: OperationState, error?: { code: string; message: string }): void {
    this.progress.state = state;
    if (error) this.progress.error = error;
    this.progress.updatedAt = new Date().toISOString();
  }

  /** Runs one step, recording start, completion or failure. */
  async run<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.mark(name, 'running');
    try {
      const result = await fn();
      this.mark(name, 'completed');
      return result;
    } catch (err) {
      this.mark(name, 'failed', describeFailure(err).message);
      throw err;
    }
  }
}

/** The innermost cause of a Temporal failure: that is where the useful code and message are. */
export function describeFailure(err: unknown): { code: string; message: string } {
  let current: unknown = err;
  let code = 'internal';
  let message = err instanceof Error ? err.message : String(err);
  for (let depth = 0; current && depth < 8; depth++) {
    const e = current as { type?: string; message?: string; cause?: unknown; name?: string };
    if (e.type) code = e.type;
    if (e.name === 'CancelledFailure') code = 'cancelled';
    if (e.message) message = e.message;
    current = e.cause;
  }
  return { code, message };
}
