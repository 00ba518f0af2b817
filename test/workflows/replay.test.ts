// Guards determinism: recorded histories of every registered workflow must replay on today's workflow
// code. Set HANGAR_RECORD_HISTORIES=1 to refresh the committed fixtures from fresh runs: the VM,
// disk and template ones here (dry-run provider), the host ones in
// test/integration/provision-host.test.ts against sushy-tools, the inventory observer's in
// test/workflows/reconcile-inventory.test.ts, the hypervisor observer's in
// test/workflows/reconcile-machines.test.ts, the Redfish observer's in
// test/integration/drift-redfish.test.ts, the cloud-subnet ones in
// test/integration/subnets.test.ts against moto (see test/support/histories.ts).
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { HangarError } from '../../domain/errors.ts';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { toActivityFailure } from '../../activities/failures.ts';
import { Disk, Template } from '../../db/entities/index.ts';
import type { WorkflowName, WorkflowTypes } from '../../workflows/contracts.ts';
import { deprovisionWorkflowId, diskWorkflowId, powerWorkflowId, progressQuery, provisionWorkflowId, templateWorkflowId } from '../../workflows/contracts.ts';
import { WORKFLOWS_PATH } from '../../workers/worker.ts';
import { TEMPORAL_BIN } from '../support/services.ts';
import { insertMachine, realActivities, useWorkflowEnv } from '../support/workflow-env.ts';

const HISTORIES = fileURLToPath(new URL('./histories', import.meta.url));
const REORDERED = fileURLToPath(new URL('./fixtures/reordered-workflows.ts', import.meta.url));

/** Every workflow the worker registers; each needs at least one committed history. */
const ALL_WORKFLOWS: WorkflowName[] = [
  'provisionVm',
  'deprovisionVm',
  'vmPower',
  'attachDisk',
  'detachDisk',
  'createTemplate',
  'deleteTemplate',
  'provisionHost',
  'inspectHost',
  'hostPower',
  'deprovisionHost',
  'forceReleaseHost',
  'reconcileInventory',
  'reconcileHosts',
  'reconcileMachines',
  'adoptVm',
  'allocateSubnet',
  'releaseSubnet',
];
const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const LAST_EVENT = {
  completed: 'EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED',
  compensated: 'EVENT_TYPE_WORKFLOW_EXECUTION_FAILED',
  cancelled: 'EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED',
} as const;

const ctx = useWorkflowEnv({ beforeAll, afterAll });
let bundle: WorkflowBundleWithSourceMap;
beforeAll(async () => {
  bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH });
}, 120_000);

const fixtures = () =>
  readdirSync(HISTORIES)
    .filter((f) => f.endsWith('.json'))
    .sort();
const loadFixture = (file: string) => historyFromJSON(JSON.parse(readFileSync(join(HISTORIES, file), 'utf8')));
const summary = (file: string) => {
  const raw = JSON.parse(readFileSync(join(HISTORIES, file), 'utf8')) as {
    events: { eventType: string; workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string } } }[];
  };
  return { type: raw.events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name, last: raw.events.at(-1)?.eventType };
};

interface Recording<N extends WorkflowName> {
  workflow: N;
  workflowId: string;
  args: Parameters<WorkflowTypes[N]>;
  activities?: object;
  /** Runs while the workflow does (e.g. cancels it at a chosen step). */
  meanwhile?: (handle: {
    cancel(): Promise<unknown>;
    query: (q: typeof progressQuery) => Promise<{ steps: { name: string; status: string }[] }>;
  }) => Promise<void>;
}

/** Runs the workflow on a real worker and returns its history as the Temporal CLI exports it. */
async function record<N extends WorkflowName>(r: Recording<N>) {
  const taskQueue = `replay-${randomUUID()}`;
  const worker = await Worker.create({
    connection: ctx.env.nativeConnection,
    taskQueue,
    workflowBundle: bundle,
    activities: r.activities ?? realActivities(ctx.orm, ctx.env),
  });
  return worker.runUntil(async () => {
    const handle = await ctx.env.client.workflow.start<WorkflowTypes[N]>(r.workflow, { taskQueue, workflowId: r.workflowId, args: r.args });
    await r.meanwhile?.(handle);
    const result = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    // The history as the Temporal CLI and web UI export it: the format fixtures are kept in.
    const json = execFileSync(TEMPORAL_BIN, ['workflow', 'show', '--address', ctx.env.address, '-w', r.workflowId, '--output', 'json'], { encoding: 'utf8' });
    return { json, history: historyFromJSON(JSON.parse(json)), result };
  });
}

const refuse = (message: string) => async () => {
  throw toActivityFailure(new HangarError('provider_rejected', message));
};

