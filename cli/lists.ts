// List endpoints: query strings, one page (--page-size, --cursor) or every page (--all).
import type { Command } from 'commander';
import type { ApiClient } from './api-client.ts';
import { usage, wholeNumber } from './flags.ts';
import { machineReadable, print } from './output.ts';

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export type QueryParams = Record<string, string | undefined>;

/** `?a=1&b=2` from the params that are set, or '' when none is. */
export function queryString(params: QueryParams): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** The path with the params appended (after any query it already has). */
export function withQuery(path: string, params: QueryParams): string {
  const qs = queryString(params);
  if (!qs) return path;
  return path.includes('?') ? `${path}&${qs.slice(1)}` : `${path}${qs}`;
}

/** Follows next_cursor to the end of a list endpoint. */
export async function listAll<T>(api: ApiClient, path: string, params: QueryParams = {}): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  do {
    const { body } = await api.get<Page<T>>(withQuery(path, { ...params, cursor }));
    items.push(...body.items);
    cursor = body.next_cursor ?? undefined;
  } while (cursor);
  return items;
}

export interface ListOpts {
  json?: boolean;
  all?: boolean;
  pageSize?: string;
  cursor?: string;
}
export interface FetchedList<T> {
  items: T[];
  nextCursor: string | null;
}

/**
 * One page (the API's default size, or --page-size, from --cursor), or with --all every page,
 * following next_cursor to the end.
 */
export async function fetchList<T>(api: ApiClient, path: string, params: QueryParams, opts: ListOpts): Promise<FetchedList<T>> {
  const pageSize = opts.pageSize !== undefined ? String(wholeNumber('--page-size', opts.pageSize, 1)) : undefined;
  if (opts.all) {
    if (opts.cursor !== undefined) usage('--all and --cursor exclude each other');
    return { items: await listAll<T>(api, path, { ...params, page_size: pageSize }), nextCursor: null };
  }
  const { body } = await api.get<Page<T>>(withQuery(path, { ...params, page_size: pageSize, cursor: opts.cursor }));
  return { items: body.items, nextCursor: body.next_cursor ?? null };
}

/**
 * Prints a fetched list: with --json/-o json|yaml exactly the API's page body ({items, next_cursor};
 * with --all every item and next_cursor null), otherwise the rendered table and, when there is
 * more, how to get it.
 */
export function emitList<T extends object>(list: FetchedList<T>, opts: ListOpts, render: () => string) {
  if (opts.json || machineReadable()) return print({ items: list.items, next_cursor: list.nextCursor });
  console.log(render());
  if (list.nextCursor) process.stderr.write(`more results: repeat with --all, or --cursor ${list.nextCursor} for the next page\n`);
}

/** The options every list command takes. */
export const listOptions = (c: Command) =>
  c
    .option('--all', 'fetch every page (follows next_cursor)')
    .option('--page-size <n>', 'items per page (the API caps it)')
    .option('--cursor <cursor>', 'continue from a next_cursor')
    .option('--json', "print the API's answer as JSON ({items, next_cursor})");
