// Address management commands over the REST API: cloud accounts, address pools, allocations and
// blocks. Ids, keys or (unique) names are accepted wherever a resource is referred to.
import type { Command } from 'commander';
import type { ApiClient, ApiFactory } from './api-client.ts';
import { table } from './render.ts';
import { collect, oneOf, usage, wholeNumber } from './flags.ts';
import { emitList, fetchList, listOptions, queryString, type ListOpts, type Page } from './lists.ts';
import { print, readableFieldsTable as fieldsTable, readableRowsTable as rowsTable } from './output.ts';
import { accountId, poolId } from './resolve.ts';
import { groupThousands, percentOf } from '../domain/numbers.ts';

type Json = Record<string, unknown>;

interface AccountJson {
  id: string;
  key: string;
  name: string;
  provider: string;
  [k: string]: unknown;
}
interface PoolJson {
  id: string;
  name: string;
  cidr: string;
  parent_id: string | null;
  [k: string]: unknown;
}
interface AllocationJson {
  id: string;
  pool_id: string;
  cidr: string;
  name: string | null;
  [k: string]: unknown;
}
interface BlockJson {
  cidr: string;
  status: string;
  owners: { kind: string; id: string; name: string | null; account_id: string | null }[];
}
interface UtilizationJson {
  cidr: string;
  total: string;
  used: string;
  free: string;
  percent_used: number;
  by_account: { account_id: string | null; account_key: string | null; addresses: string; allocations: number }[];
}

const enc = encodeURIComponent;

// ---------------------------------------------------------------------------------------------
// Cloud accounts

const TIERS = ['dev', 'stg', 'sbx', 'prd'] as const;
/** The shape only; the API checks the id itself (12 digits for AWS, a project id for GCP). */
const ACCOUNT_KEY = /^(aws|gcp):\S+$/;

export async function accountsCreate(
  api: ApiClient,
  o: { key: string; name: string; platform?: string; tier?: string; environment?: string; region?: string[]; json?: boolean },
) {
  if (!ACCOUNT_KEY.test(o.key)) usage(`--key must be aws:<12-digit account id> or gcp:<project id>, got "${o.key}"`);
  const body: Json = { key: o.key, name: o.name };
  if (o.platform !== undefined) body.platform = o.platform;
  if (o.tier !== undefined) body.tier = oneOf('--tier', o.tier, TIERS);
  if (o.environment !== undefined) body.environment = o.environment;
  if (o.region !== undefined) body.regions = o.region;
  const { body: account } = await api.post<AccountJson>('/api/v1/accounts', body);
  if (o.json) return print(account);
  console.log(`account ${account.key} (${account.id}) created: ${account.name}`);
}

export async function accountsList(api: ApiClient, o: ListOpts & { provider?: string; search?: string }) {
  const provider = o.provider === undefined ? undefined : oneOf('--provider', o.provider, ['aws', 'gcp'] as const);
  const list = await fetchList<AccountJson>(api, '/api/v1/accounts', { provider, q: o.search }, o);
  emitList(list, o, () => rowsTable(list.items, ['key', 'name', 'provider', 'platform', 'tier', 'environment', 'regions', 'id']));
}

export async function accountsGet(api: ApiClient, ref: string, o: { json?: boolean }) {
  const { body } = await api.get<AccountJson>(`/api/v1/accounts/${enc(await accountId(api, ref))}`);
  if (o.json) return print(body);
  console.log(fieldsTable(body));
}

export async function accountsRm(api: ApiClient, ref: string) {
  const id = await accountId(api, ref);
  await api.delete(`/api/v1/accounts/${enc(id)}`);
  console.log(`removed account ${ref}${ref === id ? '' : ` (${id})`}`);
}

// ---------------------------------------------------------------------------------------------
// Pools, allocations and blocks

function tags(list: string[] | undefined): Record<string, string> | undefined {
  if (list === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const t of list) {
    const eq = t.indexOf('=');
    if (eq <= 0) usage(`--tag must be key=value, got "${t}"`);
    out[t.slice(0, eq)] = t.slice(eq + 1);
  }
  return out;
}

export async function poolsCreate(
  api: ApiClient,
  o: { name: string; cidr: string; parent?: string; account?: string; scope?: string; description?: string; tag?: string[]; json?: boolean },
) {
  const body: Json = { name: o.name, cidr: o.cidr };
  if (o.scope !== undefined) body.scope = o.scope;
  const t = tags(o.tag);
  if (o.parent !== undefined) body.parent_id = await poolId(api, o.parent);
  if (o.account !== undefined) body.account_id = await accountId(api, o.account);
  if (o.description !== undefined) body.description = o.description;
  if (t) body.tags = t;
  const { body: pool } = await api.post<PoolJson>('/api/v1/pools', body);
  if (o.json) return print(pool);
  console.log(`pool ${pool.name} (${pool.id}) created: ${pool.cidr}`);
}

