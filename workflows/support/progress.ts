// Step bookkeeping behind every workflow's `progress` query. The steps are declared up front
// (typed, so a misspelled name fails to compile, and checked at run time, so a step that was not
// declared for this run fails loudly instead of appearing from nowhere). Workflow time (`Date`)
// is deterministic inside the workflow sandbox, so these timestamps replay identically.
import { ApplicationFailure } from '@temporalio/workflow';
import type { OperationState, Progress, ProgressStep, StepStatus } from '../../domain/progress.ts';

/** Compensation steps appear in the progress as they run, under this prefix. */
export const UNDO_PREFIX = 'undo:';

export class ProgressTracker<S extends string = string> {
  private readonly progress: Progress;

  constructor(workflow: string, resourceId: string, stepNames: readonly S[]) {
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

  private declared(name: string): ProgressStep {
    const step = this.progress.steps.find((s) => s.name === name);
    if (!step) {
      throw ApplicationFailure.create({
        type: 'internal',
        message: `step "${name}" is not declared for this ${this.progress.workflow} run`,
        nonRetryable: true,
      });
    }
    return step;
  }

  private update(step: ProgressStep, status: StepStatus, error?: string): void {
    const now = new Date().toISOString();
    if (status === 'running') step.startedAt = now;
    else step.finishedAt = now;
    step.status = status;
    if (error) step.error = error;
    this.progress.updatedAt = now;
  }

  mark(name: S, status: StepStatus, error?: string): void {
    this.update(this.declared(name), status, error);
  }

  /** A compensation step: appended (as `undo:<name>`) when it starts, then updated. */
  markUndo(name: string, status: StepStatus, error?: string): void {
    const stepName = `${UNDO_PREFIX}${name}`;
    let step = this.progress.steps.find((s) => s.name === stepName);
    if (!step) {
      step = { name: stepName, status: 'pending' };
      this.progress.steps.push(step);
    }
    this.update(step, status, error);
  }

  setState(state: OperationState, error?: { code: string; message: string }): void {
    this.progress.state = state;
    if (error) this.progress.error = error;
    this.progress.updatedAt = new Date().toISOString();
  }

  /** Runs one step, recording start, completion or failure. */
  async run<T>(name: S, fn: () => Promise<T>): Promise<T> {
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
