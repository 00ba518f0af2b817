import { Router } from 'express';
import type { Registry } from 'prom-client';
import { HangarError, toEnvelope } from '../../domain/errors.ts';
import type { ApiDeps } from '../context.ts';

const within = <T>(p: Promise<T>, ms: number): Promise<T> =>
  Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms).unref())]);

export function healthRouter(deps: ApiDeps, registry: Registry | null): Router {
  const router = Router();

  // Liveness: the process serves requests. Nothing external is consulted.
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  // Readiness: both stores the API depends on answer.
  router.get('/readyz', async (_req, res) => {
    const checks: Record<string, string> = {};
    await Promise.all([
      within(deps.orm.em.getConnection().execute('select 1'), 2000)
        .then(() => { checks.postgres = 'ok'; }, (err: Error) => { checks.postgres = `unreachable: ${err.message.split('\n')[0]}`; }),
      within(deps.temporal.connection.withDeadline(Date.now() + 2000, () => deps.temporal.connection.workflowService.getSystemInfo({})), 2500)
        .then(() => { checks.temporal = 'ok'; }, (err: Error) => { checks.temporal = `unreachable: ${err.message.split('\n')[0]}`; }),
    ]);
    const failing = Object.keys(checks).filter((k) => checks[k] !== 'ok').sort();
    if (failing.length) {
      res.status(503).json(toEnvelope(new HangarError('unavailable', `not ready: ${failing.join(' and ')} unreachable`, checks)));
      return;
    }
    res.json({ status: 'ready', checks });
  });

  if (registry) {
    router.get('/metrics', async (_req, res) => {
      res.type(registry.contentType).send(await registry.metrics());
    });
  }
  return router;
}
