// Address scopes (VRFs) and address analytics over the REST API. The API takes a scope's id or
// name everywhere, so scope references pass through unresolved.
import type { Command } from 'commander';
import type { ApiClient, ApiFactory } from './api-client.ts';
import { oneOf } from './flags.ts';
import { emitList, fetchList, listOptions, queryString, type ListOpts } from './lists.ts';
import { print, readableFieldsTable as fieldsTable, readableRowsTable as rowsTable } from './output.ts';
import { accountId } from './resolve.ts';

interface ScopeJson {
  id: string;
  name: string;
  [k: string]: unknown;
}
interface LookupJson {
  scope: string;
  cidr: string;
  pools: { id: string; name: string | null; cidr: string }[];
  allocation: { id: string; name: string | null; cidr: string } | null;
}

const enc = encodeURIComponent;

export async function scopesCreate(
  api: ApiClient,
  o: { name: string; description?: string; account?: string; region?: string; network?: string; json?: boolean },
) {
  const body: Record<string, unknown> = { name: o.name };
  if (o.description !== undefined) body.description = o.description;
  if (o.account !== undefined) body.account_id = await accountId(api, o.account);
  if (o.region !== undefined) body.region = o.region;
  if (o.network !== undefined) body.network_id = o.network;
  const { body: scope } = await api.post<ScopeJson>('/api/v1/scopes', body);
  if (o.json) return print(scope);
  console.log(`address scope ${scope.name} (${scope.id}) created`);
}

export async function scopesList(api: ApiClient, o: ListOpts & { account?: string }) {
  const params = { account_id: o.account !== undefined ? await accountId(api, o.account) : undefined };
  const list = await fetchList<ScopeJson>(api, '/api/v1/scopes', params, o);
  emitList(list, o, () => rowsTable(list.items, ['name', 'id', 'pools', 'account_key', 'region', 'network_id', 'description']));
}

export async function scopesGet(api: ApiClient, ref: string, o: { json?: boolean }) {
  const { body } = await api.get<ScopeJson>(`/api/v1/scopes/${enc(ref)}`);
  if (o.json) return print(body);
  console.log(fieldsTable(body));
}

export async function scopesRm(api: ApiClient, ref: string) {
  await api.delete(`/api/v1/scopes/${enc(ref)}`);
  console.log(`removed address scope ${ref}`);
}

export async function scopesLookup(api: ApiClient, ref: string, cidr: string, o: { json?: boolean }) {
  const { body } = await api.get<LookupJson>(`/api/v1/scopes/${enc(ref)}/lookup${queryString({ cidr })}`);
  if (o.json) return print(body);
  if (!body.pools.length) return console.log(`${body.cidr} is in no pool of scope ${body.scope}`);
  const rows = [...body.pools.map((p) => ({ kind: 'pool', ...p })), ...(body.allocation ? [{ kind: 'allocation', ...body.allocation }] : [])];
  console.log(rowsTable(rows, ['kind', 'name', 'cidr', 'id']));
}

export async function analyticsUtilization(api: ApiClient, o: { groupBy?: string; scope?: string; ipVersion?: string; json?: boolean }) {
  const params = {
    group_by: o.groupBy === undefined ? undefined : oneOf('--group-by', o.groupBy, ['scope', 'pool', 'account'] as const),
    scope: o.scope,
    version: o.ipVersion === undefined ? undefined : oneOf('--ip-version', o.ipVersion, ['4', '6'] as const),
  };
  const { body } = await api.get<{ items: Record<string, unknown>[] }>(`/api/v1/analytics/utilization${queryString(params)}`);
  if (o.json) return print(body);
  console.log(rowsTable(body.items, ['name', 'version', 'pools', 'total', 'allocated', 'allocations', 'percent_used', 'id']));
}

export function registerScopeCommands(program: Command, api: ApiFactory): void {
  const scopes = program.command('scopes').alias('scope').description('address scopes (VRFs): pools in different scopes may overlap');
  scopes
    .command('create')
    .requiredOption('--name <name>')
    .option('--description <text>')
    .option('--account <id-or-key>', 'bind to a cloud account')
    .option('--region <region>', 'region of the bound AWS VPC')
    .option('--network <id>', 'bound network: an AWS VPC id or a GCP network name')
    .option('--json', 'print JSON')
    .action((o) => scopesCreate(api(), o));
  listOptions(scopes.command('list').option('--account <id-or-key>', 'only scopes bound to this account')).action((o) => scopesList(api(), o));
  scopes
    .command('get')
    .argument('<id-or-name>')
    .option('--json', 'print JSON')
    .action((ref: string, o) => scopesGet(api(), ref, o));
  scopes
    .command('rm')
    .alias('delete')
    .argument('<id-or-name>')
    .action((ref: string) => scopesRm(api(), ref));
  scopes
    .command('lookup')
    .description('which pools (and allocation) of a scope hold a CIDR or address')
    .argument('<scope>', 'scope id or name')
    .argument('<cidr>')
    .option('--json', 'print JSON')
    .action((ref: string, cidr: string, o) => scopesLookup(api(), ref, cidr, o));

  const analytics = program.command('analytics').description('address usage across pools');
  analytics
    .command('utilization')
    .option('--group-by <group>', 'scope, pool or account (default scope)')
    .option('--scope <id-or-name>', 'only this address scope')
    .option('--ip-version <n>', 'only IPv4 (4) or IPv6 (6)')
    .option('--json', 'print JSON')
    .action((o) => analyticsUtilization(api(), o));
}
