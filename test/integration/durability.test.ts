// Kill -9 a worker process in the middle of a provision; a new worker must finish the workflow
// exactly once, with no dry-run side effect applied twice.
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import proto from '@temporalio/proto';
import { DryRunCall, Machine } from '../../db/entities/index.ts';
import { createToken, http, startApi, testEnv, testConfig, waitFor, waitForOperation, type TestApi } from '../support/harness.ts';
import { spawnHangar, type HangarProcess } from '../support/processes.ts';

let api: TestApi;
let token: string;
const env = testEnv({ HANGAR_LOG_LEVEL: 'info' });
const spawned: HangarProcess[] = [];

beforeAll(async () => {
  api = await startApi(testConfig({ HANGAR_TASK_QUEUE: env.HANGAR_TASK_QUEUE! }));
  token = await createToken(api.orm, 'operator');
});

afterAll(async () => {
  for (const p of spawned) if (p.child.exitCode === null && !p.child.killed) p.child.kill('SIGKILL');
  await api?.close();
});

function startWorkerProcess(extra: Record<string, string> = {}): HangarProcess {
  const p = spawnHangar(['worker'], { ...env, ...extra });
  spawned.push(p);
  return p;
}

describe('durability', () => {
  it('finishes a provision exactly once after the worker is SIGKILLed mid-step', async () => {
    // The slowed step applies its effect first, then dawdles: the crash lands after the side effect.
    const first = startWorkerProcess({ HANGAR_DRYRUN_STEP_DELAY_MS: '8000' });
    await waitFor('the first worker to poll', async () => /Worker state changed.*RUNNING|"state":"RUNNING"/.test(first.output()), 60_000);

    const created = await http(api.url, 'POST', '/api/v1/machines', {
      token,
      body: { name: `durable-${Date.now()}`, provider: 'dryrun', cpu: 1, memory_mb: 512, disk_gb: 5 },
    });
    expect(created.status).toBe(202);
    const id: string = created.body.machine.id;

    await waitFor(
      'the create step to take effect',
      async () => (await api.orm.em.fork().count(DryRunCall, { machineId: id, method: 'create', effect: 'applied' })) === 1,
      30_000,
    );
    first.child.kill('SIGKILL');
    const died = await first.exited;
    expect(died.signal).toBe('SIGKILL');
    expect((await api.orm.em.fork().findOneOrFail(Machine, { id })).state).toBe('provisioning');

    const second = startWorkerProcess();
    const op = await waitForOperation(api, token, created.body.operation.id, 120_000);
    expect(op.status).toBe('completed');
    expect((await api.orm.em.fork().findOneOrFail(Machine, { id })).state).toBe('ready');

    const calls = await api.orm.em.fork().find(DryRunCall, { machineId: id }, { orderBy: { id: 'asc' } });
    const applied = calls.filter((c) => c.effect === 'applied').map((c) => c.method);
    expect(applied).toEqual(['create', 'configure', 'start']);
    // The create activity really ran again on the new worker, and found its work already done.
    expect(calls.filter((c) => c.method === 'create').map((c) => c.effect)).toEqual(['applied', 'noop']);

    // One run of the workflow, completed once.
    const history = await api.temporal.workflow.getHandle(op.workflow_id).fetchHistory();
    const { EventType } = proto.temporal.api.enums.v1;
    const types = (history.events ?? []).map((e) => e.eventType);
    expect(types.filter((t) => t === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED)).toHaveLength(1);
    expect(types.filter((t) => t === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED)).toHaveLength(1);

    // SIGTERM drains the worker and it exits cleanly.
    second.child.kill('SIGTERM');
    const stopped = await second.exited;
    expect(stopped.code).toBe(0);
    expect(second.output()).toContain('worker stopped');
  });
});
