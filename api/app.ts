// The Express app factory. Dependencies come in; nothing here opens connections of its own.
import express, { type Express } from 'express';
import './context.ts';
import type { ApiDeps } from './context.ts';
import { authenticate, authorize } from './middleware/auth.ts';
import { auditMutations } from './middleware/audit.ts';
import { errorHandler, notFoundHandler } from './middleware/errors.ts';
import { idempotency } from './middleware/idempotency.ts';
import { createHttpMetrics, requestContext } from './middleware/observability.ts';
import { healthRouter } from './routes/health.ts';
import { machinesRouter } from './routes/machines.ts';
import { operationsRouter } from './routes/operations.ts';
import { tokensRouter } from './routes/tokens.ts';
import { auditRouter } from './routes/audit.ts';
import { sshKeysRouter } from './routes/ssh-keys.ts';
import { networksRouter } from './routes/networks.ts';
import { cloudInitService } from './metadata/router.ts';
import { accountsRouter } from './routes/accounts.ts';
import { poolsRouter } from './routes/pools.ts';
import { blocksRouter } from './routes/blocks.ts';
import { templatesRouter } from './routes/templates.ts';
import { hostsRouter } from './routes/hosts.ts';
import { clustersRouter } from './routes/clusters.ts';
import { apiDocsHtml, openApiDocument } from './openapi.ts';

export function createApp(deps: ApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.set('query parser', 'simple');

  const metrics = deps.config.metrics.enabled ? createHttpMetrics() : null;
  const cloudInit = cloudInitService(deps, metrics?.observe);
  // Booting fleets re-read their seeds: cached documents are answered before any other middleware.
  app.use(cloudInit.fastPath);
  app.use(requestContext(deps.logger));
  if (metrics) app.use(metrics.middleware);

  app.use(healthRouter(deps, metrics?.registry ?? null));
  const openapi = openApiDocument();
  app.get('/openapi.json', (_req, res) => { res.json(openapi); });
  app.get('/docs', (_req, res) => { res.type('html').send(apiDocsHtml()); });

  // Machines read their seed without an API token: the per-machine token in the URL is the secret.
  app.use('/cloud-init', cloudInit.router);

  const api = express.Router();
  api.use(authenticate(deps.orm));
  // Bodies are parsed only for authenticated callers.
  api.use(express.json({ limit: deps.config.api.bodyLimit, strict: true }));
  api.use(auditMutations(deps.orm));
  api.use('/tokens', authorize('admin'));
  api.use(authorize());
  api.use(idempotency(deps.orm));
  api.use('/machines', machinesRouter(deps));
  api.use('/ssh-keys', sshKeysRouter(deps));
  api.use('/networks', networksRouter(deps));
  api.use('/accounts', accountsRouter(deps));
  api.use('/pools', poolsRouter(deps));
  api.use('/blocks', blocksRouter(deps));
  api.use('/templates', templatesRouter(deps));
  api.use('/hosts', hostsRouter(deps));
  api.use('/clusters', clustersRouter(deps));
  api.use('/operations', operationsRouter(deps));
  api.use('/tokens', tokensRouter(deps));
  api.use('/audit', auditRouter(deps));
  app.use('/api/v1', api);

  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}
