// Secrets never reach logs, responses or error messages.
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import type { RunningWorker } from '../../workers/worker.ts';
import { capturingLogger, createToken, http, startApi, startInProcessWorker, testConfig, waitForOperation, type TestApi } from '../support/harness.ts';

let api: TestApi;
let worker: RunningWorker;
const captured = capturingLogger('trace');

beforeAll(async () => {
  const config = testConfig({ HANGAR_LOG_LEVEL: 'trace' });
  api = await startApi(config, captured.logger);
  worker = await startInProcessWorker(config, captured.logger);
});

afterAll(async () => {
  await worker?.shutdown();
  await api?.close();
});

describe('secrets', () => {
  it('keeps tokens and the database password out of logs and responses', async () => {
    const operator = await createToken(api.orm, 'operator');
    const admin = await createToken(api.orm, 'admin');
    const created = await http(api.url, 'POST', '/api/v1/machines', {
      token: operator,
      body: { name: `sec-${Date.now()}`, provider: 'dryrun', cpu: 1, memory_mb: 256, disk_gb: 1 },
      headers: { 'idempotency-key': 'secret-test-key' },
    });
    expect(created.status).toBe(202);
    await waitForOperation(api, operator, created.body.operation.id);
    const issued = await http(api.url, 'POST', '/api/v1/tokens', { token: admin, body: { name: `issued-${Date.now()}`, role: 'viewer' } });
    await http(api.url, 'GET', '/api/v1/machines', { token: 'hgr_wrong-token-value-for-the-test' });
    captured.logger.info(
      { req: { headers: { authorization: `Bearer ${operator}` } }, password: 'pw-in-a-field', config: { database: { url: api.config.database.url } } },
      'structured secrets',
    );

    const logs = captured.lines.join('\n');
    expect(captured.lines.length).toBeGreaterThan(10);
    expect(logs).toContain('"msg":"request"');
    const password = new URL(api.config.database.url).password;
    for (const secret of [operator, admin, issued.body.token, 'hgr_wrong-token-value-for-the-test', 'pw-in-a-field', password].filter(Boolean)) {
      expect(logs).not.toContain(secret);
    }
    expect(logs).toContain('[redacted]');

    const list = await http(api.url, 'GET', '/api/v1/tokens', { token: admin });
    expect(list.text).not.toContain(operator);
    expect(list.text).not.toContain(issued.body.token);
    expect(list.text).not.toContain('token_hash');
    const machine = await http(api.url, 'GET', `/api/v1/machines/${created.body.machine.id}`, { token: operator });
    expect(machine.text).not.toContain(created.body.metadata_token);
    const ready = await http(api.url, 'GET', '/readyz');
    if (password) expect(ready.text).not.toContain(password);
  });
});
