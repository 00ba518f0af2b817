// The `hangar` command as a user runs it: the real launcher against a real API and worker.
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import type { RunningWorker } from '../../workers/worker.ts';
import { createToken, startApi, startInProcessWorker, testConfig, testEnv, type TestApi } from '../support/harness.ts';
import { hangarCli } from '../support/hangar-cli.ts';

let api: TestApi;
let worker: RunningWorker;
let env: Record<string, string>;
const { run: hangar } = hangarCli(() => env);

beforeAll(async () => {
  const base = testEnv();
  const config = testConfig({ HANGAR_TASK_QUEUE: base.HANGAR_TASK_QUEUE! });
  api = await startApi(config);
  worker = await startInProcessWorker(config);
  env = { ...base, HANGAR_API_URL: api.url, HANGAR_TOKEN: await createToken(api.orm, 'operator') };
});

afterAll(async () => {
  await worker?.shutdown();
  await api?.close();
});

describe('hangar CLI', () => {
  it('creates a machine and watches its operation to the end', async () => {
    const name = `cli-${Date.now().toString(36)}`;
    const run = await hangar(['machines', 'create', '--name', name, '--cpu', '2', '--memory-mb', '1024', '--disk-gb', '8', '--wait']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`machine ${name}`);
    // Not a terminal: one plain line per step change, each finished step with its time.
    expect(run.stdout).toMatch(/^mark-provisioning: completed in \d+\.\d s$/m);
    expect(run.stdout).toMatch(/^mark-ready: completed in \d+\.\d s$/m);
    expect(run.stdout).toMatch(/^provisionVm [0-9a-f-]{36} {2}5\/5 {2}completed in \d+(\.\d)? s {2}\(operation [0-9a-f-]{36}\)$/m);
    expect(run.stdout).not.toContain('\x1b[');

    const list = await hangar(['machines', 'list', '--json']);
    expect(list.code).toBe(0);
    const machine = (JSON.parse(list.stdout) as { items: { name: string; state: string; id: string }[] }).items.find((m) => m.name === name);
    expect(machine?.state).toBe('ready');

    const table = await hangar(['machines', 'list']);
    expect(table.stdout.split('\n')[0]).toMatch(/^NAME\s+STATE\s+PROVIDER\s+CPU\s+MEMORY_MB\s+DISK_GB\s+POWER_STATE\s+ID\s+CREATED_AT$/);
    expect(table.stdout).toContain(name);

    const get = await hangar(['machines', 'get', name, '--json']);
    expect(JSON.parse(get.stdout).id).toBe(machine!.id);

    const del = await hangar(['machines', 'delete', name, '--wait', '--yes']);
    expect(del.code).toBe(0);
    expect(del.stdout).toMatch(/^delete-record: completed in /m);
    const gone = await hangar(['machines', 'get', machine!.id]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('error: not_found');
  });

  it('shows the API error envelope and exits non-zero on bad input', async () => {
    const run = await hangar(['machines', 'create', '--name', 'Not_Valid', '--cpu', '1']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('error: validation_failed');
    expect(run.stderr).toContain('name:');
    const usage = await hangar(['machines', 'create', '--name', 'ok', '--cpu', 'two']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--cpu must be a whole number');
  });

  it('explains a missing token, a weak role and an unreachable API', async () => {
    const noToken = await hangar(['machines', 'list'], { HANGAR_TOKEN: '' });
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toContain('no API token');
    const viewer = await createToken(api.orm, 'viewer');
    const weak = await hangar(['machines', 'create', '--name', 'weak-role'], { HANGAR_TOKEN: viewer });
    expect(weak.code).toBe(1);
    expect(weak.stderr).toContain('error: forbidden');
    const down = await hangar(['machines', 'list'], { HANGAR_API_URL: 'http://127.0.0.1:1' });
    expect(down.code).toBe(3);
    expect(down.stderr).toContain('cannot reach the Hangar API');
  });

  it('rejects invalid configuration naming the setting', async () => {
    const run = await hangar(['machines', 'list'], { HANGAR_API_URL: 'not a url' });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('api.url [HANGAR_API_URL]');
  });

  it('prints the effective configuration with secrets redacted', async () => {
    const run = await hangar(['config', 'show'], { DATABASE_URL: 'postgres://hangar:s3cr3t-pw@db:5432/hangar' });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('postgres://hangar:***@db:5432/hangar');
    expect(run.stdout).not.toContain('s3cr3t-pw');
    expect(run.stdout).not.toContain(env.HANGAR_TOKEN);
    expect(run.stdout).toMatch(/api\.token\s+\[redacted\]\s+env/);
  });

  it('creates a token once and lists it without the secret', async () => {
    const name = `cli-token-${Date.now().toString(36)}`;
    const created = await hangar(['token', 'create', '--name', name, '--role', 'viewer']);
    expect(created.code).toBe(0);
    const secret = created.stdout.trim();
    expect(secret).toMatch(/^hgr_[A-Za-z0-9_-]{43}$/);
    const list = await hangar(['token', 'list']);
    expect(list.stdout).toContain(name);
    expect(list.stdout).not.toContain(secret);
    const bad = await hangar(['token', 'create', '--name', `${name}-2`, '--role', 'root']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--role must be one of viewer, operator, admin');
  });
});
