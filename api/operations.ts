// Operations are workflow runs started for a user. This module starts them (attaching to a run
// already in flight for the same resource) and reports their status and progress.
import type { Client, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { HangarConfig } from '../domain/config.ts';
import { HangarError } from '../domain/errors.ts';
import type { Progress } from '../domain/progress.ts';
import { Operation, type IOperation } from '../db/entities/index.ts';
import { progressQuery, type WorkflowName, type WorkflowTypes } from '../workflows/contracts.ts';

/** A workflow start: the workflow by its registered name (checked against WorkflowTypes) with its typed arguments. */
export interface StartOperation<N extends WorkflowName> {
  kind: string;
  workflow: N;
  workflowId: string;
  args: Parameters<WorkflowTypes[N]>;
  resourceType: string;
  resourceId: string;
  requestedBy: string;
  /** `attach` (default): join the run in flight with this id. `fail`: refuse with 409 while one runs. */
  onConflict?: 'attach' | 'fail';
}

/** Starts the workflow or attaches to the running one with the same id; records the operation. */
export async function startOperation<N extends WorkflowName>(
  em: EntityManager,
  temporal: Client,
  config: HangarConfig,
  op: StartOperation<N>,
): Promise<IOperation> {
  let handle: WorkflowHandleWithFirstExecutionRunId<WorkflowTypes[N]>;
  try {
    handle = await temporal.workflow.start<WorkflowTypes[N]>(op.workflow, {
      taskQueue: config.temporal.taskQueue,
      workflowId: op.workflowId,
      args: op.args,
      workflowIdConflictPolicy: op.onConflict === 'fail' ? 'FAIL' : 'USE_EXISTING',
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      const running = await em.findOne(Operation, { workflowId: op.workflowId }, { orderBy: { createdAt: 'desc' } });
      throw new HangarError(
        'invalid_state',
        `another ${running?.kind ?? op.kind} operation is still running for this ${op.resourceType}${running ? ` (operation ${running.id})` : ''}; wait for it to finish`,
      );
    }
    throw new HangarError('unavailable', `could not start workflow ${op.workflow}: ${(err as Error).message}`);
  }
  const runId = handle.firstExecutionRunId;
  const existing = await em.findOne(Operation, { workflowId: op.workflowId, runId });
  if (existing) return existing;
  const record = em.create(Operation, {
    id: crypto.randomUUID(),
    kind: op.kind,
    workflowId: op.workflowId,
    runId,
    resourceType: op.resourceType,
    resourceId: op.resourceId,
    requestedBy: op.requestedBy,
  });
  await em.flush();
  return record;
}

/**
 * startOperation for a record written just before it: when the workflow cannot start, `undo`
 * removes the record (then the error goes on), so nothing is left that no workflow will finish.
 */
export async function startOperationOrUndo<N extends WorkflowName>(
  em: EntityManager,
  temporal: Client,
  config: HangarConfig,
  op: StartOperation<N>,
  undo: (err: unknown) => Promise<unknown>,
): Promise<IOperation> {
  try {
    return await startOperation(em, temporal, config, op);
  } catch (err) {
    await undo(err);
    throw err;
  }
}

const STATUS: Record<string, string> = {
  RUNNING: 'running',
  COMPLETED: 'completed',
  FAILED: 'failed',
  CANCELLED: 'cancelled',
  TERMINATED: 'terminated',
  CONTINUED_AS_NEW: 'running',
  TIMED_OUT: 'timed_out',
};

/** A real gRPC deadline, so an abandoned call does not linger and retry in the background. */
const withTimeout = <T>(temporal: Client, fn: () => Promise<T>, ms: number): Promise<T> => temporal.connection.withDeadline(Date.now() + ms, fn);

export function historyUrl(config: HangarConfig, op: IOperation): string {
  const base = config.temporal.uiUrl.replace(/\/$/, '');
  return `${base}/namespaces/${encodeURIComponent(config.temporal.namespace)}/workflows/${encodeURIComponent(op.workflowId)}/${op.runId ?? ''}/history`;
}

export function operationSummary(config: HangarConfig, op: IOperation) {
  return {
    id: op.id,
    kind: op.kind,
    workflow_id: op.workflowId,
    run_id: op.runId ?? null,
    resource: { type: op.resourceType, id: op.resourceId },
    requested_by: op.requestedBy,
    created_at: op.createdAt,
    links: { self: `/api/v1/operations/${op.id}`, history: historyUrl(config, op) },
  };
}

/**
 * The summary plus status and run times from Temporal, for lists: one describe per operation, in
 * parallel, with a short deadline; an operation Temporal no longer knows or did not answer for in
 * time shows status "unknown" rather than failing the page.
 */
export async function operationListItem(temporal: Client, config: HangarConfig, op: IOperation) {
  const summary = operationSummary(config, op);
  try {
    const d = await withTimeout(temporal, () => temporal.workflow.getHandle(op.workflowId, op.runId ?? undefined).describe(), 3000);
    return {
      ...summary,
      status: STATUS[d.status.name] ?? d.status.name.toLowerCase(),
      started_at: d.startTime,
      closed_at: d.closeTime ?? null,
    };
  } catch {
    return { ...summary, status: 'unknown', started_at: null, closed_at: null };
  }
}

/** Status from Temporal, plus the `progress` query (which needs a worker; absent → null). */
export async function describeOperation(temporal: Client, config: HangarConfig, op: IOperation) {
  const handle = temporal.workflow.getHandle(op.workflowId, op.runId ?? undefined);
  let description;
  try {
    description = await withTimeout(temporal, () => handle.describe(), 5000);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) {
      return {
        ...operationSummary(config, op),
        status: 'unknown',
        progress: null,
        error: { code: 'not_found', message: 'workflow history is no longer retained' },
      };
    }
    throw new HangarError('unavailable', `Temporal did not answer: ${(err as Error).message}`);
  }
  const status = STATUS[description.status.name] ?? description.status.name.toLowerCase();
  let progress: Progress | null = null;
  try {
    progress = await withTimeout(temporal, () => handle.query(progressQuery), status === 'running' ? 5000 : 3000);
  } catch {
    progress = null; // no worker to answer right now; status still stands
  }
  let error: { code: string; message: string } | null = null;
  if (status === 'failed' || status === 'cancelled' || status === 'terminated' || status === 'timed_out') {
    error = progress?.error ?? { code: status, message: `workflow ${status}` };
    try {
      await withTimeout(temporal, () => handle.result(), 3000);
    } catch (err) {
      const failure = err as { cause?: { message?: string; type?: string }; message?: string };
      error = { code: failure.cause?.type ?? error.code, message: failure.cause?.message ?? failure.message ?? error.message };
    }
  }
  return {
    ...operationSummary(config, op),
    status,
    started_at: description.startTime,
    closed_at: description.closeTime ?? null,
    progress,
    error,
  };
}
