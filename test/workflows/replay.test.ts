// Guards determinism: recorded histories of the workflows must replay on today's workflow code.
// Set HANGAR_RECORD_HISTORIES=1 to refresh the committed fixtures from fresh runs (the VM ones
// here, the host ones in test/integration/provision-host.test.ts, see test/support/histories.ts).
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { deprovisionWorkflowId, provisionWorkflowId } from '../../workflows/contracts.ts';
import { WORKFLOWS_PATH } from '../../workers/worker.ts';
import { TEMPORAL_BIN } from '../support/services.ts';
import { insertMachine, makeWorker, realActivities, useWorkflowEnv } from '../support/workflow-env.ts';

const HISTORIES = fileURLToPath(new URL('./histories', import.meta.url));
const REORDERED = fileURLToPath(new URL('./fixtures/reordered-workflows.ts', import.meta.url));

const ctx = useWorkflowEnv({ beforeAll, afterAll });

const fixtures = () => readdirSync(HISTORIES).filter((f) => f.endsWith('.json')).sort();
const loadFixture = (file: string) => historyFromJSON(JSON.parse(readFileSync(join(HISTORIES, file), 'utf8')));

/** Runs the workflow on a real worker and returns its recorded history. */
async function record(workflowType: string, workflowId: string, args: unknown[], dryrun = {}) {
  const taskQueue = `replay-${randomUUID()}`;
  const worker = await makeWorker(ctx.env, realActivities(ctx.orm, ctx.env, dryrun), taskQueue);
  return worker.runUntil(async () => {
    const handle = await ctx.env.client.workflow.start(workflowType, { taskQueue, workflowId, args });
    await handle.result().catch(() => undefined);
    // The history as the Temporal CLI and web UI export it: the format fixtures are kept in.
    const json = execFileSync(TEMPORAL_BIN, ['workflow', 'show', '--address', ctx.env.address, '-w', workflowId, '--output', 'json'], { encoding: 'utf8' });
    return { json, history: historyFromJSON(JSON.parse(json)) };
  });
}

describe('workflow determinism', () => {
  it('replays freshly recorded histories (completed, compensated, deprovisioned)', async () => {
    const ok = await insertMachine(ctx.orm);
    const failed = await insertMachine(ctx.orm);
    const recorded = {
      'provision-vm-completed': await record('provisionVm', provisionWorkflowId(ok.machineId), [ok]),
      'provision-vm-compensated': await record('provisionVm', provisionWorkflowId(failed.machineId), [failed], { failStep: 'start' }),
      'deprovision-vm-completed': await record('deprovisionVm', deprovisionWorkflowId(ok.machineId), [{ machineId: ok.machineId, provider: 'dryrun' }]),
    };
    for (const [name, { json, history }] of Object.entries(recorded)) {
      expect(history.events?.length).toBeGreaterThan(10);
      await expect(Worker.runReplayHistory({ workflowsPath: WORKFLOWS_PATH }, history, name)).resolves.toBeUndefined();
      if (process.env.HANGAR_RECORD_HISTORIES === '1') writeFileSync(join(HISTORIES, `${name}.json`), json);
    }
  });

  it('replays every committed history on the current workflow code', async () => {
    const files = fixtures();
    // Host histories come from test/integration/provision-host.test.ts against sushy-tools.
    expect(files).toEqual([
      'deprovision-host-completed.json', 'deprovision-vm-completed.json', 'provision-host-compensated.json', 'provision-host-completed.json',
      'provision-vm-compensated.json', 'provision-vm-completed.json',
    ]);
    for (const file of files) {
      await expect(Worker.runReplayHistory({ workflowsPath: WORKFLOWS_PATH }, loadFixture(file), file)).resolves.toBeUndefined();
    }
  });

  it('recorded host histories really are provisionHost / deprovisionHost runs, one compensated', () => {
    const summary = (file: string) => {
      const raw = JSON.parse(readFileSync(join(HISTORIES, file), 'utf8')) as { events: { eventType: string; workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string } } }[] };
      return { type: raw.events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name, last: raw.events.at(-1)?.eventType };
    };
    expect(summary('provision-host-completed.json')).toEqual({ type: 'provisionHost', last: 'EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED' });
    expect(summary('deprovision-host-completed.json')).toEqual({ type: 'deprovisionHost', last: 'EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED' });
    expect(summary('provision-host-compensated.json')).toEqual({ type: 'provisionHost', last: 'EVENT_TYPE_WORKFLOW_EXECUTION_FAILED' });
  });

  it('detects a non-deterministic change to the workflow', async () => {
    await expect(
      Worker.runReplayHistory({ workflowsPath: REORDERED }, loadFixture('provision-vm-completed.json'), 'reordered'),
    ).rejects.toMatchObject({ name: 'DeterminismViolationError' });
  });
});
