// The main job end to end, for real: POST /api/v1/templates imports the Debian cloud image
// (scripts/build-image.sh, cached per machine), POST /api/v1/machines with provider qemu clones it,
// the VM boots under QEMU (KVM when usable, TCG otherwise), cloud-init reads Hangar's NoCloud seed
// (cidata ISO + SMBIOS seed URL pointing at this API), applies hostname and SSH key, phones home,
// and the operation reaches `ready`. Then the metadata service's fetch record, the phone-home
// payload and an SSH login with the machine's key are checked, and deletion leaves nothing behind.
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningWorker } from '../../workers/worker.ts';
import { ensureBootImage } from '../support/boot-image.ts';
import { createToken, http, startApi, startInProcessWorker, testConfig, waitForOperation, type TestApi } from '../support/harness.ts';
import { unique } from '../support/api-fixture.ts';

const BOOT_TIMEOUT_MS = Number(process.env.HANGAR_QEMU_BOOT_TIMEOUT_MS ?? 12 * 60_000);

let api: TestApi;
let worker: RunningWorker;
let operator = '';
let dataDir = '';
let keyDir = '';

function serialTail(machineId: string, lines = 60): string {
  const file = join(dataDir, 'qemu', 'instances', machineId, 'serial.log');
  if (!existsSync(file)) return `(no serial log at ${file})`;
  return readFileSync(file, 'utf8')
    .replace(/\x1b\[[0-9;]*[A-Za-z]/g, '')
    .split('\n')
    .slice(-lines)
    .join('\n');
}

function ssh(keyFile: string, port: number, command: string): Promise<{ code: number; out: string }> {
  return new Promise((done) => {
    execFile(
      'ssh',
      [
        '-i',
        keyFile,
        '-p',
        String(port),
        '-o',
        'StrictHostKeyChecking=no',
        '-o',
        'UserKnownHostsFile=/dev/null',
        '-o',
        'BatchMode=yes',
        '-o',
        'ConnectTimeout=15',
        '-o',
        'LogLevel=ERROR',
        'hangar@127.0.0.1',
        command,
      ],
      { encoding: 'utf8', timeout: 60_000 },
      (err, stdout, stderr) => done({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, out: `${stdout}${stderr}` }),
    );
  });
}

beforeAll(async () => {
  await ensureBootImage();
  dataDir = mkdtempSync(join(tmpdir(), 'hangar-qemu-e2e-'));
  // One task queue for both (testConfig picks a fresh one per call otherwise).
  const base = {
    HANGAR_TASK_QUEUE: `e2e-qemu-${process.pid}`,
    HANGAR_PROVIDERS: 'qemu',
    HANGAR_DATA_DIR: dataDir,
    HANGAR_PHONE_HOME_TIMEOUT: `${Math.round(BOOT_TIMEOUT_MS / 1000)}s`,
    HANGAR_SHUTDOWN_TIMEOUT_SEC: '20',
  };
  api = await startApi(testConfig(base));
  // The worker tells guests where the API is: its port, reached from the guest as 10.0.2.2.
  worker = await startInProcessWorker(testConfig({ ...base, HANGAR_PUBLIC_URL: api.url }));
  operator = await createToken(api.orm, 'operator');
}, 40 * 60_000);

afterAll(async () => {
  await worker?.shutdown();
  await api?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  if (keyDir) rmSync(keyDir, { recursive: true, force: true });
});

describe('a real VM provisioned through the API', () => {
  it(
    'boots, reads its seed from Hangar, phones home, reaches ready, and is deleted without leftovers',
    async () => {
      const call = (method: string, path: string, body?: unknown) => http(api.url, method, path, { token: operator, ...(body ? { body } : {}) });
      const image = await ensureBootImage();

      const template = await call('POST', '/api/v1/templates', { name: unique('debian'), provider: 'qemu', image: image.dir });
      expect(template.status).toBe(202);
      expect((await waitForOperation(api, operator, template.body.operation.id, 5 * 60_000)).status).toBe('completed');

      keyDir = mkdtempSync(join(tmpdir(), 'hangar-e2e-key-'));
      const keyFile = join(keyDir, 'id_ed25519');
      execFileSync('ssh-keygen', ['-q', '-N', '', '-t', 'ed25519', '-C', 'hangar-e2e', '-f', keyFile]);
      const key = await call('POST', '/api/v1/ssh-keys', { name: unique('e2e-key'), public_key: readFileSync(`${keyFile}.pub`, 'utf8').trim() });
      expect(key.status).toBe(201);

      const name = unique('real').toLowerCase().slice(0, 40).replace(/-+$/, '');
      const created = await call('POST', '/api/v1/machines', {
        name,
        provider: 'qemu',
        template: template.body.template.name,
        cpu: 1,
        memory_mb: 768,
        disk_gb: 4,
        ssh_key_ids: [key.body.id],
      });
      expect(created.status).toBe(202);
      const id = created.body.machine.id as string;
      const op = await waitForOperation(api, operator, created.body.operation.id, BOOT_TIMEOUT_MS + 5 * 60_000);
      if (op.status !== 'completed')
        throw new Error(`provision ${op.status}: ${JSON.stringify(op.error)}\n${JSON.stringify(op.progress?.steps)}\n--- serial console:\n${serialTail(id)}`);
      expect(op.progress.steps.map((s: { name: string }) => s.name)).toEqual([
        'mark-provisioning',
        'create',
        'configure',
        'start',
        'wait-phone-home',
        'mark-ready',
      ]);

      const machine = (await call('GET', `/api/v1/machines/${id}`)).body;
      expect(machine.state).toBe('ready');
      expect(machine.power_state).toBe('running');
      // The metadata service saw the guest read its seed, and the phone-home names the machine.
      expect(machine.metadata_fetches['meta-data'].count).toBeGreaterThanOrEqual(1);
      expect(machine.metadata_fetches['user-data'].count).toBeGreaterThanOrEqual(1);
      expect(machine.metadata_fetches['meta-data'].from).toBe('127.0.0.1');
      expect(machine.phone_home_payload).toMatchObject({ instance_id: `hangar-${id}`, hostname: name });

      // cloud-init applied the SSH key to Hangar's default user (port forwarded by user-mode networking).
      const instance = JSON.parse(readFileSync(join(dataDir, 'qemu', 'instances', id, 'instance.json'), 'utf8')) as { runtime?: { sshPort?: number } };
      const port = instance.runtime?.sshPort;
      expect(port).toEqual(expect.any(Number));
      let login = { code: -1, out: '' };
      for (let i = 0; i < 10 && login.code !== 0; i++) {
        login = await ssh(keyFile, port!, 'hostname');
        if (login.code !== 0) await new Promise((r) => setTimeout(r, 3000));
      }
      expect(login).toMatchObject({ code: 0 });
      expect(login.out.trim()).toBe(name);

      const pid = Number(readFileSync(join(dataDir, 'qemu', 'instances', id, 'qemu.pid'), 'utf8').trim());
      const del = await call('DELETE', `/api/v1/machines/${id}`);
      expect((await waitForOperation(api, operator, del.body.operation.id, 3 * 60_000)).status).toBe('completed');
      expect(existsSync(join(dataDir, 'qemu', 'instances', id))).toBe(false);
      // Gone, or a zombie waiting for an init that does not reap (containers): not running either way.
      const state = existsSync(`/proc/${pid}/status`) ? /State:\s+(\S)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] : 'gone';
      expect(['gone', 'Z', 'X']).toContain(state);
      expect((await call('GET', `/api/v1/machines/${id}`)).status).toBe(404);
    },
    40 * 60_000,
  );
});
