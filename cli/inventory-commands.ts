// Inventory commands over the REST API: SSH keys, networks and leases, machine links, cloud
// accounts, address pools, allocations and blocks. Ids or (unique) names are accepted wherever a
// resource is referred to; names are resolved through the list endpoints.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CliError, type ApiClient, type ApiFactory } from './api-client.ts';
import { table } from './render.ts';
import { collect, oneOf, usage, wholeNumber } from './flags.ts';
import { emitList, fetchList, listAll, queryString, type ListOpts, type Page } from './lists.ts';
import { print, readableFieldsTable as fieldsTable, readableRowsTable as rowsTable } from './output.ts';
import { accountId, byName, machineId, networkId, poolId, sshKeyId, UUID } from './resolve.ts';

type Json = Record<string, unknown>;

interface SshKeyJson { id: string; name: string; type: string; bits: number | null; fingerprint: string; [k: string]: unknown }
interface NetworkJson { id: string; name: string; cidr: string; [k: string]: unknown }
interface LeaseJson { id: string; address: string; state: string; [k: string]: unknown }
interface MachineJson { id: string; name: string; [k: string]: unknown }
interface AccountJson { id: string; key: string; name: string; provider: string; [k: string]: unknown }
interface PoolJson { id: string; name: string; cidr: string; parent_id: string | null; [k: string]: unknown }
interface AllocationJson { id: string; pool_id: string; cidr: string; name: string | null; [k: string]: unknown }
interface BlockJson { cidr: string; status: string; owners: { kind: string; id: string; name: string | null; account_id: string | null }[] }
interface UtilizationJson {
  cidr: string; total: string; used: string; free: string; percent_used: number;
  by_account: { account_id: string | null; account_key: string | null; addresses: string; allocations: number }[];
}

const enc = encodeURIComponent;

// ---------------------------------------------------------------------------------------------
// SSH keys

