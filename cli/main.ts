// The `hangar` command: processes (serve, worker, migrate), admin (token, config), the local
// stack (up, down) and resource commands over the REST API.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { ConfigError, type ParsedConfig } from '../domain/config.ts';
import { renderConfigDocs } from '../domain/config-docs.ts';
import { loadConfig } from './config.ts';
import { ApiClient, CliError } from './api-client.ts';
import * as res from './resource-commands.ts';
import * as inv from './inventory-commands.ts';
import { collect } from './flags.ts';
import { registerIpamCommands } from './ipam-commands.ts';
import { registerScopeCommands } from './scope-commands.ts';
import { registerSubnetCommands } from './subnet-commands.ts';
import { registerDriftCommands } from './drift-commands.ts';
import { registerVmCommands } from './vm-commands.ts';
import { registerHostCommands } from './host-commands.ts';
import { listOptions } from './lists.ts';
import { registerMetaCommands } from './meta-commands.ts';
import { registerCompletionCommands } from './completion.ts';
import { applyConventions } from './command-tree.ts';
import { EXIT } from './exit-codes.ts';

const STACK_SCRIPT = fileURLToPath(new URL('../scripts/stack.sh', import.meta.url));

// Server-side modules (ORM, Temporal worker, Express) load only for the commands that need them:
// resource commands start in a fraction of the time.
const server = () => import('./server-commands.ts');

let cached: ParsedConfig | undefined;
const config = (): ParsedConfig => (cached ??= loadConfig());
const api = () => new ApiClient({ baseUrl: config().config.api.url, token: config().config.api.token });

