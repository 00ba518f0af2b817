// The API's contract: every declared route with its full path, for the OpenAPI document, the
// test-mode response check and the test that no Express route goes undeclared.
import type { ContractRouter, DeclaredRoute } from './route.ts';

export interface ContractOperation extends DeclaredRoute {
  /** The OpenAPI path: '/api/v1/machines/{id}'. */
  openApiPath: string;
  operationId: string;
  matcher: RegExp;
  /** Literal path segments: the more, the more specific (for matching requests no route answered). */
  literals: number;
}

const toOpenApi = (expressPath: string) => expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

function operationId(method: string, path: string): string {
  const words = path
    .replace(/^\/api\/v1/, '')
    .split(/[/{}.-]+/)
    .filter(Boolean);
  return [method, ...words].map((w, i) => (i === 0 ? w : w[0]!.toUpperCase() + w.slice(1))).join('');
}

export class ApiContract {
  readonly operations: ContractOperation[] = [];

  /** Mounts `router` at `base + at` on `parent` and records its routes under that prefix. */
  mount(parent: { use: (path: string, router: ContractRouter['express']) => unknown }, base: string, at: string, router: ContractRouter): void {
    parent.use(at || '/', router.express);
    this.declare(`${base}${at}`, router.routes);
  }

  /** Records routes served under `prefix` by a router built without this helper. */
  declare(prefix: string, routes: DeclaredRoute[]): void {
    for (const route of routes) {
      const full = `${prefix}${route.path === '/' && prefix ? '' : route.path}` || '/';
      const openApiPath = toOpenApi(full);
      const pattern = openApiPath
        .split('/')
        .map((seg) => (/^\{[^}]+\}$/.test(seg) ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
        .join('/');
      this.operations.push({
        ...route,
        openApiPath,
        operationId: operationId(route.method, openApiPath),
        matcher: new RegExp(`^${pattern}/?$`),
        literals: openApiPath.split('/').filter((s) => s && !s.startsWith('{')).length,
      });
    }
  }

  /** The operation a request path falls under (for answers given before any route ran, e.g. 401). */
  match(method: string, path: string): ContractOperation | undefined {
    const m = method.toLowerCase();
    return this.operations.filter((op) => op.method === m && op.matcher.test(path)).sort((a, b) => b.literals - a.literals)[0];
  }
}
