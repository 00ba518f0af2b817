// The Express app factory. Dependencies come in; nothing here opens connections of its own.
import express, { type Express } from 'express';
import './context.ts';
import type { ApiDeps } from './context.ts';
import { authenticate, authorize } from './middleware/auth.ts';
import { auditMutations } from './middleware/audit.ts';
import { errorHandler, notFoundHandler } from './middleware/errors.ts';
import { idempotency } from './middleware/idempotency.ts';
import { refuseUnstorableInput } from './middleware/input-guard.ts';
import { createHttpMetrics, requestContext } from './middleware/observability.ts';
import { healthRouter } from './routes/health.ts';
import { machinesRouter } from './routes/machines.ts';
import { machineActionsRouter } from './routes/machine-actions.ts';
import { machineDisksRouter } from './routes/machine-disks.ts';
import { operationsRouter } from './routes/operations.ts';
import { tokensRouter } from './routes/tokens.ts';
import { statusRouter } from './routes/status.ts';
import { auditRouter } from './routes/audit.ts';
import { sshKeysRouter } from './routes/ssh-keys.ts';
import { networksRouter } from './routes/networks.ts';
import { cloudInitService } from './metadata/router.ts';
import { accountsRouter } from './routes/accounts.ts';
import { accountActionsRouter } from './routes/account-actions.ts';
import { cloudAccessFromConfig } from '../keyfiles/cloud-credentials.ts';
import { poolsRouter } from './routes/pools.ts';
import { blocksRouter } from './routes/blocks.ts';
import { scopesRouter } from './routes/scopes.ts';
import { subnetsRouter } from './routes/subnets.ts';
import { analyticsRouter } from './routes/analytics.ts';
import { templatesRouter } from './routes/templates.ts';
import { hostsRouter } from './routes/hosts.ts';
import { hostProvisioningRouter } from './routes/host-provisioning.ts';
import { hostActionsRouter } from './routes/host-actions.ts';
import { clustersRouter } from './routes/clusters.ts';
import { driftRouter } from './routes/drift.ts';
import { driftAdoptRouter } from './routes/drift-adopt.ts';
import { driftRemediateRouter } from './routes/drift-remediate.ts';
import { schedulesRouter } from './routes/schedules.ts';
import { registerDriftMetrics } from './drift-metrics.ts';
import { ApiContract } from './contract/registry.ts';
import { apiDocsHtml, openApiDocument } from './contract/document.ts';
import { contractRouter, media, type ContractRouter } from './contract/route.ts';
import { responseCheck, type ContractViolation } from './contract/response-check.ts';

export interface AppOptions {
  /**
   * Test mode: compare every response with its route's declared contract and record each mismatch
   * in `violations` (also on with HANGAR_VALIDATE_RESPONSES=1). The test harness fails on any.
   */
  validateResponses?: boolean;
  violations?: ContractViolation[];
}

/** /openapi.json and /docs, generated on first request from the routes mounted by then. */
function documentRouter(contract: ApiContract): ContractRouter {
  const r = contractRouter({ tags: ['meta'], security: 'none' });
  let doc: Record<string, unknown> | undefined;
  let html: string | undefined;
  const document = () => (doc ??= openApiDocument(contract));
  r.route({
    method: 'get',
    path: '/openapi.json',
    summary: 'This OpenAPI 3.1 document, generated from the route declarations',
    responses: { 200: media('application/json', 'the OpenAPI document') },
    handler: (_input, _req, res) => {
      res.type('application/json').send(JSON.stringify(document()));
    },
  });
  r.route({
    method: 'get',
    path: '/docs',
    summary: 'A readable reference generated from the same document',
    responses: { 200: media('text/html', 'self-contained HTML') },
    handler: (_input, _req, res) => {
      res.type('html').send((html ??= apiDocsHtml(document())));
    },
  });
  return r;
}

/**
 * The listen backlog for the API's socket. Node's default (511) drops the connections of a boot
 * storm (a thousand guests fetching their seed at once): dropped SYNs come back after 1, 3, 7 …
 * seconds of TCP retransmission. The kernel caps it at net.core.somaxconn.
 */
export const LISTEN_BACKLOG = 4096;

/**
 * Finishes what the API still owes its database (the metadata fetch counts not yet written). Call
 * it after the HTTP server has closed and before the ORM closes, or the last second's counts are lost.
 */
export async function drainApp(app: Express): Promise<void> {
  await (app.locals.drain as (() => Promise<void>) | undefined)?.();
}

export function createApp(deps: ApiDeps, options: AppOptions = {}): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.set('query parser', 'simple');

  const contract = new ApiContract();
  app.locals.contract = contract;
  const metrics = deps.config.metrics.enabled ? createHttpMetrics() : null;
  if (metrics) registerDriftMetrics(metrics.registry, deps.orm);
  const cloudInit = cloudInitService(deps, metrics?.observe);
  app.locals.drain = () => cloudInit.close();
  if (options.validateResponses || process.env.HANGAR_VALIDATE_RESPONSES === '1') {
    app.locals.contractViolations = options.violations ?? [];
    app.use(responseCheck(contract, app.locals.contractViolations));
  }
  // Booting fleets re-read their seeds: cached documents are answered before any other middleware.
  app.use(cloudInit.fastPath);
  app.use(requestContext(deps.logger));
  if (metrics) app.use(metrics.middleware);
  // Paths and query strings PostgreSQL could not store are refused before any route sees them.
  app.use(refuseUnstorableInput);

  contract.mount(app, '', '', healthRouter(deps, metrics?.registry ?? null));
  contract.mount(app, '', '', documentRouter(contract));

  // Machines read their seed without an API token: the per-machine token in the URL is the secret.
  contract.mount(app, '', '/cloud-init', cloudInit.router);

  const api = express.Router();
  api.use(authenticate(deps.orm));
  // Bodies are parsed only for authenticated callers.
  api.use(express.json({ limit: deps.config.api.bodyLimit, strict: true }));
  api.use(refuseUnstorableInput);
  api.use(auditMutations(deps.orm));
  api.use('/tokens', authorize('admin'));
  api.use(authorize());
  api.use(idempotency(deps.orm));
  const v1 = (at: string, router: ContractRouter) => contract.mount(api, '/api/v1', at, router);
  v1('/machines', machinesRouter(deps));
  v1('/machines', machineActionsRouter(deps));
  v1('/machines', machineDisksRouter(deps));
  v1('/ssh-keys', sshKeysRouter(deps));
  v1('/networks', networksRouter(deps));
  v1('/accounts', accountsRouter(deps));
  v1('/accounts', accountActionsRouter({ ...deps, cloud: deps.cloud ?? cloudAccessFromConfig(deps.config) }));
  v1('/pools', poolsRouter(deps));
  v1('/blocks', blocksRouter(deps));
  v1('/scopes', scopesRouter(deps));
  v1('/subnets', subnetsRouter(deps));
  v1('/analytics', analyticsRouter(deps));
  v1('/templates', templatesRouter(deps));
  v1('/hosts', hostsRouter(deps));
  v1('/hosts', hostProvisioningRouter(deps));
  v1('/hosts', hostActionsRouter(deps));
  v1('/clusters', clustersRouter(deps));
  v1('/drift', driftRouter(deps));
  v1('/drift', driftAdoptRouter(deps));
  v1('/drift', driftRemediateRouter(deps));
  v1('/schedules', schedulesRouter(deps));
  v1('/operations', operationsRouter(deps));
  v1('/tokens', tokensRouter(deps));
  v1('/status', statusRouter(deps));
  v1('/audit', auditRouter(deps));
  app.use('/api/v1', api);

  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}
