// A stack of undo actions. On failure it runs them newest-first inside a non-cancellable scope
// (so a cancelled workflow still cleans up), and reports every compensation that failed.
import { CancellationScope } from '@temporalio/workflow';
import { describeFailure, type ProgressTracker } from './progress.ts';

interface Compensation {
  name: string;
  undo: () => Promise<unknown>;
}

export interface CompensationReport {
  compensated: string[];
  failed: { name: string; code: string; message: string }[];
}

export class CompensationStack {
  private readonly stack: Compensation[] = [];

  push(name: string, undo: () => Promise<unknown>): void {
    this.stack.push({ name, undo });
  }

  get size(): number {
    return this.stack.length;
  }

  async unwind(progress: ProgressTracker): Promise<CompensationReport> {
    const report: CompensationReport = { compensated: [], failed: [] };
    await CancellationScope.nonCancellable(async () => {
      while (this.stack.length) {
        const { name, undo } = this.stack.pop()!;
        const stepName = `undo:${name}`;
        progress.mark(stepName, 'running');
        try {
          await undo();
          progress.mark(stepName, 'compensated');
          report.compensated.push(name);
        } catch (err) {
          const failure = describeFailure(err);
          progress.mark(stepName, 'failed', failure.message);
          report.failed.push({ name, ...failure });
        }
      }
    });
    return report;
  }
}
