// `hangar subnets create|list|get|delete`: cloud subnets allocated from pools bound to a cloud
// network. Create and delete answer with an operation (`--wait` watches it; `--dry-run` prints
// the plan instead).
import type { Command } from 'commander';
import type { ApiClient, ApiFactory, OperationRef } from './api-client.ts';
import { usage, wholeNumber } from './flags.ts';
import { emitList, fetchList, listOptions, withQuery, type ListOpts } from './lists.ts';
import { print, readableFieldsTable as fieldsTable, readableRowsTable as rowsTable } from './output.ts';
import { opsWatch, printPlan, type PlanJson } from './resource-commands.ts';

interface SubnetJson {
  id: string;
  cidr: string;
  state: string;
  [k: string]: unknown;
}
interface SubnetOperation {
  subnet: SubnetJson;
  operation: OperationRef;
}

interface MutationOpts {
  wait?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

const enc = encodeURIComponent;
const dry = (path: string, dryRun?: boolean) => (dryRun ? withQuery(path, { dry_run: 'true' }) : path);

async function settle(api: ApiClient, o: MutationOpts, body: unknown, verb: string): Promise<void> {
  if (o.dryRun) return printPlan(body as PlanJson, o.json);
  const { subnet, operation } = body as SubnetOperation;
  if (o.json && !o.wait) return print(body);
  if (!o.json) {
    console.log(`subnet ${subnet.cidr} (${subnet.id}) ${verb}; operation ${operation.id}`);
    if (!o.wait) console.log(`  watch: hangar ops watch ${operation.id}`);
  }
  if (o.wait) await opsWatch(api, operation.id, { json: o.json });
}

export interface SubnetCreateOpts extends MutationOpts {
  pool: string;
  prefix?: string;
  cidr?: string;
  region?: string;
  zone?: string;
  name?: string;
  secondary?: string[];
  tag?: string[];
}

/** `name=cidr` / `key=value` pairs. */
function pairs(flag: string, values: string[] | undefined): [string, string][] {
  return (values ?? []).map((v) => {
    const at = v.indexOf('=');
    if (at < 1) usage(`${flag} takes name=value, got "${v}"`);
    return [v.slice(0, at), v.slice(at + 1)];
  });
}

export async function subnetsCreate(api: ApiClient, o: SubnetCreateOpts) {
  if ((o.prefix === undefined) === (o.cidr === undefined)) usage('give exactly one of --prefix and --cidr');
  const body: Record<string, unknown> = { pool: o.pool };
  if (o.prefix !== undefined) body.prefix_length = wholeNumber('--prefix', o.prefix.replace(/^\//, ''), 8, 29);
  if (o.cidr !== undefined) body.cidr = o.cidr;
  if (o.region !== undefined) body.region = o.region;
  if (o.zone !== undefined) body.zone = o.zone;
  if (o.name !== undefined) body.name = o.name;
  const secondary = pairs('--secondary', o.secondary);
  if (secondary.length) body.secondary_ranges = secondary.map(([name, cidr]) => ({ name, cidr }));
  const tags = pairs('--tag', o.tag);
  if (tags.length) body.tags = Object.fromEntries(tags);
  const { body: answer } = await api.post(dry('/api/v1/subnets', o.dryRun), body);
  await settle(api, o, answer, 'is being created');
}

export async function subnetsList(
  api: ApiClient,
  o: ListOpts & { account?: string; region?: string; network?: string; pool?: string; state?: string; managed?: string },
) {
  const params = { account: o.account, region: o.region, network: o.network, pool: o.pool, state: o.state, managed: o.managed };
  const list = await fetchList<SubnetJson>(api, '/api/v1/subnets', params, o);
  emitList(list, o, () => rowsTable(list.items, ['id', 'cidr', 'state', 'account_key', 'region', 'network_id', 'provider_id', 'usable_addresses']));
}

export async function subnetsGet(api: ApiClient, id: string, o: { json?: boolean }) {
  const { body } = await api.get<SubnetJson>(`/api/v1/subnets/${enc(id)}`);
  if (o.json) return print(body);
  console.log(fieldsTable(body));
}

export async function subnetsDelete(api: ApiClient, id: string, o: MutationOpts) {
  const { body } = await api.delete(dry(`/api/v1/subnets/${enc(id)}`, o.dryRun));
  await settle(api, o, body, 'is being deleted');
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function registerSubnetCommands(program: Command, api: ApiFactory): void {
  const subnets = program.command('subnets').alias('subnet').description('cloud subnets allocated from pools bound to an AWS VPC or GCP network');
  subnets
    .command('create')
    .requiredOption('--pool <id-or-name>', "pool to allocate from (its address scope's binding names the account and network)")
    .option('--prefix <n>', 'best fit: the smallest free /n')
    .option('--cidr <cidr>', 'a requested block inside the pool')
    .option('--region <region>', 'region (GCP networks are global: required there)')
    .option('--zone <zone>', 'AWS availability zone')
    .option('--name <name>', 'GCP subnetwork name / AWS Name tag')
    .option('--secondary <name=cidr>', 'GCP secondary range (repeatable)', collect)
    .option('--tag <key=value>', 'tag (repeatable)', collect)
    .option('--dry-run', 'print the plan; change nothing')
    .option('--wait', 'watch the operation until it ends (non-zero exit if it fails)')
    .option('--json', 'print JSON')
    .action((o: SubnetCreateOpts) => subnetsCreate(api(), o));
  listOptions(
    subnets
      .command('list')
      .option('--account <id-or-key>')
      .option('--region <region>')
      .option('--network <id>', 'AWS VPC id or GCP network name')
      .option('--pool <id>')
      .option('--state <state>', 'creating, available, deleting, deleted or failed')
      .option('--managed <bool>', 'true: made by Hangar; false: discovered'),
  ).action((o) => subnetsList(api(), o));
  subnets
    .command('get')
    .argument('<id>')
    .option('--json', 'print JSON')
    .action((id: string, o) => subnetsGet(api(), id, o));
  subnets
    .command('delete')
    .alias('rm')
    .argument('<id>')
    .option('--dry-run', 'print the plan; change nothing')
    .option('--wait', 'watch the operation until it ends (non-zero exit if it fails)')
    .option('--json', 'print JSON')
    .action((id: string, o: MutationOpts) => subnetsDelete(api(), id, o));
}
