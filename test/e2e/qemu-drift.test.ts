// The QEMU observer for real: a machine provisioned through the API (real Temporal, PostgreSQL and
// qemu-system; a blank disk, so the VM sits in its firmware and needs no guest OS) is killed with
// `kill -9` behind Hangar's back. One scan reports `power_mismatch`; under `observe` nothing is
// undone; with the machine's drift_policy set to `remediate` (PATCH) the next scan starts it again
// through a vmPower operation, and the scan after resolves the finding. An instance folder made
// by hand is `unmanaged` and is still on disk after a `remediate` scan.
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DriftPolicy } from '../../domain/drift.ts';
import type { RunningWorker } from '../../workers/worker.ts';
import { powerWorkflowId, reconcileWorkflowId, type WorkflowTypes } from '../../workflows/contracts.ts';
import { unique } from '../support/api-fixture.ts';
import { createToken, http, startApi, startInProcessWorker, testConfig, waitForOperation, type TestApi } from '../support/harness.ts';

const TARGET = 'qemu/local';
let api: TestApi;
let worker: RunningWorker;
let operator = '';
let dataDir = '';
let taskQueue = '';

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'hangar-qemu-drift-'));
  taskQueue = `e2e-qemu-drift-${process.pid}`;
  const base = { HANGAR_TASK_QUEUE: taskQueue, HANGAR_PROVIDERS: 'qemu', HANGAR_DATA_DIR: dataDir, HANGAR_SHUTDOWN_TIMEOUT_SEC: '2' };
  api = await startApi(testConfig(base));
  worker = await startInProcessWorker(testConfig({ ...base, HANGAR_PUBLIC_URL: api.url }));
  operator = await createToken(api.orm, 'operator');
}, 5 * 60_000);

afterAll(async () => {
  await worker?.shutdown();
  // Never leave a QEMU process behind: stop whatever pid files remain.
  const instances = join(dataDir, 'qemu', 'instances');
  for (const dir of existsSync(instances) ? execFileSync('ls', [instances], { encoding: 'utf8' }).split('\n').filter(Boolean) : []) {
    const pidFile = join(instances, dir, 'qemu.pid');
    if (existsSync(pidFile)) kill(Number(readFileSync(pidFile, 'utf8').trim()));
  }
  await api?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

const call = (method: string, path: string, body?: unknown) => http(api.url, method, path, { token: operator, ...(body ? { body } : {}) });

/** One observer run, triggered directly (no waiting for a schedule tick). */
async function scan(policy: DriftPolicy) {
  return api.temporal.workflow.execute<WorkflowTypes['reconcileMachines']>('reconcileMachines', {
    taskQueue,
    workflowId: reconcileWorkflowId(`${TARGET}-${randomUUID()}`),
    args: [{ provider: 'qemu', target: TARGET, policy }],
  });
}

const findings = async (resourceId: string) =>
  (await call('GET', `/api/v1/drift?resource_id=${encodeURIComponent(resourceId)}`)).body.items as Record<string, unknown>[];

describe('the QEMU observer', () => {
  it(
    'reports a VM killed out of band, starts it again through vmPower under remediate, and never touches a hand-made folder',
    async () => {
      const blank = join(dataDir, 'blank.qcow2');
      execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', blank, '1G']);
      const template = await call('POST', '/api/v1/templates', { name: unique('blank'), provider: 'qemu', image: blank });
      expect(template.status).toBe(202);
      expect((await waitForOperation(api, operator, template.body.operation.id, 120_000)).status).toBe('completed');

      const created = await call('POST', '/api/v1/machines', {
        name: unique('drift').toLowerCase().slice(0, 40).replace(/-+$/, ''),
        provider: 'qemu',
        template: template.body.template.name,
        cpu: 1,
        memory_mb: 128,
        disk_gb: 1,
        wait_for_phone_home: false,
      });
      expect(created.status).toBe(202);
      expect(created.body.machine.drift_policy).toBeNull();
      const id = created.body.machine.id as string;
      expect((await waitForOperation(api, operator, created.body.operation.id, 180_000)).status).toBe('completed');

      const instance = join(dataDir, 'qemu', 'instances', id);
      const handMade = join(dataDir, 'qemu', 'instances', 'hand-made');
      mkdirSync(handMade);
      writeFileSync(join(handMade, 'notes.txt'), 'not Hangar’s\n');

      // Everything as recorded: nothing to report about the machine.
      await scan('observe');
      expect(await findings(id)).toEqual([]);

      const pid = Number(readFileSync(join(instance, 'qemu.pid'), 'utf8').trim());
      kill(pid);
      for (let i = 0; i < 100 && existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z'); i++)
        await new Promise((r) => setTimeout(r, 50));

      const observed = await scan('observe');
      expect(observed.remediated).toBe(0);
      expect(await findings(id)).toEqual([
        expect.objectContaining({ kind: 'power_mismatch', state: 'open', desired: { power: 'running' }, observed: { power: 'stopped' }, action_taken: null }),
      ]);
      expect(await findings(`${TARGET}/hand-made`)).toEqual([expect.objectContaining({ kind: 'unmanaged', resource_type: 'vm', state: 'open' })]);
      // The machine shows its open finding.
      const shown = await call('GET', `/api/v1/machines/${id}`);
      expect(shown.body.drift.map((f: { kind: string }) => f.kind)).toEqual(['power_mismatch']);

      // The machine's own policy: bad values are refused, remediate is kept and shown.
      const bad = await call('PATCH', `/api/v1/machines/${id}`, { drift_policy: 'sometimes' });
      expect(bad.status).toBe(400);
      expect(bad.body.fields).toHaveProperty('drift_policy');
      const patched = await call('PATCH', `/api/v1/machines/${id}`, { drift_policy: 'remediate' });
      expect([patched.status, patched.body.drift_policy]).toEqual([200, 'remediate']);

      const fixing = await scan('observe');
      expect(fixing.remediated).toBe(1);
      await api.temporal.workflow.getHandle(powerWorkflowId(id)).result();
      const op = await call('GET', `/api/v1/machines/${id}/operations/latest`);
      expect(op.body).toMatchObject({ kind: 'start', status: 'completed', requested_by: `observer:${TARGET}`, workflow_id: powerWorkflowId(id) });
      const restarted = Number(readFileSync(join(instance, 'qemu.pid'), 'utf8').trim());
      expect(restarted).not.toBe(pid);
      expect(existsSync(`/proc/${restarted}`)).toBe(true);

      // A provider-wide remediate scan: the VM runs again, so its finding resolves; the hand-made folder stays.
      await scan('remediate');
      expect(await findings(id)).toEqual([expect.objectContaining({ kind: 'power_mismatch', state: 'resolved', action_taken: 'start_vm' })]);
      expect(await findings(`${TARGET}/hand-made`)).toEqual([expect.objectContaining({ kind: 'unmanaged', state: 'open', action_taken: null })]);
      expect(readFileSync(join(handMade, 'notes.txt'), 'utf8')).toBe('not Hangar’s\n');

      // Deprovisioned through the API: nothing of it is left for the observer to report.
      const removed = await call('DELETE', `/api/v1/machines/${id}`);
      expect((await waitForOperation(api, operator, removed.body.operation.id, 120_000)).status).toBe('completed');
      expect(existsSync(instance)).toBe(false);
    },
    10 * 60_000,
  );
});
