// The shape of the `progress` query every long workflow answers; the API and CLI render it.

export type StepStatus = 'pending' | 'running' | 'completed' | 'failed' | 'compensated' | 'skipped';
export type OperationState = 'running' | 'compensating' | 'completed' | 'failed' | 'cancelled';

export interface ProgressStep {
  name: string;
  status: StepStatus;
  startedAt?: string;
  finishedAt?: string;
  error?: string;
}

export interface Progress {
  workflow: string;
  resourceId: string;
  state: OperationState;
  steps: ProgressStep[];
  startedAt: string;
  updatedAt: string;
  error?: { code: string; message: string };
}