async function waitForStep(handle: Parameters<NonNullable<Recording<WorkflowName>['meanwhile']>>[0], step: string) {
  for (;;) {
    const progress = await handle.query(progressQuery);
    if (progress.steps.find((s) => s.name === step)?.status === 'running') return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('workflow determinism', () => {
  it('replays freshly recorded histories of the VM, disk and template workflows (completed, compensated, cancelled)', async () => {
    const ok = await insertMachine(ctx.orm);
    const failed = await insertMachine(ctx.orm);
    const cancelled = await insertMachine(ctx.orm);
    const em = ctx.orm.em.fork();
    const [diskOk, diskFailed, templateOk, templateFailed] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    em.create(Disk, { id: diskOk, machineId: ok.machineId, sizeGb: 5, state: 'attaching' });
    em.create(Disk, { id: diskFailed, machineId: ok.machineId, sizeGb: 5, state: 'attaching' });
    for (const id of [templateOk, templateFailed])
      em.create(Template, { id, name: `replay-${id.slice(0, 8)}`, provider: 'dryrun', image: '/images/replay.qcow2', state: 'pending' });
    await em.flush();
    const template = (templateId: string) => ({
      templateId,
      name: `replay-${templateId.slice(0, 8)}`,
      provider: 'dryrun' as const,
      image: '/images/replay.qcow2',
    });
    const disk = (diskId: string, providerId: string) => ({ machineId: ok.machineId, provider: 'dryrun' as const, providerId, diskId, sizeGb: 5 });

    const recorded: Record<string, Awaited<ReturnType<typeof record>>> = {};
    recorded['provision-vm-completed'] = await record({ workflow: 'provisionVm', workflowId: provisionWorkflowId(ok.machineId), args: [ok] });
    const { providerId } = await ctx.env.client.workflow.getHandle<WorkflowTypes['provisionVm']>(provisionWorkflowId(ok.machineId)).result();
    recorded['provision-vm-compensated'] = await record({
      workflow: 'provisionVm',
      workflowId: provisionWorkflowId(failed.machineId),
      args: [failed],
      activities: realActivities(ctx.orm, ctx.env, { failStep: 'start' }),
    });
    recorded['provision-vm-cancelled'] = await record({
      workflow: 'provisionVm',
      workflowId: provisionWorkflowId(cancelled.machineId),
      args: [{ ...cancelled, phoneHomeTimeout: '1h' }],
      meanwhile: async (handle) => {
        await waitForStep(handle, 'wait-phone-home');
        await handle.cancel();
      },
    });
    recorded['vm-power-completed'] = await record({
      workflow: 'vmPower',
      workflowId: powerWorkflowId(ok.machineId),
      args: [{ machineId: ok.machineId, provider: 'dryrun', providerId, action: 'restart', shutdownTimeoutSec: 5 }],
    });
    recorded['attach-disk-completed'] = await record({ workflow: 'attachDisk', workflowId: diskWorkflowId(diskOk), args: [disk(diskOk, providerId)] });
    recorded['attach-disk-compensated'] = await record({
      workflow: 'attachDisk',
      workflowId: diskWorkflowId(diskFailed),
      args: [disk(diskFailed, providerId)],
      activities: { ...realActivities(ctx.orm, ctx.env), attachDisk: refuse('no free slot') },
    });
    // The failed attach left its record marked, not silently (deprovisioning the machine below removes it).
    expect(await ctx.orm.em.fork().findOne(Disk, { id: diskFailed })).toMatchObject({ state: 'failed', lastError: 'no free slot' });
    recorded['detach-disk-completed'] = await record({ workflow: 'detachDisk', workflowId: diskWorkflowId(diskOk), args: [disk(diskOk, providerId)] });
    recorded['deprovision-vm-completed'] = await record({
      workflow: 'deprovisionVm',
      workflowId: deprovisionWorkflowId(ok.machineId),
      args: [{ machineId: ok.machineId, provider: 'dryrun' }],
    });
    recorded['create-template-completed'] = await record({
      workflow: 'createTemplate',
      workflowId: templateWorkflowId(templateOk),
      args: [template(templateOk)],
    });
    recorded['create-template-compensated'] = await record({
      workflow: 'createTemplate',
      workflowId: templateWorkflowId(templateFailed),
      args: [template(templateFailed)],
      activities: { ...realActivities(ctx.orm, ctx.env), importTemplate: refuse('checksum mismatch') },
    });
    recorded['delete-template-completed'] = await record({
      workflow: 'deleteTemplate',
      workflowId: templateWorkflowId(templateOk),
      args: [{ templateId: templateOk, provider: 'dryrun' }],
    });

    for (const [name, { json, history, result }] of Object.entries(recorded)) {
      const variant = name.split('-').at(-1) as keyof typeof LAST_EVENT;
      expect([name, result === undefined]).toEqual([name, variant === 'completed']);
      expect(history.events!.length).toBeGreaterThan(5);
      await expect(Worker.runReplayHistory({ workflowBundle: bundle }, history, name)).resolves.toBeUndefined();
      if (process.env.HANGAR_RECORD_HISTORIES === '1') writeFileSync(join(HISTORIES, `${name}.json`), json);
    }
    expect(await ctx.orm.em.fork().findOne(Template, { id: templateFailed })).toMatchObject({ state: 'failed', lastError: 'checksum mismatch' });
  }, 180_000);

  it('has a committed history for each registered workflow, named after its type and outcome', () => {
    const files = fixtures();
    const covered = new Set<string>();
    for (const file of files) {
      const m = /^([a-z-]+)-(completed|compensated|cancelled)\.json$/.exec(file);
      expect([file, !!m]).toEqual([file, true]);
      const { type, last } = summary(file);
      expect([file, type && kebab(type)]).toEqual([file, m![1]]);
      expect([file, last]).toEqual([file, LAST_EVENT[m![2] as keyof typeof LAST_EVENT]]);
      covered.add(type!);
    }
    expect([...covered].sort()).toEqual([...ALL_WORKFLOWS].sort());
  });

  it('replays every committed history on the current workflow code', async () => {
    for (const file of fixtures()) {
      await expect(Worker.runReplayHistory({ workflowBundle: bundle }, loadFixture(file), file)).resolves.toBeUndefined();
    }
  }, 120_000);

  it('detects a non-deterministic change to the workflow', async () => {
    await expect(Worker.runReplayHistory({ workflowsPath: REORDERED }, loadFixture('provision-vm-completed.json'), 'reordered')).rejects.toMatchObject({
      name: 'DeterminismViolationError',
    });
  });
});
