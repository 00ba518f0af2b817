// Inventory commands over the REST API: SSH keys, networks and leases, and a machine's links to
// them. Ids or (unique) names are accepted wherever a resource is referred to; names are resolved
// through the list endpoints. Accounts, pools and blocks are in ipam-commands.ts.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CliError, type ApiClient, type ApiFactory } from './api-client.ts';
import { collect, oneOf, usage, wholeNumber } from './flags.ts';
import { emitList, fetchList, listAll, listOptions, type ListOpts } from './lists.ts';
import { print, readableFieldsTable as fieldsTable, readableRowsTable as rowsTable } from './output.ts';
import { machineId, networkId, sshKeyId, UUID } from './resolve.ts';
import { groupThousands } from '../domain/numbers.ts';

type Json = Record<string, unknown>;

interface SshKeyJson {
  id: string;
  name: string;
  type: string;
  bits: number | null;
  fingerprint: string;
  [k: string]: unknown;
}
interface NetworkJson {
  id: string;
  name: string;
  cidr: string;
  [k: string]: unknown;
}
interface LeaseJson {
  id: string;
  address: string;
  state: string;
  [k: string]: unknown;
}
interface MachineJson {
  id: string;
  name: string;
  [k: string]: unknown;
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

export async function machinesUpdate(
  api: ApiClient,
  ref: string,
  o: { sshKey?: string[] | false; network?: string | false; domain?: string | false; json?: boolean },
) {
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
  gateway?: string | false;
  dns?: string[] | false;
  search?: string[] | false;
  vlan?: string | false;
  bridge?: string | false;
  rangeStart?: string;
  rangeEnd?: string;
  range?: boolean;
  reserved?: string[] | false;
  json?: boolean;
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
  console.log(fieldsTable({ ...rest, ...(leases ? { leases: `${groupThousands(leases.live)} live of ${groupThousands(leases.addresses)} addresses` } : {}) }));
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

export async function leasesCreate(
  api: ApiClient,
  network: string,
  o: { address?: string; machine?: string; mac?: string; active?: boolean; count?: string; json?: boolean },
) {
  const id = await networkId(api, network);
  if (o.count !== undefined) {
    // Many at once: one all-or-nothing request, lowest free first.
    if (o.address !== undefined || o.machine !== undefined || o.mac !== undefined) usage('--count takes no --address, --machine or --mac');
    const bulk: Json = { count: wholeNumber('--count', o.count, 1, 1024), ...(o.active ? { state: 'active' } : {}) };
    const { body: batch } = await api.post<{ items: LeaseJson[] }>(`/api/v1/networks/${enc(id)}/leases`, bulk);
    if (o.json) return print(batch);
    console.log(`leased ${batch.items.length} addresses in ${network}: ${batch.items[0]?.address} … ${batch.items.at(-1)?.address}`);
    return;
  }
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
// Registration: `machines` gains update and seed-url; keys, networks and leases are new.

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
  machines
    .command('update')
    .description('change the SSH keys, network or domain of a machine')
    .argument('<id-or-name>')
    .option('--ssh-key <id-or-name>', 'SSH key (repeatable; replaces the set)', collect)
    .option('--no-ssh-key', 'remove every SSH key')
    .option('--network <id-or-name>', 'network the machine is attached to')
    .option('--no-network', 'detach from its network')
    .option('--domain <domain>', 'DNS domain')
    .option('--no-domain', 'remove the domain')
    .option('--json', 'print JSON')
    .action((ref: string, o) => machinesUpdate(api(), ref, o));
  machines
    .command('seed-url')
    .description('print the NoCloud seed URL (it carries the metadata token)')
    .argument('<id-or-name>')
    .option('--json', 'print JSON')
    .action((ref: string, o) => machinesSeedUrl(api(), ref, o));
}

export function registerInventoryCommands(program: Command, api: ApiFactory): void {
  const keys = program.command('keys').alias('ssh-keys').description('SSH public keys');
  keys
    .command('add')
    .requiredOption('--name <name>')
    .option('--public-key <key>', 'the public key line')
    .option('--file <path>', 'read the public key from a .pub file')
    .option('--json', 'print JSON')
    .action((o) => keysAdd(api(), o));
  listOptions(keys.command('list')).action((o) => keysList(api(), o));
  keys
    .command('get')
    .argument('<id-or-name>')
    .option('--json', 'print JSON')
    .action((ref: string, o) => keysGet(api(), ref, o));
  keys
    .command('rm')
    .alias('delete')
    .argument('<id-or-name>')
    .action((ref: string) => keysRm(api(), ref));

  const networks = program.command('networks').alias('network').description('networks (IP subnets machines attach to)');
  networkOptions(networks.command('create').requiredOption('--name <name>').requiredOption('--cidr <cidr>'), false).action((o) => networksCreate(api(), o));
  listOptions(networks.command('list')).action((o) => networksList(api(), o));
  networks
    .command('get')
    .argument('<id-or-name>')
    .option('--json', 'print JSON')
    .action((ref: string, o) => networksGet(api(), ref, o));
  networkOptions(networks.command('update').argument('<id-or-name>'), true).action((ref: string, o) => networksUpdate(api(), ref, o));
  networks
    .command('rm')
    .alias('delete')
    .argument('<id-or-name>')
    .option('--force', 'also when leases are live')
    .action((ref: string, o) => networksRm(api(), ref, o));

  const leases = program.command('leases').alias('lease').description('IP leases in a network');
  leases
    .command('create')
    .argument('<network>', 'network id or name')
    .option('--address <address>', 'this address (default: the lowest free one)')
    .option('--machine <id-or-name>')
    .option('--mac <mac>')
    .option('--active', 'active instead of reserved')
    .option('--count <n>', 'lease n addresses at once (1–1024, lowest free first, all or none)')
    .option('--json', 'print JSON')
    .action((network: string, o) => leasesCreate(api(), network, o));
  listOptions(leases.command('list').argument('<network>', 'network id or name').option('--state <state>', 'reserved, active or released')).action(
    (network: string, o) => leasesList(api(), network, o),
  );
  leases
    .command('release')
    .argument('<network>', 'network id or name')
    .argument('<address>')
    .option('--json', 'print JSON')
    .action((network: string, address: string, o) => leasesRelease(api(), network, address, o));
}
