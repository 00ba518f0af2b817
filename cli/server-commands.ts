// Process commands: serve, worker, migrate, token, config. They talk to PostgreSQL/Temporal directly.
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { Server } from 'node:http';
import type { ParsedConfig } from '../domain/config.ts';
import { describeConfig } from '../domain/config-view.ts';
import { openOrm, migrateDown, migrateUp } from '../db/orm.ts';
import { ApiToken, ROLES, type Role } from '../db/entities/index.ts';
import { ensureToken, issueToken, tokenView } from '../db/repositories/tokens.ts';
import { createApp, drainApp, LISTEN_BACKLOG } from '../api/app.ts';
import { apiTemporalClient } from '../api/temporal.ts';
import { createLogger } from '../logging/logger.ts';
import { startWorker } from '../workers/worker.ts';
import { CliError } from './api-client.ts';
import { table } from './render.ts';

function onShutdown(fn: () => Promise<void>): void {
  let stopping = false;
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => {
      if (stopping) return;
      stopping = true;
      fn().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  }
}

/**
 * With api.processes > 1 the primary only supervises: it forks that many API processes, which
 * share the listening port (node:cluster hands connections out round-robin), replaces one that
 * dies, and passes SIGTERM on. One Node process is CPU-bound at a few thousand metadata reads/s.
 */
async function superviseApiProcesses(parsed: ParsedConfig, count: number): Promise<void> {
  const { config } = parsed;
  const logger = createLogger(config.logLevel, 'hangar-api');
  if (config.auth.bootstrapToken) {
    const orm = await openOrm({ url: config.database.url, poolSize: 1 });
    await ensureToken(orm.em.fork(), 'bootstrap-admin', 'admin', config.auth.bootstrapToken).finally(() => orm.close());
  }
  let stopping = false;
  const fork = () => cluster.fork();
  cluster.on('exit', (child, code, signal) => {
    if (stopping) return;
    logger.error({ pid: child.process.pid, code, signal }, 'API process died; starting a replacement');
    fork();
  });
  for (let i = 0; i < count; i++) fork();
  logger.info({ processes: count, host: config.api.host, port: config.api.port }, 'API supervisor started');
  onShutdown(async () => {
    stopping = true;
    const children = Object.values(cluster.workers ?? {});
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((r) => {
            if (!child || child.isDead()) return r();
            child.once('exit', () => r());
            child.process.kill('SIGTERM');
          }),
      ),
    );
    logger.flush();
  });
}

export async function serve(parsed: ParsedConfig): Promise<void> {
  const { config } = parsed;
  const processes = config.api.processes === 0 ? availableParallelism() : config.api.processes;
  if (processes > 1 && cluster.isPrimary) return superviseApiProcesses(parsed, processes);
  const logger = createLogger(config.logLevel, 'hangar-api');
  const orm = await openOrm({ url: config.database.url, poolSize: config.database.poolSize });
  const { client: temporal, connection } = apiTemporalClient(config);
  if (config.auth.bootstrapToken && cluster.isPrimary) {
    await ensureToken(orm.em.fork(), 'bootstrap-admin', 'admin', config.auth.bootstrapToken);
  }
  const app = createApp({ orm, temporal, config, logger });
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen({ port: config.api.port, host: config.api.host, backlog: LISTEN_BACKLOG }, () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.api.port;
  logger.info({ host: config.api.host, port }, 'API listening');
  onShutdown(async () => {
    logger.info('API shutting down');
    await new Promise<void>((r) => server.close(() => r()));
    await drainApp(app);
    await connection.close().catch(() => undefined);
    await orm.close();
    logger.flush();
  });
}

export async function worker(parsed: ParsedConfig): Promise<void> {
  const logger = createLogger(parsed.config.logLevel, 'hangar-worker');
  const running = await startWorker(parsed.config, logger);
  onShutdown(async () => {
    logger.info('worker draining (SIGTERM)');
    await running.shutdown();
    logger.flush();
  });
  await running.done;
}

export async function migrate(parsed: ParsedConfig, direction: string, to?: string): Promise<void> {
  const orm = await openOrm({ url: parsed.config.database.url, poolSize: 2 });
  try {
    if (direction === 'up') {
      const done = await migrateUp(orm);
      console.log(done.length ? `applied: ${done.join(', ')}` : 'database is up to date');
    } else if (direction === 'down') {
      const done = await migrateDown(orm, to ?? 0);
      console.log(done.length ? `reverted: ${done.join(', ')}` : 'nothing to revert');
    } else if (direction === 'status') {
      const executed = await orm.migrator.getExecuted();
      const pending = await orm.migrator.getPending();
      console.log(
        table([...executed.map((m) => ({ name: m.name, state: 'applied' })), ...pending.map((m) => ({ name: m.name, state: 'pending' }))], ['name', 'state']),
      );
    } else {
      throw new CliError(`unknown migrate direction "${direction}" (up, down or status)`, 2);
    }
  } finally {
    await orm.close();
  }
}

export async function tokenCreate(parsed: ParsedConfig, name: string, role: string, json: boolean): Promise<void> {
  if (!(ROLES as readonly string[]).includes(role)) throw new CliError(`--role must be one of ${ROLES.join(', ')}`, 2);
  const orm = await openOrm({ url: parsed.config.database.url, poolSize: 2 });
  try {
    const { token, record } = await issueToken(orm.em.fork(), name, role as Role);
    if (json) console.log(JSON.stringify({ ...tokenView(record), token }));
    else {
      process.stderr.write(`created token "${name}" with role ${role}; it is shown only once:\n`);
      console.log(token);
    }
  } finally {
    await orm.close();
  }
}

export async function tokenList(parsed: ParsedConfig, json: boolean): Promise<void> {
  const orm = await openOrm({ url: parsed.config.database.url, poolSize: 2 });
  try {
    const tokens = (await orm.em.fork().find(ApiToken, {}, { orderBy: { name: 'asc' } })).map(tokenView);
    console.log(json ? JSON.stringify(tokens, null, 2) : table(tokens, ['name', 'role', 'prefix', 'created_at', 'last_used_at', 'revoked_at']));
  } finally {
    await orm.close();
  }
}

export async function tokenRevoke(parsed: ParsedConfig, name: string): Promise<void> {
  const orm = await openOrm({ url: parsed.config.database.url, poolSize: 2 });
  try {
    const em = orm.em.fork();
    const token = await em.findOne(ApiToken, { name });
    if (!token) throw new CliError(`no token named "${name}"`, 1);
    token.revokedAt ??= new Date();
    await em.flush();
    console.log(`revoked token "${name}"`);
  } finally {
    await orm.close();
  }
}

export function configShow(parsed: ParsedConfig, json: boolean): void {
  const rows = describeConfig(parsed);
  console.log(json ? JSON.stringify(rows, null, 2) : table(rows, ['key', 'value', 'source', 'env']));
}

export { ensureToken };
