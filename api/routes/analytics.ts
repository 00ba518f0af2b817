// /api/v1/analytics: address usage summed per address scope, top-level pool or account, filtered
// by scope and IP version. Sums are exact (PostgreSQL numeric, answered as decimal strings), so
// IPv6 totals never lose precision. Allocations are the leaves of the pool trees and never overlap
// within a scope, so summing them counts no address twice.
import { z } from 'zod';
import { safeFilter } from '../../domain/text.ts';
import { sqlFor } from '../../db/sql.ts';
import type { ApiDeps } from '../context.ts';
import { contractRouter, json, type ContractRouter } from '../contract/route.ts';
import { utilizationReport } from '../contract/scope-views.ts';

interface GroupRow {
  id: string | null;
  name: string | null;
  scope_id: string | null;
  version: number;
  pools: string | number;
  total: string | null;
  allocated: string;
  allocations: string | number;
}

const size = (col: string) => `power(2::numeric, (case when family(${col}) = 4 then 32 else 128 end) - masklen(${col}))`;
const exact = (expr: string) => `trunc(coalesce(${expr}, 0))::text`;

const query = z.object({
  group_by: z.enum(['scope', 'pool', 'account']).default('scope'),
  scope: safeFilter(255).optional().meta({ description: 'only this address scope (id or name)' }),
  version: z.enum(['4', '6']).optional().meta({ description: 'only IPv4 or only IPv6' }),
});

/** A percentage with two decimals, computed in BigInt (an IPv6 /32 exceeds 2^53). */
function percent(allocated: string, total: string | null): number | null {
  if (total === null) return null;
  const t = BigInt(total);
  return t === 0n ? 0 : Number((BigInt(allocated) * 10000n) / t) / 100;
}

export function analyticsRouter(deps: ApiDeps): ContractRouter {
  const r = contractRouter({ tags: ['pools'] });

  r.route({
    method: 'get',
    path: '/utilization',
    summary: 'Address usage grouped by scope, top-level pool or account (filtered by scope and IP version)',
    query,
    responses: { 200: json(utilizationReport, 'one row per group and IP version') },
    handler: async ({ query: q }, _req, res) => {
      // The same filter for every pool row `x`; values are bound, never spliced.
      const params: unknown[] = [];
      const filter = (alias: string) => {
        const parts: string[] = [];
        if (q.scope) {
          parts.push(`${alias}.scope_id in (select s.id from address_scope s where s.id::text = ? or s.name = ?)`);
          params.push(q.scope, q.scope);
        }
        if (q.version) {
          parts.push(`family(${alias}.cidr) = ?`);
          params.push(Number(q.version));
        }
        return parts.map((p) => ` and ${p}`).join('');
      };
      let sql: string;
      if (q.group_by === 'scope') {
        sql = `with roots as (
            select x.scope_id, family(x.cidr) as v, count(*) as pools, sum(${size('x.cidr')}) as total
              from pool x where x.kind = 'pool' and x.parent_id is null${filter('x')} group by 1, 2
          ), allocs as (
            select x.scope_id, family(x.cidr) as v, count(*) as n, sum(${size('x.cidr')}) as allocated
              from pool x where x.kind = 'allocation'${filter('x')} group by 1, 2
          )
          select s.id, s.name, null as scope_id, coalesce(r.v, a.v) as version, coalesce(r.pools, 0) as pools,
                 ${exact('r.total')} as total, ${exact('a.allocated')} as allocated, coalesce(a.n, 0) as allocations
            from roots r full join allocs a on a.scope_id = r.scope_id and a.v = r.v
            join address_scope s on s.id = coalesce(r.scope_id, a.scope_id)
           order by s.name, version`;
      } else if (q.group_by === 'pool') {
        sql = `select x.id, x.name, x.scope_id, family(x.cidr) as version, 1 as pools, ${exact(size('x.cidr'))} as total,
                      ${exact(`sum(${size('a.cidr')})`)} as allocated, count(a.id) as allocations
                 from pool x left join pool a on a.kind = 'allocation' and a.scope_id = x.scope_id and a.cidr <<= x.cidr
                where x.kind = 'pool' and x.parent_id is null${filter('x')}
                group by x.id order by x.name`;
      } else {
        sql = `select x.account_id as id, acc.key as name, null as scope_id, family(x.cidr) as version, 0 as pools, null as total,
                      ${exact(`sum(${size('x.cidr')})`)} as allocated, count(*) as allocations
                 from pool x left join account acc on acc.id = x.account_id
                where x.kind = 'allocation'${filter('x')}
                group by x.account_id, acc.key, family(x.cidr) order by acc.key nulls last, version`;
      }
      const rows = await sqlFor(deps.orm.em.fork())<GroupRow[]>(sql, params);
      res.json({
        group_by: q.group_by,
        items: rows.map((row) => ({
          id: row.id,
          name: row.name,
          scope_id: row.scope_id,
          version: Number(row.version) as 4 | 6,
          pools: Number(row.pools),
          total: row.total,
          allocated: row.allocated,
          allocations: Number(row.allocations),
          percent_used: percent(row.allocated, row.total),
        })),
      });
    },
  });

  return r;
}
