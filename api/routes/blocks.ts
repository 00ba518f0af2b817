import { z } from 'zod';
import { HangarError } from '../../domain/errors.ts';
import { safeFilter } from '../../domain/text.ts';
import { formatCidr, parseCidr } from '../../domain/cidr.ts';
import { sqlFor } from '../../db/sql.ts';
import type { ApiDeps } from '../context.ts';
import { cursorParts, isUuid, pageOf, parsePage } from '../pagination.ts';
import { contractRouter, jsonOr, type ContractRouter } from '../contract/route.ts';
import { page, paging } from '../contract/schemas.ts';
import { allocatedBlock } from '../contract/ipam-views.ts';
import { iso } from './common.ts';

interface BlockRow {
  id: string;
  cidr: string;
  name: string | null;
  pool_id: string;
  pool_name: string | null;
  account_id: string | null;
  account_key: string | null;
  created_at: Date | string | null;
  scope_id: string;
  scope_name: string;
}

const CSV_COLUMNS = ['id', 'cidr', 'name', 'pool_id', 'pool_name', 'account_id', 'account_key', 'created_at', 'scope_id', 'scope_name'] as const;
const CSV_LIMIT = 100_000;

const csvCell = (v: unknown) => {
  const text = v === null || v === undefined ? '' : String(v);
  // Quote when needed; neutralise spreadsheet formulas (=, +, -, @) in free text.
  const safe = /^[=+\-@]/.test(text) && !/^-?\d/.test(text) ? `'${text}` : text;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
};

const listQuery = z.object({
  account: safeFilter(64).optional().meta({ description: 'account id or key' }),
  pool: z.uuid().optional(),
  scope: safeFilter(255).optional().meta({ description: 'address scope id or name' }),
  within: safeFilter(64).optional().meta({ description: 'a CIDR the blocks lie in (containment, not substring)' }),
  format: z.enum(['json', 'csv']).default('json'),
  ...paging,
});

export function blocksRouter(deps: ApiDeps): ContractRouter {
  const r = contractRouter({ tags: ['pools'] });

  // Every allocation across pools; `within` is containment (<<=), never a substring match.
  r.route({
    method: 'get',
    path: '/',
    summary: 'Allocated blocks across pools (JSON pages, or all of them as CSV)',
    query: listQuery,
    responses: { 200: jsonOr(page(allocatedBlock), ['text/csv'], 'a page of blocks; with format=csv every matching block as CSV') },
    errors: [422],
    handler: async ({ query: q }, req, res) => {
      const params: unknown[] = [];
      let where = `a.kind = 'allocation'`;
      if (q.account) {
        if (z.uuid().safeParse(q.account).success) {
          where += ' and a.account_id = ?';
          params.push(q.account);
        } else {
          where += ' and acc.key = ?';
          params.push(q.account);
        }
      }
      if (q.pool) {
        where += ' and a.parent_id = ?';
        params.push(q.pool);
      }
      if (q.scope) {
        where += ' and a.scope_id in (select s.id from address_scope s where s.id::text = ? or s.name = ?)';
        params.push(q.scope, q.scope);
      }
      if (q.within) {
        let within;
        try {
          within = parseCidr(q.within);
        } catch (err) {
          throw new HangarError('invalid_cidr', (err as Error).message, { within: (err as Error).message });
        }
        where += ' and a.cidr <<= ?::cidr';
        params.push(formatCidr(within));
      }
      const csv = q.format === 'csv';
      const page = csv ? { pageSize: CSV_LIMIT, after: null } : parsePage(req.query, deps.config.api.maxPageSize);
      if (page.after) {
        const [cidr, id] = cursorParts(page.after, [
          (c) => {
            try {
              parseCidr(c);
              return true;
            } catch {
              return false;
            }
          },
          isUuid,
        ]);
        where += ' and (a.cidr, a.id) > (?::cidr, ?::uuid)';
        params.push(cidr, id);
      }
      params.push(page.pageSize + 1);
      const rows = await sqlFor(deps.orm.em.fork())<BlockRow[]>(
        `select a.id, a.cidr::text as cidr, a.name, a.parent_id as pool_id, p.name as pool_name, a.account_id, acc.key as account_key, a.created_at,
         a.scope_id, s.name as scope_name
       from pool a join pool p on p.id = a.parent_id join address_scope s on s.id = a.scope_id left join account acc on acc.id = a.account_id
       where ${where} order by a.cidr, a.id limit ?`,
        params,
      );
      for (const r of rows) (r as { created_at: unknown }).created_at = iso(r.created_at);
      if (csv) {
        if (rows.length > CSV_LIMIT) throw new HangarError('validation_failed', `more than ${CSV_LIMIT} rows match; narrow the filters`);
        const lines = [CSV_COLUMNS.join(','), ...rows.map((r) => CSV_COLUMNS.map((c) => csvCell(r[c])).join(','))];
        res.type('text/csv').setHeader('Content-Disposition', 'attachment; filename="blocks.csv"');
        res.send(`${lines.join('\r\n')}\r\n`);
        return;
      }
      const { items, next_cursor } = pageOf(rows, page.pageSize, (r) => `${r.cidr}|${r.id}`);
      res.json({ items, next_cursor });
    },
  });

  return r;
}
