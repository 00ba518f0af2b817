// The worker entrypoint: builds every client once, injects them into the activity factories,
// registers the workflows and runs until SIGTERM/SIGINT, then drains gracefully.
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { Logger } from 'pino';
import type { HangarConfig } from '../domain/config.ts';
import { openOrm } from '../db/orm.ts';
import { PgDryRunLedger } from '../db/repositories/dryrun-ledger.ts';
import { DryRunProvider } from '../providers/dryrun/dryrun-provider.ts';
import { createMachineActivities } from '../activities/machine-activities.ts';
import { heartbeatIfInActivity } from '../activities/failures.ts';
import { PinoTemporalLogger } from './temporal-logger.ts';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

let runtimeInstalled = false;

/** Sends SDK logs to pino; the Runtime is process-wide, so this happens once. */
export function installRuntime(logger: Logger): void {
  if (runtimeInstalled) return;
  Runtime.install({
    logger: new PinoTemporalLogger(logger),
    telemetryOptions: { logging: { filter: { core: 'WARN', other: 'WARN' }, forward: {} } },
  });
  runtimeInstalled = true;
}

export interface RunningWorker {
  worker: Worker;
  /** Resolves when the worker has stopped and its clients are closed. */
  done: Promise<void>;
  shutdown: () => Promise<void>;
}

export async function startWorker(config: HangarConfig, logger: Logger): Promise<RunningWorker> {
  installRuntime(logger);
  const orm = await openOrm({ url: config.database.url, poolSize: config.database.poolSize });
  const clientConnection = await Connection.connect({ address: config.temporal.address });
  const client = new Client({ connection: clientConnection, namespace: config.temporal.namespace });
  const connection = await NativeConnection.connect({ address: config.temporal.address });

  const providers = {
    dryrun: new DryRunProvider(new PgDryRunLedger(orm.em), {
      stepDelayMs: config.dryrun.stepDelayMs,
      failStep: config.dryrun.failStep,
      onWait: () => heartbeatIfInActivity(),
    }),
  };

  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    workflowsPath: WORKFLOWS_PATH,
    activities: createMachineActivities({ orm, providers, temporal: client }),
    maxConcurrentActivityTaskExecutions: config.worker.maxConcurrentActivities,
    maxConcurrentWorkflowTaskExecutions: config.worker.maxConcurrentWorkflowTasks,
    shutdownGraceTime: config.worker.shutdownGraceMs,
  });
  logger.info({ taskQueue: config.temporal.taskQueue, address: config.temporal.address }, 'worker started');

  const done = worker.run().finally(async () => {
    await connection.close().catch(() => undefined);
    await clientConnection.close().catch(() => undefined);
    await orm.close().catch(() => undefined);
    logger.info('worker stopped');
  });
  return {
    worker,
    done,
    shutdown: async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}
