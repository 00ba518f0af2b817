// Raw SQL that joins the EntityManager's current transaction (MikroORM's connection.execute()
// runs on a fresh pooled connection unless it is handed the transaction context).
import type { EntityManager } from '@mikro-orm/postgresql';

export type Sql = <T = Record<string, unknown>[]>(sql: string, params?: unknown[]) => Promise<T>;

export function sqlFor(em: EntityManager): Sql {
  const ctx = em.getTransactionContext();
  return async <T>(sql: string, params: unknown[] = []) => {
    try {
      return (await em.getConnection().execute(sql, params, 'all', ctx)) as T;
    } catch (err) {
      // With a transaction context the driver error arrives raw; give it MikroORM's typed class
      // (UniqueConstraintViolationException, …) like every other query path.
      throw em.getDriver().convertException(err as Error);
    }
  };
}
