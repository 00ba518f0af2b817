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
}

export function useApi(
  hooks: { beforeAll: (fn: () => Promise<void>) => void; afterAll: (fn: () => Promise<void>) => void },
  overrides: Record<string, string> = {},
): ApiFixture {
  const f = {} as ApiFixture;
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
    await f.api?.close();
  });
  return f;
}

let counter = 0;
export const unique = (prefix: string) => `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
