// Builds real Hangar pieces for tests: config, ORM, API server on an ephemeral port, an
// in-process worker on a private task queue, tokens, and small HTTP/wait helpers.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Writable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { pino, type Logger } from 'pino';
import type { HangarConfig } from '../../domain/config.ts';
import { REDACT_PATHS } from '../../domain/logging.ts';
import { loadConfig } from '../../cli/config.ts';
import { openOrm, type MikroORM } from '../../db/orm.ts';
import { issueToken } from '../../db/repositories/tokens.ts';
import type { Role } from '../../db/entities/index.ts';
import { createApp, drainApp } from '../../api/app.ts';
import type { ContractViolation } from '../../api/contract/response-check.ts';
import { startWorker, type RunningWorker } from '../../workers/worker.ts';
import { TEST_DATA_DIR, testServices } from './services.ts';

export function testEnv(overrides: Record<string, string> = {}): Record<string, string> {
  const services = testServices();
  return {
    DATABASE_URL: services.databaseUrl,
    TEMPORAL_ADDRESS: services.temporalAddress,
    HANGAR_TASK_QUEUE: `test-${randomUUID().slice(0, 8)}`,
    HANGAR_LOG_LEVEL: 'silent',
    HANGAR_DATA_DIR: TEST_DATA_DIR,
    HANGAR_API_PORT: '0',
    // Tests change data and read it back at once; the cache has its own test.
    HANGAR_METADATA_CACHE_MS: '0',
    // Suites start workers on throwaway task queues: no observer schedules for them (their own test covers schedules).
    HANGAR_DRIFT_SCHEDULES: 'false',
    ...overrides,
  };
}

/** A full configuration for tests; each call gets its own task queue so suites never share workers. */
export function testConfig(overrides: Record<string, string> = {}): HangarConfig {
  return loadConfig({ env: testEnv(overrides), cwd: TEST_DATA_DIR }).config;
}

/** A pino logger whose output the test can read back (to prove secrets never reach logs). */
export function capturingLogger(level = 'debug'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  return { logger: pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink), lines };
}

export interface TestApi {
  url: string;
  orm: MikroORM;
  temporal: Client;
  config: HangarConfig;
  /** Responses that did not match their route's declared contract (see api/contract/response-check.ts). */
  violations: ContractViolation[];
  /** Closes everything, then fails if any response broke the contract. */
  close: () => Promise<void>;
}

export async function startApi(config: HangarConfig, logger?: Logger): Promise<TestApi> {
  const orm = await openOrm({ url: config.database.url, poolSize: 10 });
  const connection = await Connection.connect({ address: config.temporal.address });
  const temporal = new Client({ connection, namespace: config.temporal.namespace });
  // Every response the tests receive is checked against the route's declared contract.
  const violations: ContractViolation[] = [];
  const app = createApp({ orm, temporal, config, logger: logger ?? pino({ level: 'silent' }) }, { validateResponses: true, violations });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    orm,
    temporal,
    config,
    violations,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await drainApp(app);
      await connection.close();
      await orm.close();
      if (violations.length) {
        throw new Error(`responses broke the API contract:\n${violations.map((v) => `  ${v.method} ${v.path} → ${v.status}: ${v.problem}`).join('\n')}`);
      }
    },
  };
}

export async function startInProcessWorker(config: HangarConfig, logger?: Logger): Promise<RunningWorker> {
  return startWorker(config, logger ?? pino({ level: 'silent' }));
}

export async function createToken(orm: MikroORM, role: Role, name = `${role}-${randomUUID().slice(0, 8)}`): Promise<string> {
  return (await issueToken(orm.em.fork(), name, role)).token;
}

export interface HttpResult<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export async function http<T = any>(
  base: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<HttpResult<T>> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.rawBody !== undefined) body = options.rawBody;
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(new URL(path, base), { method, headers, body });
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  return { status: res.status, headers: res.headers, body: parsed as T, text };
}

/** Polls until `check` returns a truthy value; fails with `what` and the last value seen. */
export async function waitFor<T>(what: string, check: () => Promise<T | null | undefined | false>, timeoutMs = 60_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${String(last instanceof Error ? last.message : JSON.stringify(last))}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Waits for an operation to leave `running` and returns its final view. */
export async function waitForOperation(api: { url: string }, token: string, operationId: string, timeoutMs = 60_000) {
  return waitFor(
    `operation ${operationId} to finish`,
    async () => {
      const res = await http(api.url, 'GET', `/api/v1/operations/${operationId}`, { token });
      return res.status === 200 && res.body.status !== 'running' ? res.body : null;
    },
    timeoutMs,
    250,
  );
}
