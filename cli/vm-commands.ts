// VM lifecycle commands over the REST API: templates, machine power actions and data disks.
// Every mutation answers with an operation (`--wait` watches it to the end) or, with
// `--dry-run`, with the plan of provider calls it would make (nothing is changed).
import type { Command } from 'commander';
import { CliError, type ApiClient, type ApiFactory, type OperationRef } from './api-client.ts';
import { table } from './render.ts';
import { oneOf, wholeNumber } from './flags.ts';
import { emitList, fetchList, listOptions, withQuery, type ListOpts } from './lists.ts';
import { fieldsTable, print } from './output.ts';
import { machineId, UUID } from './resolve.ts';
import { opsWatch, printPlan, type PlanJson } from './resource-commands.ts';

type Json = Record<string, unknown>;
interface TemplateJson {
  id: string;
  name: string;
  provider: string;
  state: string;
  [k: string]: unknown;
}
interface MachineJson {
  id: string;
  name: string;
  state: string;
  [k: string]: unknown;
}
interface DiskJson {
  id: string;
  machine_id: string;
  size_gb: number;
  state: string;
  [k: string]: unknown;
}

const TEMPLATE_PROVIDERS = ['dryrun', 'qemu', 'proxmox', 'redfish'] as const;
const enc = encodeURIComponent;

