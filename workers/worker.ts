// The worker entrypoint: builds every client once, injects them into the activity factories,
// registers the workflows and runs until SIGTERM/SIGINT, then drains gracefully.
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { Logger } from 'pino';
import type { HangarConfig } from '../domain/config.ts';
import { openOrm } from '../db/orm.ts';
import { createMachineActivities } from '../activities/machine-activities.ts';
import { createHostActivities, redfishClientFactory } from '../activities/host-activities.ts';
import { createWorkflowControlActivities } from '../activities/workflow-control.ts';
import { createDriftActivities } from '../activities/drift-activities.ts';
import { createRedfishObserverActivities } from '../activities/redfish-observer.ts';
import { createMachineDriftActivities } from '../activities/machine-drift-activities.ts';
import { createAdoptActivities } from '../activities/adopt-activities.ts';
import { createSubnetActivities } from '../activities/subnet-activities.ts';
import { cloudAccessFromConfig } from '../keyfiles/cloud-credentials.ts';
import type { CloudAccess } from '../providers/cloud-access.ts';
import { applySchedules } from './schedules.ts';
import { hostSecretKey } from '../keyfiles/host-key.ts';
import type { ProviderName } from '../domain/machine.ts';
import type { Hypervisor } from '../providers/hypervisor.ts';
import { buildProviders, qemuGuestMetadataUrl } from './providers.ts';
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

export interface WorkerOptions {
  /** Provider clients to use instead of the configured ones (tests point them at simulators). */
  providers?: Partial<Record<ProviderName, Hypervisor>>;
  /** Extra clone queues to serve (with providers given above). */
  cloneQueues?: string[];
  /** Cloud clients per account instead of the configured endpoints and credentials. */
  cloud?: CloudAccess;
}

export async function startWorker(config: HangarConfig, logger: Logger, options: WorkerOptions = {}): Promise<RunningWorker> {
  installRuntime(logger);
  const orm = await openOrm({ url: config.database.url, poolSize: config.database.poolSize });
  const clientConnection = await Connection.connect({ address: config.temporal.address });
  const client = new Client({ connection: clientConnection, namespace: config.temporal.namespace });
  const connection = await NativeConnection.connect({ address: config.temporal.address });

  const built = await buildProviders(config, orm, logger, options.providers);
  const activities = {
    ...createMachineActivities({
      orm,
      providers: built.providers,
      publicUrl: config.api.publicUrl,
      guestMetadataUrl: { qemu: qemuGuestMetadataUrl(config) },
    }),
    // Bare-metal hosts: sealed BMC passwords open with the host secret key; one Redfish client per call.
    ...createHostActivities({
      orm,
      secretKey: hostSecretKey(config),
      redfish: redfishClientFactory(config, logger),
      powerTimeoutSec: config.redfish.powerTimeoutSec,
    }),
    ...createWorkflowControlActivities({ temporal: client }),
    ...createDriftActivities({ orm, temporal: client }),
    ...createAdoptActivities({ orm, providers: built.providers }),
    ...createRedfishObserverActivities({
      orm,
      temporal: client,
      secretKey: hostSecretKey(config),
      redfish: redfishClientFactory(config, logger),
      taskQueue: config.temporal.taskQueue,
      concurrency: config.drift.redfishConcurrency,
      shutdownTimeoutSec: config.provision.shutdownTimeoutSec,
    }),
    ...createMachineDriftActivities({
      orm,
      providers: built.providers,
      temporal: client,
      taskQueue: config.temporal.taskQueue,
      shutdownTimeoutSec: config.provision.shutdownTimeoutSec,
    }),
    // Cloud subnets: a client per account, built from its credentials when an activity needs it.
    ...createSubnetActivities({ orm, cloud: options.cloud ?? cloudAccessFromConfig(config), pollMs: config.cloud.operationPollMs }),
  };

  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    workflowsPath: WORKFLOWS_PATH,
    activities,
    maxConcurrentActivityTaskExecutions: config.worker.maxConcurrentActivities,
    maxConcurrentWorkflowTaskExecutions: config.worker.maxConcurrentWorkflowTasks,
    shutdownGraceTime: config.worker.shutdownGraceMs,
  });
  // Clones run on a queue per Proxmox node with few slots: parallel clones of one template
  // otherwise trip Proxmox's clone lock timeouts. (The cap is per worker process.)
  const cloneWorkers = await Promise.all(
    [...new Set([...built.cloneQueues, ...(options.cloneQueues ?? [])])].map((taskQueue) =>
      Worker.create({
        connection,
        namespace: config.temporal.namespace,
        taskQueue,
        activities,
        maxConcurrentActivityTaskExecutions: config.proxmox.clonesPerNode,
        shutdownGraceTime: config.worker.shutdownGraceMs,
      }),
    ),
  );
  logger.info(
    {
      taskQueue: config.temporal.taskQueue,
      cloneQueues: cloneWorkers.map((w) => w.options.taskQueue),
      providers: Object.keys(built.providers),
      address: config.temporal.address,
    },
    'worker started',
  );

  // The observers' schedules: every worker applies them, which is idempotent (workers/schedules.ts).
  // A failure is logged, not fatal: the worker still serves every workflow, and the next start retries.
  if (config.drift.schedules) {
    await applySchedules(client, config).then(
      (schedules) => logger.info({ schedules }, 'observer schedules applied'),
      (err: unknown) => logger.error({ err }, 'observer schedules could not be applied'),
    );
  }

  const runAll = Promise.all([worker.run(), ...cloneWorkers.map((w) => w.run())]);
  const stopOthers = () => {
    for (const w of [worker, ...cloneWorkers]) if (w.getState() === 'RUNNING') w.shutdown();
  };
  // One worker stopping (SIGTERM or a fatal error) stops the others, so `done` always settles.
  const done = runAll
    .then(
      () => undefined,
      (err: unknown) => {
        stopOthers();
        throw err;
      },
    )
    .finally(async () => {
      await connection.close().catch(() => undefined);
      await clientConnection.close().catch(() => undefined);
      await orm.close().catch(() => undefined);
      logger.info('worker stopped');
    });
  return {
    worker,
    done,
    shutdown: async () => {
      stopOthers();
      await done;
    },
  };
}
