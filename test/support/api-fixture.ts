// One real API (no worker) plus tokens for inventory tests.
import { createToken, http, startApi, testConfig, type HttpResult, type TestApi } from './harness.ts';

export interface ApiFixture {
  api: TestApi;
  viewer: string;
  operator: string;
  admin: string;
  get: (path: string) => Promise<HttpResult>;
  post: (path: string, body: unknown, token?: string) => Promise<HttpResult>;
  patch: (path: string, body: unknown) => Promise<HttpResult>;
  del: (path: string) => Promise<HttpResult>;
  /**
   * A clean-up that needs the API's clients (Temporal, ORM): it runs before the API closes. A plain
   * afterAll declared after `useApi(...)` would run after the close (jest runs afterAll hooks in
   * declaration order) and fail against closed clients.
   */
  beforeClose: (fn: () => Promise<void>) => void;
}

export function useApi(
  hooks: { beforeAll: (fn: () => Promise<void>) => void; afterAll: (fn: () => Promise<void>) => void },
  overrides: Record<string, string> = {},
): ApiFixture {
  const cleanups: (() => Promise<void>)[] = [];
  const f = { beforeClose: (fn) => void cleanups.push(fn) } as ApiFixture;
  hooks.beforeAll(async () => {
    f.api = await startApi(testConfig(overrides));
    f.viewer = await createToken(f.api.orm, 'viewer');
    f.operator = await createToken(f.api.orm, 'operator');
    f.admin = await createToken(f.api.orm, 'admin');
    f.get = (path) => http(f.api.url, 'GET', path, { token: f.viewer });
    f.post = (path, body, token) => http(f.api.url, 'POST', path, { token: token ?? f.operator, body });
    f.patch = (path, body) => http(f.api.url, 'PATCH', path, { token: f.operator, body });
    f.del = (path) => http(f.api.url, 'DELETE', path, { token: f.operator });
  });
  hooks.afterAll(async () => {
    const failures: unknown[] = [];
    if (f.api) {
      for (const cleanup of cleanups) await cleanup().catch((err: unknown) => failures.push(err));
    }
    await f.api?.close();
    if (failures.length) throw new AggregateError(failures, `${failures.length} clean-up(s) before the API closed failed`);
  });
  return f;
}

let counter = 0;
export const unique = (prefix: string) => `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