interface MutationOpts {
  wait?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

/**
 * Sends a mutation: with --dry-run to `?dry_run=true`, printing the plan; otherwise prints the
 * accepted line (or the JSON answer) and, with --wait, watches the operation (non-zero if it fails).
 */
async function mutate<T extends { operation: OperationRef }>(
  opts: MutationOpts,
  send: (dryRun: boolean) => Promise<unknown>,
  accepted: (body: T) => string,
  api: ApiClient,
): Promise<void> {
  if (opts.dryRun) return printPlan((await send(true)) as PlanJson, opts.json);
  const body = (await send(false)) as T;
  if (opts.json && !opts.wait) return print(body);
  if (!opts.json) {
    console.log(`${accepted(body)}; operation ${body.operation.id}`);
    if (!opts.wait) {
      console.log(`  watch: hangar ops watch ${body.operation.id}`);
      console.log(`  Temporal UI: ${body.operation.links.history}`);
    }
  }
  if (opts.wait) await opsWatch(api, body.operation.id, { json: opts.json });
}

const dry = (path: string, dryRun: boolean) => (dryRun ? withQuery(path, { dry_run: 'true' }) : path);

// ---------------------------------------------------------------------------------------------
// Templates (the API takes an id or a name wherever one is referred to)

export interface TemplateCreateOpts extends MutationOpts {
  name: string;
  provider: string;
  image: string;
  checksum?: string;
  node?: string;
  storage?: string;
  vmid?: string;
  cpu?: string;
  memoryMb?: string;
}

export async function templatesCreate(api: ApiClient, o: TemplateCreateOpts) {
  const body: Json = { name: o.name, provider: oneOf('--provider', o.provider, TEMPLATE_PROVIDERS), image: o.image };
  if (o.checksum !== undefined) body.checksum = o.checksum;
  if (o.node !== undefined) body.node = o.node;
  if (o.storage !== undefined) body.storage = o.storage;
  if (o.vmid !== undefined) body.vmid = wholeNumber('--vmid', o.vmid, 100, 999_999_999);
  if (o.cpu !== undefined) body.cpu = wholeNumber('--cpu', o.cpu, 1, 512);
  if (o.memoryMb !== undefined) body.memory_mb = wholeNumber('--memory-mb', o.memoryMb, 64, 16 * 1024 * 1024);
  await mutate<{ template: TemplateJson; operation: OperationRef }>(
    o,
    async (dryRun) => (await api.post(dry('/api/v1/templates', dryRun), body)).body,
    (r) => `template ${r.template.name} (${r.template.id}) accepted`,
    api,
  );
}

export async function templatesList(api: ApiClient, o: ListOpts & { provider?: string; state?: string }) {
  const list = await fetchList<TemplateJson>(api, '/api/v1/templates', { provider: o.provider, state: o.state }, o);
  emitList(list, o, () => table(list.items, ['name', 'id', 'provider', 'state', 'node', 'vmid', 'provider_ref', 'image']));
}

export async function templatesGet(api: ApiClient, ref: string, o: { json?: boolean }) {
  const { body } = await api.get<TemplateJson>(`/api/v1/templates/${enc(ref)}`);
  if (o.json) return print(body);
  const { operations, ...rest } = body;
  console.log(fieldsTable(rest));
  const ops = (operations as { id: string; kind: string; created_at: string }[] | undefined) ?? [];
  if (ops.length) {
    console.log('');
    console.log(table(ops, ['id', 'kind', 'created_at']));
  }
}

export async function templatesRm(api: ApiClient, ref: string, o: MutationOpts) {
  await mutate<{ template: TemplateJson; operation: OperationRef }>(
    o,
    async (dryRun) => (await api.delete(dry(`/api/v1/templates/${enc(ref)}`, dryRun))).body,
    (r) => `deleting template ${r.template.name} (${r.template.id})`,
    api,
  );
}

// ---------------------------------------------------------------------------------------------
// Machine power

const POWER_VERBS = { start: 'starting', stop: 'stopping', restart: 'restarting' } as const;
type PowerAction = keyof typeof POWER_VERBS;

export async function machinesPower(api: ApiClient, action: PowerAction, ref: string, o: MutationOpts) {
  const id = await machineId(api, ref);
  await mutate<{ machine: MachineJson; operation: OperationRef }>(
    o,
    async (dryRun) => (await api.post(dry(`/api/v1/machines/${enc(id)}/actions/${action}`, dryRun), {})).body,
    (r) => `${POWER_VERBS[action]} ${r.machine.name} (${r.machine.id})`,
    api,
  );
}

// ---------------------------------------------------------------------------------------------
// Disks

export async function disksList(api: ApiClient, machine: string, o: ListOpts) {
  const id = await machineId(api, machine);
  const list = await fetchList<DiskJson>(api, `/api/v1/machines/${enc(id)}/disks`, {}, o);
  emitList(list, o, () => table(list.items, ['id', 'size_gb', 'storage', 'slot', 'volume', 'state', 'last_error', 'created_at']));
}

export async function disksAttach(api: ApiClient, machine: string, o: MutationOpts & { sizeGb: string; storage?: string }) {
  const body: Json = { size_gb: wholeNumber('--size-gb', o.sizeGb, 1, 64 * 1024) };
  if (o.storage !== undefined) body.storage = o.storage;
  const id = await machineId(api, machine);
  await mutate<{ disk: DiskJson; operation: OperationRef }>(
    o,
    async (dryRun) => (await api.post(dry(`/api/v1/machines/${enc(id)}/disks`, dryRun), body)).body,
    (r) => `attaching a ${r.disk.size_gb} GiB disk (${r.disk.id}) to ${machine}`,
    api,
  );
}

export async function disksDetach(api: ApiClient, machine: string, diskId: string, o: MutationOpts) {
  if (!UUID.test(diskId)) throw new CliError(`<disk-id> must be a disk id (a UUID; see hangar disks list ${machine}), got "${diskId}"`, 2);
  const id = await machineId(api, machine);
  await mutate<{ disk: DiskJson; operation: OperationRef }>(
    o,
    async (dryRun) => (await api.delete(dry(`/api/v1/machines/${enc(id)}/disks/${enc(diskId)}`, dryRun))).body,
    (r) => `detaching disk ${r.disk.id} from ${machine}`,
    api,
  );
}

// ---------------------------------------------------------------------------------------------
// Registration: `templates` and `disks` are new groups; `machines` gains start, stop and restart.

const mutationOptions = (c: Command) =>
  c
    .option('--wait', 'watch the operation until it ends (non-zero exit if it fails)')
    .option('--dry-run', 'print the provider calls it would make; change nothing')
    .option('--json', 'print JSON');

export function registerVmCommands(program: Command, api: ApiFactory): void {
  const templates = program
    .command('templates')
    .alias('template')
    .description('templates: VM images imported into a provider, or (redfish) boot images hosts install from');
  mutationOptions(
    templates
      .command('create')
      .description('import an image as a template')
      .requiredOption('--name <name>')
      .requiredOption('--provider <provider>', 'dryrun, qemu, proxmox or redfish')
      .requiredOption('--image <path-or-url>', 'absolute path to a qcow2 image, an http(s) URL (Proxmox), or the installer URL a BMC mounts (redfish)')
      .option('--checksum <sha256:hex>', 'expected checksum of the image')
      .option('--node <node>', 'Proxmox node')
      .option('--storage <id>', 'Proxmox storage')
      .option('--vmid <n>', 'Proxmox VMID (100-999999999)')
      .option('--cpu <n>', 'vCPUs (1-512)')
      .option('--memory-mb <n>', 'memory in MiB'),
  ).action((o) => templatesCreate(api(), o));
  listOptions(templates.command('list').option('--provider <provider>').option('--state <state>')).action((o) => templatesList(api(), o));
  templates
    .command('get')
    .argument('<id-or-name>')
    .option('--json', 'print JSON')
    .action((ref: string, o) => templatesGet(api(), ref, o));
  mutationOptions(templates.command('rm').alias('delete').description('delete a template (refused while machines use it)').argument('<id-or-name>')).action(
    (ref: string, o) => templatesRm(api(), ref, o),
  );

  const machines = program.commands.find((c) => c.name() === 'machines') ?? program.command('machines').alias('machine').description('machines');
  for (const action of Object.keys(POWER_VERBS) as PowerAction[]) {
    mutationOptions(machines.command(action).description(`${action} a provisioned machine`).argument('<id-or-name>')).action((ref: string, o) =>
      machinesPower(api(), action, ref, o),
    );
  }

  const disks = program.command('disks').alias('disk').description('data disks of machines');
  listOptions(disks.command('list').argument('<machine>', 'machine id or name')).action((machine: string, o) => disksList(api(), machine, o));
  mutationOptions(
    disks
      .command('attach')
      .description('create a data disk and attach it')
      .argument('<machine>', 'machine id or name')
      .requiredOption('--size-gb <n>', 'size in GiB (1-65536)')
      .option('--storage <id>', 'storage to create the volume on'),
  ).action((machine: string, o) => disksAttach(api(), machine, o));
  mutationOptions(
    disks.command('detach').description('detach a data disk and delete its volume').argument('<machine>', 'machine id or name').argument('<disk-id>'),
  ).action((machine: string, diskId: string, o) => disksDetach(api(), machine, diskId, o));
}
