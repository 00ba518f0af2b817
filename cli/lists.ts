// List endpoints: query strings, following next_cursor, and --page-size/--cursor for one page.
import type { Command } from 'commander';
import type { ApiClient } from './api-client.ts';
import { wholeNumber } from './flags.ts';
import { print } from './output.ts';

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
  pageSize?: string;
  cursor?: string;
}
export interface FetchedList<T> {
  items: T[];
  nextCursor: string | null;
  single: boolean;
}

/**
 * Follows next_cursor to the end, unless --page-size or --cursor asks for one page. With --json a
 * full list prints the items, a single page prints {items, next_cursor}.
 */
export async function fetchList<T>(api: ApiClient, path: string, params: QueryParams, opts: ListOpts): Promise<FetchedList<T>> {
  const single = opts.pageSize !== undefined || opts.cursor !== undefined;
  const pageSize = opts.pageSize !== undefined ? String(wholeNumber('--page-size', opts.pageSize, 1)) : undefined;
  if (single) {
    const { body } = await api.get<Page<T>>(`${path}${queryString({ ...params, page_size: pageSize, cursor: opts.cursor })}`);
    return { items: body.items, nextCursor: body.next_cursor, single };
  }
  return { items: await listAll<T>(api, path, params), nextCursor: null, single };
}

/** Prints a fetched list (JSON or the rendered table) and, for one page, how to get the next. */
export function emitList<T extends object>(list: FetchedList<T>, opts: ListOpts, render: () => string) {
  if (opts.json) print(list.single ? { items: list.items, next_cursor: list.nextCursor } : list.items);
  else console.log(render());
  if (list.nextCursor && !opts.json) process.stderr.write(`more results: repeat with --cursor ${list.nextCursor}\n`);
}

/** The options every list command takes. */
export const listOptions = (c: Command) =>
  c
    .option('--page-size <n>', 'fetch one page of this size instead of every page')
    .option('--cursor <cursor>', 'continue from a next_cursor (fetches one page)')
    .option('--json', 'print JSON');