export async function poolsList(api: ApiClient, o: ListOpts & { parent?: string; roots?: boolean; scope?: string }) {
  if (o.parent !== undefined && o.roots) usage('--parent and --roots exclude each other');
  const params = { parent_id: o.parent !== undefined ? await poolId(api, o.parent) : undefined, root: o.roots ? 'true' : undefined, scope: o.scope };
  const list = await fetchList<PoolJson>(api, '/api/v1/pools', params, o);
  emitList(list, o, () => rowsTable(list.items, ['name', 'id', 'cidr', 'parent_id', 'account_id', 'description', 'tags']));
}

export async function poolsGet(api: ApiClient, ref: string, o: { json?: boolean }) {
  const { body } = await api.get<PoolJson>(`/api/v1/pools/${enc(await poolId(api, ref))}`);
  if (o.json) return print(body);
  console.log(fieldsTable(body));
}

export async function poolsRm(api: ApiClient, ref: string, o: { cascade?: boolean }) {
  const id = await poolId(api, ref);
  await api.delete(`/api/v1/pools/${enc(id)}${o.cascade ? '?cascade=true' : ''}`);
  console.log(`removed pool ${ref}${ref === id ? '' : ` (${id})`}`);
}

export async function poolsAllocate(
  api: ApiClient,
  pool: string,
  o: { prefixLength?: string; cidr?: string; name?: string; account?: string; count?: string; json?: boolean },
) {
  if ((o.prefixLength === undefined) === (o.cidr === undefined)) usage('give exactly one of --prefix-length and --cidr');
  if (o.count !== undefined && o.prefixLength === undefined) usage('--count goes with --prefix-length');
  const body: Json = {};
  if (o.count !== undefined) body.count = wholeNumber('--count', o.count, 1, 1024);
  if (o.prefixLength !== undefined) body.prefix_length = wholeNumber('--prefix-length', o.prefixLength, 0, 128);
  if (o.cidr !== undefined) body.cidr = o.cidr;
  if (o.name !== undefined) body.name = o.name;
  if (o.account !== undefined) body.account_id = await accountId(api, o.account);
  if (o.count !== undefined) {
    const { body: batch } = await api.post<{ items: AllocationJson[] }>(`/api/v1/pools/${enc(await poolId(api, pool))}/allocations`, body);
    if (o.json) return print(batch);
    console.log(`allocated ${batch.items.map((a) => a.cidr).join(', ')} from ${pool}`);
    return;
  }
  const { body: allocation } = await api.post<AllocationJson>(`/api/v1/pools/${enc(await poolId(api, pool))}/allocations`, body);
  if (o.json) return print(allocation);
  console.log(`allocated ${allocation.cidr} from ${pool}${allocation.name ? ` as ${allocation.name}` : ''} (allocation ${allocation.id})`);
}

/** One page only, whatever the pool's size; the next cursor is printed for --cursor. */
export async function poolsBlocks(
  api: ApiClient,
  pool: string,
  o: { prefixLength: string; status?: string; pageSize?: string; cursor?: string; json?: boolean },
) {
  const params = {
    prefix_length: String(wholeNumber('--prefix-length', o.prefixLength, 0, 128)),
    status: o.status === undefined ? undefined : oneOf('--status', o.status, ['free', 'used', 'all'] as const),
    page_size: o.pageSize === undefined ? undefined : String(wholeNumber('--page-size', o.pageSize, 1)),
    cursor: o.cursor,
  };
  const { body } = await api.get<Page<BlockJson> & { counts?: { total: string; used: string; free: string } }>(
    `/api/v1/pools/${enc(await poolId(api, pool))}/blocks${queryString(params)}`,
  );
  if (o.json) return print(body);
  const rows = body.items.map((b) => ({ cidr: b.cidr, status: b.status, owners: b.owners.map((w) => `${w.kind}:${w.name ?? w.id}`) }));
  console.log(rowsTable(rows, ['cidr', 'status', 'owners']));
  if (body.counts) console.log(`/${params.prefix_length} blocks: ${body.counts.total} in all, ${body.counts.used} used, ${body.counts.free} free`);
  if (body.next_cursor) process.stderr.write(`more blocks: repeat with --cursor ${body.next_cursor}\n`);
}

export async function poolsUtilization(api: ApiClient, pool: string, o: { json?: boolean }) {
  const { body } = await api.get<UtilizationJson>(`/api/v1/pools/${enc(await poolId(api, pool))}/utilization`);
  if (o.json) return print(body);
  console.log(
    table(
      [
        { field: 'cidr', value: body.cidr },
        { field: 'total', value: groupThousands(body.total) },
        // Recomputed from the exact counts (BigInt), rounded: 320 of 65,536 is 0.49 %.
        { field: 'used', value: `${groupThousands(body.used)} (${percentOf(BigInt(body.used), BigInt(body.total))} %)` },
        { field: 'free', value: groupThousands(body.free) },
      ],
      ['field', 'value'],
    ),
  );
  console.log('');
  console.log(rowsTable(body.by_account, ['account_key', 'account_id', 'addresses', 'allocations']));
}

