// Request ids, structured access logs and Prometheus metrics for every request.
import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { requestIdSchema } from '../../domain/text.ts';

export function requestContext(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const incoming = req.get('x-request-id');
    req.id = incoming && requestIdSchema.safeParse(incoming).success ? incoming : randomUUID();
    // The child logger is built on first use: most requests on hot paths never log.
    let child: Logger | undefined;
    Object.defineProperty(req, 'log', {
      configurable: true,
      enumerable: true,
      get: () => (child ??= logger.child({ reqId: req.id })),
      set: (value: Logger) => {
        child = value;
      },
    });
    res.setHeader('X-Request-Id', req.id);
    next();
  };
}

/** Seed URLs carry a machine's secret token as their second segment: never log it. */
export function loggablePath(path: string): string {
  return path.replace(/^(\/cloud-init\/[^/]+\/)[^/]+/, '$1[redacted]');
}

/** The route pattern, never the raw path: raw paths would make label cardinality unbounded. */
export function routeLabel(req: Request): string {
  if (req.route?.path) return `${req.baseUrl}${req.route.path as string}`;
  return 'unmatched';
}

export interface HttpMetrics {
  registry: Registry;
  middleware: RequestHandler;
  /** Records a request answered outside the middleware chain (the metadata fast path). */
  observe: (method: string, route: string, status: number, seconds: number) => void;
}

export function createHttpMetrics(): HttpMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'hangar_' });
  const requests = new Counter({
    name: 'hangar_http_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'hangar_http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  });
  // Label-bound children, one per (method, route, status): routes are patterns, so this stays small.
  const children = new Map<string, { count: ReturnType<typeof requests.labels>; time: ReturnType<typeof duration.labels> }>();
  const childFor = (method: string, route: string, status: string) => {
    const key = `${method} ${route} ${status}`;
    let c = children.get(key);
    if (!c) children.set(key, (c = { count: requests.labels(method, route, status), time: duration.labels(method, route, status) }));
    return c;
  };
  const middleware: RequestHandler = (req, res, next) => {
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const labels = { method: req.method, route: routeLabel(req), status: String(res.statusCode) };
      const child = childFor(labels.method, labels.route, labels.status);
      child.count.inc();
      child.time.observe(Number(process.hrtime.bigint() - start) / 1e9);
      const level = res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info';
      // Building the line costs more than skipping it: only do it when it will be written.
      if (!req.log.isLevelEnabled(level)) return;
      req.log[level](
        {
          method: req.method,
          route: labels.route,
          path: loggablePath(req.originalUrl.split('?')[0] ?? ''),
          status: res.statusCode,
          ms: Math.round(Number(process.hrtime.bigint() - start) / 1e4) / 100,
          actor: req.actor?.name,
        },
        'request',
      );
    });
    next();
  };
  const observe = (method: string, route: string, status: number, seconds: number) => {
    const child = childFor(method, route, String(status));
    child.count.inc();
    child.time.observe(seconds);
  };
  return { registry, middleware, observe };
}
