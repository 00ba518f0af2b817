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

/**
 * Timestamps as ISO 8601 in every response. Raw SQL hands back PostgreSQL's text form
 * (`2026-11-22 03:26:23.306514+00`); entities hand back Dates.
 */
export function iso(value: Date | string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  const d = new Date(value.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00'));
  return Number.isNaN(d.getTime()) ? value : d.toISOString();
}
