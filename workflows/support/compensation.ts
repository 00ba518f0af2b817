// A stack of undo actions. On failure it runs them newest-first inside a non-cancellable scope
// (so a cancelled workflow still cleans up), records each in the progress and reports every
// compensation that failed; nothing is swallowed.
import { CancellationScope } from '@temporalio/workflow';
import { describeFailure, type ProgressTracker } from './progress.ts';

/** What an undo action knows when it runs: why the operation failed and which undos failed before it. */
export interface UnwindContext {
  cause: { code: string; message: string };
  failedSoFar: string[];
}

export type Undo = (ctx: UnwindContext) => Promise<unknown>;

export interface CompensationReport {
  compensated: string[];
  failed: { name: string; code: string; message: string }[];
}

export class CompensationStack {
  private readonly stack: { name: string; undo: Undo }[] = [];

  push(name: string, undo: Undo): void {
    this.stack.push({ name, undo });
  }

  get size(): number {
    return this.stack.length;
  }

  async unwind(progress: ProgressTracker<string>, cause: UnwindContext['cause']): Promise<CompensationReport> {
    const report: CompensationReport = { compensated: [], failed: [] };
    await CancellationScope.nonCancellable(async () => {
      while (this.stack.length) {
        const { name, undo } = this.stack.pop()!;
        progress.markUndo(name, 'running');
        try {
          await undo({ cause, failedSoFar: report.failed.map((f) => f.name) });
          progress.markUndo(name, 'compensated');
          report.compensated.push(name);
        } catch (err) {
          const failure = describeFailure(err);
          progress.markUndo(name, 'failed', failure.message);
          report.failed.push({ name, ...failure });
        }
      }
    });
    return report;
  }
}
