import type { Registry } from 'prom-client';
import { z } from 'zod';
import { HangarError, toEnvelope } from '../../domain/errors.ts';
import type { ApiDeps } from '../context.ts';
import { contractRouter, json, media, type ContractRouter } from '../contract/route.ts';

const within = <T>(p: Promise<T>, ms: number): Promise<T> =>
  Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms).unref())]);

const alive = z.strictObject({ status: z.literal('ok') }).meta({ id: 'Alive' });
const ready = z
  .strictObject({ status: z.literal('ready'), checks: z.strictObject({ postgres: z.literal('ok'), temporal: z.literal('ok') }) })
  .meta({ id: 'Ready' });

export function healthRouter(deps: ApiDeps, registry: Registry | null): ContractRouter {
  const r = contractRouter({ tags: ['health'], security: 'none' });

  // Liveness: the process serves requests. Nothing external is consulted.
  r.route({
    method: 'get',
    path: '/healthz',
    summary: 'Liveness',
    responses: { 200: json(alive, 'alive') },
    handler: (_input, _req, res) => {
      res.json({ status: 'ok' });
    },
  });

  // Readiness: both stores the API depends on answer.
  r.route({
    method: 'get',
    path: '/readyz',
    summary: 'Readiness: PostgreSQL and Temporal answer',
    description: 'A 503 names the unreachable store(s); `fields` has a line per store.',
    responses: { 200: json(ready, 'ready') },
    errors: [503],
    handler: async (_input, _req, res) => {
      const checks: Record<string, string> = {};
      await Promise.all([
        within(deps.orm.em.getConnection().execute('select 1'), 2000).then(
          () => {
            checks.postgres = 'ok';
          },
          (err: Error) => {
            checks.postgres = `unreachable: ${err.message.split('\n')[0]}`;
          },
        ),
        within(
          deps.temporal.connection.withDeadline(Date.now() + 2000, () => deps.temporal.connection.workflowService.getSystemInfo({})),
          2500,
        ).then(
          () => {
            checks.temporal = 'ok';
          },
          (err: Error) => {
            checks.temporal = `unreachable: ${err.message.split('\n')[0]}`;
          },
        ),
      ]);
      const failing = Object.keys(checks)
        .filter((k) => checks[k] !== 'ok')
        .sort();
      if (failing.length) {
        res.status(503).json(toEnvelope(new HangarError('unavailable', `not ready: ${failing.join(' and ')} unreachable`, checks)));
        return;
      }
      res.json({ status: 'ready', checks });
    },
  });

  if (registry) {
    r.route({
      method: 'get',
      path: '/metrics',
      summary: 'Prometheus metrics (text exposition format)',
      responses: { 200: media('text/plain', 'Prometheus text exposition format') },
      handler: async (_input, _req, res) => {
        res.type(registry.contentType).send(await registry.metrics());
      },
    });
  }
  return r;
}
