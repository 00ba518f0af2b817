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
  return MikroORM.init(ormConfig(options));
}

export async function migrateUp(orm: MikroORM): Promise<string[]> {
  const done = await orm.migrator.up();
  return done.map((m) => m.name);
}

export async function migrateDown(orm: MikroORM, to: string | 0 = 0): Promise<string[]> {
  const done = await orm.migrator.down({ to });
  return done.map((m) => m.name);
}
