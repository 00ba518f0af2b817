import { MikroORM, defineConfig } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { ENTITIES } from './entities/index.ts';
import { MIGRATIONS } from './migrations/index.ts';

export type { MikroORM };
export type { EntityManager } from '@mikro-orm/postgresql';

export interface OrmOptions {
  url: string;
  poolSize?: number;
  debug?: boolean;
}

export function ormConfig(options: OrmOptions) {
  return defineConfig({
    clientUrl: options.url,
    entities: ENTITIES,
    extensions: [Migrator],
    pool: { min: 0, max: options.poolSize ?? 10 },
    migrations: { migrationsList: MIGRATIONS, snapshot: false, transactional: true, allOrNothing: true },
    debug: options.debug ?? false,
    // Entities are declared with defineEntity; nothing to discover from the filesystem.
    discovery: { warnWhenNoEntities: true },
    // Errors from the driver carry SQL; never let them (or their parameters) reach logs verbatim.
    logger: () => undefined,
  });
}

export async function openOrm(options: OrmOptions): Promise<MikroORM> {
  return stayClosedAfterClose(await MikroORM.init(ormConfig(options)));
}

/**
 * MikroORM reconnects lazily: a query after `close()` (a deferred write that outlives shutdown,
 * such as the metadata fetch counter's sweep) silently opens a fresh pool, whose idle connection
 * then keeps the process alive for the pool's idle timeout and is never closed. Closed means
 * closed: such a query fails (its caller logs it) and the process can exit.
 */
function stayClosedAfterClose(orm: MikroORM): MikroORM {
  const connection = orm.em.getConnection();
  const close = orm.close.bind(orm);
  const ensureConnection = connection.ensureConnection.bind(connection);
  let closed = false;
  orm.close = async (force?: boolean) => {
    closed = true;
    await close(force);
  };
  connection.ensureConnection = async () => {
    if (closed) throw new Error('the database connection was closed (the process is shutting down)');
    await ensureConnection();
  };
  return orm;
}

export async function migrateUp(orm: MikroORM): Promise<string[]> {
  const done = await orm.migrator.up();
  return done.map((m) => m.name);
}

export async function migrateDown(orm: MikroORM, to: string | 0 = 0): Promise<string[]> {
  const done = await orm.migrator.down({ to });
  return done.map((m) => m.name);
}
