// The one operation runner every workflow uses: a declared step list with the `progress` query,
// a compensation stack that is reported and never swallowed, cancellation reported as
// `cancelled` (and rethrown as a cancellation, so Temporal records the run as cancelled), and one
// failure envelope: an ApplicationFailure with the cause's code, a message naming any
// compensation that failed, and the compensation report as details.
import { ApplicationFailure, isCancellation, setHandler } from '@temporalio/workflow';
import { progressQuery, type WorkflowName } from '../contracts.ts';
import { CompensationStack, type CompensationReport, type Undo } from './compensation.ts';
import { ProgressTracker, describeFailure } from './progress.ts';

export interface OperationDefinition<S extends string> {
  workflow: WorkflowName;
  resourceId: string;
  /** The steps of this run, in order (see `stepsWhere` for steps that only some runs take). */
  steps: readonly S[];
  /** What failed, as the failure message starts: "provisioning web-1 failed". */
  failure: string;
}

export interface Operation<S extends string> {
  /** Runs a declared step, recording it in the progress. */
  step<T>(name: S, fn: () => Promise<T>): Promise<T>;
  /**
   * Registers an undo action, run newest-first if the operation fails or is cancelled. Register
   * it *before* the step it undoes: a step whose reply was lost must still be undone.
   */
  undo(name: string, fn: Undo): void;
  /** A best-effort step: a failure is recorded in the progress and returned as false, not thrown. */
  attempt(name: S, fn: () => Promise<unknown>): Promise<boolean>;
}

/** The declared steps minus those this run skips: `stepsWhere(STEPS, { 'reserve-lease': !!networkId })`. */
export function stepsWhere<const S extends string>(steps: readonly S[], include: Partial<Record<S, boolean>>): S[] {
  return steps.filter((s) => include[s] !== false);
}

export async function runOperation<const S extends string, R>(def: OperationDefinition<S>, body: (op: Operation<S>) => Promise<R>): Promise<R> {
  const progress = new ProgressTracker<S>(def.workflow, def.resourceId, def.steps);
  setHandler(progressQuery, () => progress.snapshot());
  const undo = new CompensationStack();
  const op: Operation<S> = {
    step: (name, fn) => progress.run(name, fn),
    undo: (name, fn) => undo.push(name, fn),
    attempt: async (name, fn) => {
      try {
        await progress.run(name, fn);
        return true;
      } catch (err) {
        if (isCancellation(err)) throw err;
        return false;
      }
    },
  };
  try {
    const result = await body(op);
    progress.setState('completed');
    return result;
  } catch (err) {
    const cause = describeFailure(err);
    let report: CompensationReport = { compensated: [], failed: [] };
    if (undo.size) {
      progress.setState('compensating', cause);
      report = await undo.unwind(progress, cause);
    }
    const cancelled = isCancellation(err);
    progress.setState(cancelled ? 'cancelled' : 'failed', cause);
    if (cancelled) throw err;
    throw operationFailure(def.failure, cause, report);
  }
}

/** The failure envelope: the cause's code, a message that names failed compensations, the report. */
export function operationFailure(what: string, cause: { code: string; message: string }, report: CompensationReport): ApplicationFailure {
  const leftovers = report.failed.length ? `; compensation failed for ${report.failed.map((f) => `${f.name} (${f.message})`).join(', ')}` : '';
  return ApplicationFailure.create({
    type: cause.code,
    message: `${what}: ${cause.message}${leftovers}`,
    nonRetryable: true,
    details: [report],
  });
}