export async function blocksList(api: ApiClient, o: ListOpts & { account?: string; pool?: string; scope?: string; within?: string; csv?: boolean }) {
  if (o.csv && o.json) usage('--csv and --json exclude each other');
  const params = {
    account: o.account !== undefined ? await accountId(api, o.account) : undefined,
    pool: o.pool !== undefined ? await poolId(api, o.pool) : undefined,
    within: o.within,
    scope: o.scope,
  };
  if (o.csv) {
    const { text } = await api.getText(`/api/v1/blocks${queryString({ ...params, format: 'csv' })}`);
    process.stdout.write(text);
    return;
  }
  const list = await fetchList<Json>(api, '/api/v1/blocks', params, o);
  emitList(list, o, () => rowsTable(list.items, ['cidr', 'name', 'pool_name', 'account_key', 'id', 'created_at']));
}

// ---------------------------------------------------------------------------------------------
// Registration

export function registerIpamCommands(program: Command, api: ApiFactory): void {
  const accounts = program.command('accounts').alias('account').description('cloud accounts (AWS accounts, GCP projects)');
  accounts
    .command('create')
    .requiredOption('--key <key>', 'aws:<12-digit account id> or gcp:<project id>')
    .requiredOption('--name <name>')
    .option('--platform <platform>')
    .option('--tier <tier>', 'dev, stg, sbx or prd')
    .option('--environment <environment>')
    .option('--region <region>', 'region (repeatable)', collect)
    .option('--json', 'print JSON')
    .action((o) => accountsCreate(api(), o));
  listOptions(accounts.command('list').option('--provider <provider>', 'aws or gcp').option('--search <text>', 'search key and name')).action((o) =>
    accountsList(api(), o),
  );
  accounts
    .command('get')
    .argument('<id-or-key>')
    .option('--json', 'print JSON')
    .action((ref: string, o) => accountsGet(api(), ref, o));
  accounts
    .command('rm')
    .alias('delete')
    .argument('<id-or-key>')
    .action((ref: string) => accountsRm(api(), ref));

  const pools = program.command('pools').alias('pool').description('address pools and their allocations');
  pools
    .command('create')
    .requiredOption('--name <name>')
    .requiredOption('--cidr <cidr>')
    .option('--parent <id-or-name>', 'parent pool')
    .option('--account <id-or-key>')
    .option('--scope <id-or-name>', "address scope (default: the parent's, or global)")
    .option('--description <text>')
    .option('--tag <key=value>', 'tag (repeatable)', collect)
    .option('--json', 'print JSON')
    .action((o) => poolsCreate(api(), o));
  listOptions(
    pools
      .command('list')
      .option('--parent <id-or-name>', 'only children of this pool')
      .option('--roots', 'only top-level pools')
      .option('--scope <id-or-name>'),
  ).action((o) => poolsList(api(), o));
  pools
    .command('get')
    .argument('<id-or-name>')
    .option('--json', 'print JSON')
    .action((ref: string, o) => poolsGet(api(), ref, o));
  pools
    .command('rm')
    .alias('delete')
    .argument('<id-or-name>')
    .option('--cascade', 'also remove child pools and allocations')
    .action((ref: string, o) => poolsRm(api(), ref, o));
  pools
    .command('allocate')
    .description('allocate a block from a pool (best fit, or exactly --cidr)')
    .argument('<pool>', 'pool id or name')
    .option('--prefix-length <n>')
    .option('--cidr <cidr>')
    .option('--name <name>')
    .option('--account <id-or-key>')
    .option('--count <n>', 'with --prefix-length: n blocks at once (all or none)')
    .option('--json', 'print JSON')
    .action((pool: string, o) => poolsAllocate(api(), pool, o));
  pools
    .command('blocks')
    .description('one page of the aligned blocks of a pool at a prefix length')
    .argument('<pool>', 'pool id or name')
    .requiredOption('--prefix-length <n>')
    .option('--status <status>', 'free, used or all')
    .option('--page-size <n>')
    .option('--cursor <cursor>')
    .option('--json', 'print JSON')
    .action((pool: string, o) => poolsBlocks(api(), pool, o));
  pools
    .command('utilization')
    .argument('<pool>', 'pool id or name')
    .option('--json', 'print JSON')
    .action((pool: string, o) => poolsUtilization(api(), pool, o));

  const blocks = program.command('blocks').description('allocated blocks across pools');
  listOptions(
    blocks
      .command('list')
      .option('--account <id-or-key>')
      .option('--pool <id-or-name>')
      .option('--scope <id-or-name>')
      .option('--within <cidr>', 'only blocks inside this CIDR')
      .option('--csv', 'print the CSV export as-is'),
  ).action((o) => blocksList(api(), o));
}
