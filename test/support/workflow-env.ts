// A Temporal test environment on the locally built `temporal` binary (its default download cannot
// work offline), plus real activities on the test database with the dry-run provider.
import { randomUUID } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { openOrm, type MikroORM } from '../../db/orm.ts';
import { Machine } from '../../db/entities/index.ts';
import { PgDryRunLedger } from '../../db/repositories/dryrun-ledger.ts';
import { DryRunProvider, type DryRunOptions } from '../../providers/dryrun/dryrun-provider.ts';
import { createMachineActivities, type MachineActivities } from '../../activities/machine-activities.ts';
import { createWorkflowControlActivities, type WorkflowControlActivities } from '../../activities/workflow-control.ts';
import type { MachineSpec } from '../../domain/machine.ts';
import { WORKFLOWS_PATH, installRuntime } from '../../workers/worker.ts';
import { pino } from 'pino';
import { TEMPORAL_BIN, testServices } from './services.ts';

export async function createWorkflowEnv(): Promise<TestWorkflowEnvironment> {
  installRuntime(pino({ level: 'error' }));
  return TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: TEMPORAL_BIN }, ip: '127.0.0.1', extraArgs: ['--headless', '--log-level', 'error'] },
  });
}

export async function openWorkflowTestOrm(): Promise<MikroORM> {
  return openOrm({ url: testServices().databaseUrl, poolSize: 5 });
}

export function realActivities(orm: MikroORM, env: TestWorkflowEnvironment, dryrun: DryRunOptions = {}): MachineActivities & WorkflowControlActivities {
  const provider = new DryRunProvider(new PgDryRunLedger(orm.em), dryrun);
  return {
    ...createMachineActivities({ orm, providers: { dryrun: provider } }),
    ...createWorkflowControlActivities({ temporal: env.client }),
  };
}

export async function insertMachine(orm: MikroORM, name = `wf-${randomUUID().slice(0, 8)}`): Promise<MachineSpec> {
  const em = orm.em.fork();
  const id = randomUUID();
  em.create(Machine, { id, name, provider: 'dryrun', cpu: 2, memoryMb: 1024, diskGb: 10, metadataToken: 't' });
  await em.flush();
  return { machineId: id, name, provider: 'dryrun', cpu: 2, memoryMb: 1024, diskGb: 10 };
}

export async function makeWorker(env: TestWorkflowEnvironment, activities: object, taskQueue: string): Promise<Worker> {
  return Worker.create({ connection: env.nativeConnection, taskQueue, workflowsPath: WORKFLOWS_PATH, activities });
}

export interface WorkflowTestContext {
  env: TestWorkflowEnvironment;
  orm: MikroORM;
}

/** Registers beforeAll/afterAll that start a local Temporal test server and open the test ORM. */
export function useWorkflowEnv(hooks: {
  beforeAll: (fn: () => Promise<void>, timeout?: number) => void;
  afterAll: (fn: () => Promise<void>) => void;
}): WorkflowTestContext {
  const ctx = {} as WorkflowTestContext;
  hooks.beforeAll(async () => {
    ctx.env = await createWorkflowEnv();
    ctx.orm = await openWorkflowTestOrm();
  }, 120_000);
  hooks.afterAll(async () => {
    await ctx.orm?.close();
    await ctx.env?.teardown();
  });
  return ctx;
}