export async function keysAdd(api: ApiClient, o: { name: string; publicKey?: string; file?: string; json?: boolean }) {
  if ((o.publicKey === undefined) === (o.file === undefined)) usage('give exactly one of --public-key and --file');
  let publicKey = o.publicKey;
  if (o.file !== undefined) {
    try {
      publicKey = readFileSync(o.file, 'utf8').trim();
    } catch (err) {
      usage(`cannot read ${o.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  const { body } = await api.post<SshKeyJson>('/api/v1/ssh-keys', { name: o.name, public_key: publicKey });
  if (o.json) return print(body);
  console.log(`ssh key ${body.name} (${body.id}) added: ${body.type}${body.bits ? ` ${body.bits}` : ''} ${body.fingerprint}`);
}

export async function keysList(api: ApiClient, o: ListOpts) {
  const list = await fetchList<SshKeyJson>(api, '/api/v1/ssh-keys', {}, o);
  emitList(list, o, () => rowsTable(list.items, ['name', 'id', 'type', 'bits', 'fingerprint', 'comment']));
}

export async function keysGet(api: ApiClient, ref: string, o: { json?: boolean }) {
  const { body } = await api.get<SshKeyJson>(`/api/v1/ssh-keys/${enc(await sshKeyId(api, ref))}`);
  if (o.json) return print(body);
  console.log(fieldsTable(body));
}

export async function keysRm(api: ApiClient, ref: string) {
  const id = await sshKeyId(api, ref);
  await api.delete(`/api/v1/ssh-keys/${enc(id)}`);
  console.log(`removed ssh key ${ref}${ref === id ? '' : ` (${id})`}`);
}

// ---------------------------------------------------------------------------------------------
// Machines: links to SSH keys and a network, and the seed URL

export async function machinesUpdate(api: ApiClient, ref: string, o: { sshKey?: string[] | false; network?: string | false; domain?: string | false; json?: boolean }) {
  const body: Json = {};
  if (o.sshKey !== undefined) {
    const refs = o.sshKey === false ? [] : o.sshKey;
    const keys = refs.some((r) => !UUID.test(r)) ? await listAll<SshKeyJson>(api, '/api/v1/ssh-keys') : [];
    body.ssh_key_ids = refs.map((r) => {
      if (UUID.test(r)) return r;
      const hit = keys.find((k) => k.name === r);
      if (!hit) throw new CliError(`error: not_found: no SSH key named "${r}"`, 1);
      return hit.id;
    });
  }
  if (o.network !== undefined) body.network_id = o.network === false ? null : await networkId(api, o.network);
  if (o.domain !== undefined) body.domain = o.domain === false ? null : o.domain;
  if (!Object.keys(body).length) usage('nothing to update: give --ssh-key, --no-ssh-key, --network, --no-network, --domain or --no-domain');
  const id = await machineId(api, ref);
  const { body: machine } = await api.patch<MachineJson>(`/api/v1/machines/${enc(id)}`, body);
  if (o.json) return print(machine);
  console.log(fieldsTable(machine));
}

export async function machinesSeedUrl(api: ApiClient, ref: string, o: { json?: boolean }) {
  const { body } = await api.get<{ url: string }>(`/api/v1/machines/${enc(await machineId(api, ref))}/seed-url`);
  if (o.json) return print(body);
  console.log(body.url);
}

// ---------------------------------------------------------------------------------------------
// Networks and leases

export interface NetworkFlags {
  gateway?: string | false; dns?: string[] | false; search?: string[] | false; vlan?: string | false; bridge?: string | false;
  rangeStart?: string; rangeEnd?: string; range?: boolean; reserved?: string[] | false; json?: boolean;
}

function networkBody(o: NetworkFlags): Json {
  const body: Json = {};
  if (o.gateway !== undefined) body.gateway = o.gateway === false ? null : o.gateway;
  if (o.dns !== undefined) body.dns_servers = o.dns === false ? [] : o.dns;
  if (o.search !== undefined) body.search_domains = o.search === false ? [] : o.search;
  if (o.vlan !== undefined) body.vlan = o.vlan === false ? null : wholeNumber('--vlan', o.vlan, 1, 4094);
  if (o.bridge !== undefined) body.bridge = o.bridge === false ? null : o.bridge;
  if (o.range === false) {
    if (o.rangeStart !== undefined || o.rangeEnd !== undefined) usage('--no-range cannot be combined with --range-start or --range-end');
    body.range_start = null;
    body.range_end = null;
  }
  if (o.rangeStart !== undefined) body.range_start = o.rangeStart;
  if (o.rangeEnd !== undefined) body.range_end = o.rangeEnd;
  if (o.reserved !== undefined) body.reserved = o.reserved === false ? [] : o.reserved;
  return body;
}

export async function networksCreate(api: ApiClient, o: NetworkFlags & { name: string; cidr: string }) {
  const { body } = await api.post<NetworkJson>('/api/v1/networks', { name: o.name, cidr: o.cidr, ...networkBody(o) });
  if (o.json) return print(body);
  console.log(`network ${body.name} (${body.id}) created: ${body.cidr}`);
}

export async function networksList(api: ApiClient, o: ListOpts) {
  const list = await fetchList<NetworkJson>(api, '/api/v1/networks', {}, o);
  emitList(list, o, () => rowsTable(list.items, ['name', 'id', 'cidr', 'gateway', 'vlan', 'bridge', 'dns_servers']));
}

export async function networksGet(api: ApiClient, ref: string, o: { json?: boolean }) {
  const { body } = await api.get<NetworkJson & { leases?: { live: number; addresses: string } }>(`/api/v1/networks/${enc(await networkId(api, ref))}`);
  if (o.json) return print(body);
  const { leases, ...rest } = body;
  console.log(fieldsTable({ ...rest, ...(leases ? { leases: `${leases.live} live of ${leases.addresses} addresses` } : {}) }));
}

export async function networksUpdate(api: ApiClient, ref: string, o: NetworkFlags) {
  const change = networkBody(o);
  if (!Object.keys(change).length) usage('nothing to update: give at least one of the network flags (see --help)');
  const { body } = await api.patch<NetworkJson>(`/api/v1/networks/${enc(await networkId(api, ref))}`, change);
  if (o.json) return print(body);
  console.log(fieldsTable(body));
}

export async function networksRm(api: ApiClient, ref: string, o: { force?: boolean }) {
  const id = await networkId(api, ref);
  await api.delete(`/api/v1/networks/${enc(id)}${o.force ? '?force=true' : ''}`);
  console.log(`removed network ${ref}${ref === id ? '' : ` (${id})`}`);
}

export async function leasesCreate(api: ApiClient, network: string, o: { address?: string; machine?: string; mac?: string; active?: boolean; json?: boolean }) {
  const id = await networkId(api, network);
  const body: Json = {};
  if (o.address !== undefined) body.address = o.address;
  if (o.machine !== undefined) body.machine_id = await machineId(api, o.machine);
  if (o.mac !== undefined) body.mac = o.mac;
  if (o.active) body.state = 'active';
  const { body: lease } = await api.post<LeaseJson>(`/api/v1/networks/${enc(id)}/leases`, body);
  if (o.json) return print(lease);
  console.log(`leased ${lease.address} in ${network} (${lease.state}, lease ${lease.id})`);
}

export async function leasesList(api: ApiClient, network: string, o: ListOpts & { state?: string }) {
  const state = o.state === undefined ? undefined : oneOf('--state', o.state, ['reserved', 'active', 'released'] as const);
  const list = await fetchList<LeaseJson>(api, `/api/v1/networks/${enc(await networkId(api, network))}/leases`, { state }, o);
  emitList(list, o, () => rowsTable(list.items, ['address', 'state', 'machine_name', 'mac', 'id', 'updated_at']));
}

export async function leasesRelease(api: ApiClient, network: string, address: string, o: { json?: boolean }) {
  const { body } = await api.delete<LeaseJson>(`/api/v1/networks/${enc(await networkId(api, network))}/leases/${enc(address)}`);
  if (o.json) return print(body);
  console.log(`released ${body?.address ?? address} in ${network}`);
}

// ---------------------------------------------------------------------------------------------
// Cloud accounts

const TIERS = ['dev', 'stg', 'sbx', 'prd'] as const;
/** The shape only; the API checks the id itself (12 digits for AWS, a project id for GCP). */
const ACCOUNT_KEY = /^(aws|gcp):\S+$/;

export async function accountsCreate(api: ApiClient, o: { key: string; name: string; platform?: string; tier?: string; environment?: string; region?: string[]; json?: boolean }) {
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

export async function poolsCreate(api: ApiClient, o: { name: string; cidr: string; parent?: string; account?: string; description?: string; tag?: string[]; json?: boolean }) {
  const body: Json = { name: o.name, cidr: o.cidr };
  const t = tags(o.tag);
  if (o.parent !== undefined) body.parent_id = await poolId(api, o.parent);
  if (o.account !== undefined) body.account_id = await accountId(api, o.account);
  if (o.description !== undefined) body.description = o.description;
  if (t) body.tags = t;
  const { body: pool } = await api.post<PoolJson>('/api/v1/pools', body);
  if (o.json) return print(pool);
  console.log(`pool ${pool.name} (${pool.id}) created: ${pool.cidr}`);
}

export async function poolsList(api: ApiClient, o: ListOpts & { parent?: string; roots?: boolean }) {
  if (o.parent !== undefined && o.roots) usage('--parent and --roots exclude each other');
  const params = { parent_id: o.parent !== undefined ? await poolId(api, o.parent) : undefined, root: o.roots ? 'true' : undefined };
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

export async function poolsAllocate(api: ApiClient, pool: string, o: { prefixLength?: string; cidr?: string; name?: string; account?: string; json?: boolean }) {
  if ((o.prefixLength === undefined) === (o.cidr === undefined)) usage('give exactly one of --prefix-length and --cidr');
  const body: Json = {};
  if (o.prefixLength !== undefined) body.prefix_length = wholeNumber('--prefix-length', o.prefixLength, 0, 128);
  if (o.cidr !== undefined) body.cidr = o.cidr;
  if (o.name !== undefined) body.name = o.name;
  if (o.account !== undefined) body.account_id = await accountId(api, o.account);
  const { body: allocation } = await api.post<AllocationJson>(`/api/v1/pools/${enc(await poolId(api, pool))}/allocations`, body);
  if (o.json) return print(allocation);
  console.log(`allocated ${allocation.cidr} from ${pool}${allocation.name ? ` as ${allocation.name}` : ''} (allocation ${allocation.id})`);
}

/** One page only, whatever the pool's size; the next cursor is printed for --cursor. */
export async function poolsBlocks(api: ApiClient, pool: string, o: { prefixLength: string; status?: string; pageSize?: string; cursor?: string; json?: boolean }) {
  const params = {
    prefix_length: String(wholeNumber('--prefix-length', o.prefixLength, 0, 128)),
    status: o.status === undefined ? undefined : oneOf('--status', o.status, ['free', 'used', 'all'] as const),
    page_size: o.pageSize === undefined ? undefined : String(wholeNumber('--page-size', o.pageSize, 1)),
    cursor: o.cursor,
  };
  const { body } = await api.get<Page<BlockJson> & { counts?: { total: string; used: string; free: string } }>(`/api/v1/pools/${enc(await poolId(api, pool))}/blocks${queryString(params)}`);
  if (o.json) return print(body);
  const rows = body.items.map((b) => ({ cidr: b.cidr, status: b.status, owners: b.owners.map((w) => `${w.kind}:${w.name ?? w.id}`) }));
  console.log(rowsTable(rows, ['cidr', 'status', 'owners']));
  if (body.counts) console.log(`/${params.prefix_length} blocks: ${body.counts.total} in all, ${body.counts.used} used, ${body.counts.free} free`);
  if (body.next_cursor) process.stderr.write(`more blocks: repeat with --cursor ${body.next_cursor}\n`);
}

export async function poolsUtilization(api: ApiClient, pool: string, o: { json?: boolean }) {
  const { body } = await api.get<UtilizationJson>(`/api/v1/pools/${enc(await poolId(api, pool))}/utilization`);
  if (o.json) return print(body);
  console.log(table([
    { field: 'cidr', value: body.cidr },
    { field: 'total', value: body.total },
    { field: 'used', value: `${body.used} (${body.percent_used}%)` },
    { field: 'free', value: body.free },
  ], ['field', 'value']));
  console.log('');
  console.log(rowsTable(body.by_account, ['account_key', 'account_id', 'addresses', 'allocations']));
}

export async function blocksList(api: ApiClient, o: ListOpts & { account?: string; pool?: string; within?: string; csv?: boolean }) {
  if (o.csv && o.json) usage('--csv and --json exclude each other');
  const params = {
    account: o.account !== undefined ? await accountId(api, o.account) : undefined,
    pool: o.pool !== undefined ? await poolId(api, o.pool) : undefined,
    within: o.within,
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
// Registration: `machines` gains update and seed-url; the other groups are new.

const listOptions = (c: Command) => c
  .option('--page-size <n>', 'fetch one page of this size instead of every page')
  .option('--cursor <cursor>', 'continue from a next_cursor (fetches one page)')
  .option('--json', 'print JSON');

function networkOptions(c: Command, update: boolean): Command {
  c.option('--gateway <address>', 'default gateway');
  if (update) c.option('--no-gateway', 'remove the gateway');
  c.option('--dns <address>', 'DNS server (repeatable; replaces the list)', collect);
  if (update) c.option('--no-dns', 'remove every DNS server');
  c.option('--search <domain>', 'search domain (repeatable; replaces the list)', collect);
  if (update) c.option('--no-search', 'remove every search domain');
  c.option('--vlan <id>', 'VLAN id (1-4094)');
  if (update) c.option('--no-vlan', 'remove the VLAN id');
  c.option('--bridge <name>', 'Linux bridge the network is attached to');
  if (update) c.option('--no-bridge', 'remove the bridge');
  c.option('--range-start <address>', 'first address dynamic leases may use').option('--range-end <address>', 'last address dynamic leases may use');
  if (update) c.option('--no-range', 'remove range start and end');
  c.option('--reserved <address>', 'address never leased dynamically (repeatable; replaces the list)', collect);
  if (update) c.option('--no-reserved', 'remove every reserved address');
  return c.option('--json', 'print JSON');
}

export function registerMachineInventoryCommands(machines: Command, api: ApiFactory): void {
  machines.command('update').description('change the SSH keys, network or domain of a machine').argument('<id-or-name>')
    .option('--ssh-key <id-or-name>', 'SSH key (repeatable; replaces the set)', collect)
    .option('--no-ssh-key', 'remove every SSH key')
    .option('--network <id-or-name>', 'network the machine is attached to').option('--no-network', 'detach from its network')
    .option('--domain <domain>', 'DNS domain').option('--no-domain', 'remove the domain')
    .option('--json', 'print JSON')
    .action((ref: string, o) => machinesUpdate(api(), ref, o));
  machines.command('seed-url').description('print the NoCloud seed URL (it carries the metadata token)').argument('<id-or-name>')
    .option('--json', 'print JSON').action((ref: string, o) => machinesSeedUrl(api(), ref, o));
}

export function registerInventoryCommands(program: Command, api: ApiFactory): void {
  const keys = program.command('keys').alias('ssh-keys').description('SSH public keys');
  keys.command('add').requiredOption('--name <name>').option('--public-key <key>', 'the public key line')
    .option('--file <path>', 'read the public key from a .pub file').option('--json', 'print JSON')
    .action((o) => keysAdd(api(), o));
  listOptions(keys.command('list')).action((o) => keysList(api(), o));
  keys.command('get').argument('<id-or-name>').option('--json', 'print JSON').action((ref: string, o) => keysGet(api(), ref, o));
  keys.command('rm').alias('delete').argument('<id-or-name>').action((ref: string) => keysRm(api(), ref));

  const networks = program.command('networks').alias('network').description('networks (IP subnets machines attach to)');
  networkOptions(networks.command('create').requiredOption('--name <name>').requiredOption('--cidr <cidr>'), false)
    .action((o) => networksCreate(api(), o));
  listOptions(networks.command('list')).action((o) => networksList(api(), o));
  networks.command('get').argument('<id-or-name>').option('--json', 'print JSON').action((ref: string, o) => networksGet(api(), ref, o));
  networkOptions(networks.command('update').argument('<id-or-name>'), true).action((ref: string, o) => networksUpdate(api(), ref, o));
  networks.command('rm').alias('delete').argument('<id-or-name>').option('--force', 'also when leases are live')
    .action((ref: string, o) => networksRm(api(), ref, o));

  const leases = program.command('leases').alias('lease').description('IP leases in a network');
  leases.command('create').argument('<network>', 'network id or name').option('--address <address>', 'this address (default: the lowest free one)')
    .option('--machine <id-or-name>').option('--mac <mac>').option('--active', 'active instead of reserved').option('--json', 'print JSON')
    .action((network: string, o) => leasesCreate(api(), network, o));
  listOptions(leases.command('list').argument('<network>', 'network id or name').option('--state <state>', 'reserved, active or released'))
    .action((network: string, o) => leasesList(api(), network, o));
  leases.command('release').argument('<network>', 'network id or name').argument('<address>').option('--json', 'print JSON')
    .action((network: string, address: string, o) => leasesRelease(api(), network, address, o));

  const accounts = program.command('accounts').alias('account').description('cloud accounts (AWS accounts, GCP projects)');
  accounts.command('create').requiredOption('--key <key>', 'aws:<12-digit account id> or gcp:<project id>').requiredOption('--name <name>')
    .option('--platform <platform>').option('--tier <tier>', 'dev, stg, sbx or prd').option('--environment <environment>')
    .option('--region <region>', 'region (repeatable)', collect).option('--json', 'print JSON')
    .action((o) => accountsCreate(api(), o));
  listOptions(accounts.command('list').option('--provider <provider>', 'aws or gcp').option('--search <text>', 'search key and name'))
    .action((o) => accountsList(api(), o));
  accounts.command('get').argument('<id-or-key>').option('--json', 'print JSON').action((ref: string, o) => accountsGet(api(), ref, o));
  accounts.command('rm').alias('delete').argument('<id-or-key>').action((ref: string) => accountsRm(api(), ref));

  const pools = program.command('pools').alias('pool').description('address pools and their allocations');
  pools.command('create').requiredOption('--name <name>').requiredOption('--cidr <cidr>').option('--parent <id-or-name>', 'parent pool')
    .option('--account <id-or-key>').option('--description <text>').option('--tag <key=value>', 'tag (repeatable)', collect).option('--json', 'print JSON')
    .action((o) => poolsCreate(api(), o));
  listOptions(pools.command('list').option('--parent <id-or-name>', 'only children of this pool').option('--roots', 'only top-level pools'))
    .action((o) => poolsList(api(), o));
  pools.command('get').argument('<id-or-name>').option('--json', 'print JSON').action((ref: string, o) => poolsGet(api(), ref, o));
  pools.command('rm').alias('delete').argument('<id-or-name>').option('--cascade', 'also remove child pools and allocations')
    .action((ref: string, o) => poolsRm(api(), ref, o));
  pools.command('allocate').description('allocate a block from a pool (best fit, or exactly --cidr)').argument('<pool>', 'pool id or name')
    .option('--prefix-length <n>').option('--cidr <cidr>').option('--name <name>').option('--account <id-or-key>').option('--json', 'print JSON')
    .action((pool: string, o) => poolsAllocate(api(), pool, o));
  pools.command('blocks').description('one page of the aligned blocks of a pool at a prefix length').argument('<pool>', 'pool id or name')
    .requiredOption('--prefix-length <n>').option('--status <status>', 'free, used or all').option('--page-size <n>').option('--cursor <cursor>')
    .option('--json', 'print JSON')
    .action((pool: string, o) => poolsBlocks(api(), pool, o));
  pools.command('utilization').argument('<pool>', 'pool id or name').option('--json', 'print JSON')
    .action((pool: string, o) => poolsUtilization(api(), pool, o));

  const blocks = program.command('blocks').description('allocated blocks across pools');
  listOptions(blocks.command('list').option('--account <id-or-key>').option('--pool <id-or-name>').option('--within <cidr>', 'only blocks inside this CIDR')
    .option('--csv', 'print the CSV export as-is'))
    .action((o) => blocksList(api(), o));
}