export function buildProgram(): Command {
  const program = new Command('hangar').description('Hangar: durable provisioning for VMs, bare metal and subnets').showHelpAfterError().exitOverride();

  program
    .command('serve')
    .description('run the API server')
    .action(async () => (await server()).serve(config()));
  program
    .command('worker')
    .description('run a Temporal worker')
    .action(async () => (await server()).worker(config()));
  program
    .command('migrate')
    .description('apply or revert database migrations')
    .argument('[direction]', 'up, down or status', 'up')
    .option('--to <name>', 'with down: revert back to (not including) this migration')
    .action(async (direction: string, o: { to?: string }) => (await server()).migrate(config(), direction, o.to));

  const token = program.command('token').description('API tokens (direct database access)');
  token
    .command('create')
    .requiredOption('--name <name>')
    .requiredOption('--role <role>', 'viewer, operator or admin')
    .option('--json')
    .action(async (o: { name: string; role: string; json?: boolean }) => (await server()).tokenCreate(config(), o.name, o.role, !!o.json));
  token
    .command('list')
    .option('--json')
    .action(async (o: { json?: boolean }) => (await server()).tokenList(config(), !!o.json));
  token
    .command('revoke')
    .argument('<name>')
    .action(async (name: string) => (await server()).tokenRevoke(config(), name));

  const configCmd = program.command('config').description('configuration');
  configCmd
    .command('show')
    .description('print the effective configuration, secrets redacted')
    .option('--json')
    .action(async (o: { json?: boolean }) => (await server()).configShow(config(), !!o.json));
  configCmd
    .command('docs')
    .description('print the reference of every setting (Markdown)')
    .action(() => {
      process.stdout.write(renderConfigDocs());
    });

  const stack = (verb: string) => () => {
    const r = spawnSync('bash', [STACK_SCRIPT, verb], { stdio: 'inherit' });
    if (r.status !== 0) throw new CliError(`stack ${verb} failed`, r.status ?? 1);
  };
  program.command('up').description('start the local stack (PostgreSQL, Temporal, API, worker)').action(stack('up'));
  program.command('down').description('stop the local stack').action(stack('down'));

  const machines = program.command('machines').alias('machine').description('machines');
  machines
    .command('create')
    .requiredOption('--name <name>')
    .option('--provider <provider>', "dryrun, qemu, proxmox or redfish (default: the template's provider, else dryrun)")
    .option('--cpu <n>', 'vCPUs', '1')
    .option('--memory-mb <n>', 'memory in MiB', '512')
    .option('--disk-gb <n>', 'disk in GiB', '10')
    .option('--template <id-or-name>', 'template to clone from (required for qemu and proxmox)')
    .option('--node <node>', 'Proxmox node')
    .option('--vmid <n>', 'Proxmox VMID (100-999999999; default: next free)')
    .option('--clone-mode <mode>', 'full or linked (Proxmox)')
    .option('--cloud-init-mode <mode>', 'iso or native (native: Proxmox only)')
    .option('--network <id-or-name>', 'network to lease an address in')
    .option('--mac <mac>', 'NIC MAC address')
    .option('--bridge <name>', 'bridge the NIC attaches to')
    .option('--vlan <id>', 'VLAN tag (1-4094)')
    .option('--ssh-key <id-or-name>', 'SSH key (repeatable)', collect)
    .option('--domain <domain>', 'DNS domain')
    .option('--wait-phone-home', 'hold provisioning until cloud-init phones home (default: yes for qemu and proxmox)')
    .option('--no-wait-phone-home', 'do not wait for cloud-init to phone home')
    .option('--idempotency-key <key>')
    .option('--wait', 'watch the operation until it ends')
    .option('--dry-run', 'print the provider calls it would make; change nothing')
    .option('--json')
    .action((o) => res.machinesCreate(api(), o));
  listOptions(
    machines.command('list').option('--state <state>', 'only machines in this state').option('--provider <provider>', 'only machines of this provider'),
  ).action((o) => res.machinesList(api(), o));
  machines
    .command('get')
    .argument('<id-or-name>')
    .option('--json')
    .action((ref: string, o) => res.machinesGet(api(), ref, o));
  machines
    .command('delete')
    .argument('<id-or-name>')
    .option('--wait')
    .option('--dry-run', 'print the provider calls it would make; change nothing')
    .option('--json')
    .action((ref: string, o) => res.machinesDelete(api(), ref, o));
  inv.registerMachineInventoryCommands(machines, api);

  const ops = program.command('ops').alias('operations').description('operations (workflow runs)');
  listOptions(
    ops.command('list').option('--resource <id>', "only this resource's operations").option('--kind <kind>', 'only this kind, e.g. provision'),
  ).action((o) => res.opsList(api(), o));
  ops
    .command('get')
    .argument('<id>')
    .option('--json')
    .action((id: string, o) => res.opsGet(api(), id, o));
  ops
    .command('watch')
    .argument('<id>')
    .option('--json')
    .option('--interval-ms <ms>', 'poll interval', '500')
    .action((id: string, o: { json?: boolean; intervalMs: string }) => res.opsWatch(api(), id, { json: o.json, intervalMs: Number(o.intervalMs) }));

  inv.registerInventoryCommands(program, api);
  registerIpamCommands(program, api);
  registerScopeCommands(program, api);
  registerSubnetCommands(program, api);
  registerVmCommands(program, api);
  registerHostCommands(program, api);
  registerDriftCommands(program, api);
  registerMetaCommands(program, api, () => config().config.api.url);
  registerCompletionCommands(program, api);

  // Last: output formats, confirmations, descriptions and examples for every command above.
  applyConventions(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (err instanceof ConfigError) {
      process.stderr.write(`hangar: ${err.message}\n`);
      return EXIT.usage;
    }
    if (err instanceof CliError) {
      if (err.message) process.stderr.write(`${err.message}\n`);
      return err.exitCode;
    }
    // Anything else is a fault of this program or its environment, not of the request.
    process.stderr.write(`hangar: ${(err as Error).message ?? String(err)}\n`);
    return EXIT.system;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const code = await main(process.argv.slice(2));
  // serve/worker keep running via their own handles; everything else exits with its code.
  if (code !== 0 || !['serve', 'worker'].includes(process.argv[2] ?? '')) process.exitCode = code;
}
