// Commands about Hangar itself: `version`, `status` (services, providers, acceleration and why,
// queues, schedules, latest errors) and `docs` (the command reference docs/cli.md is made from).
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { ApiClient, ApiFactory } from './api-client.ts';
import { CliError } from './api-client.ts';
import { renderCliDocs } from './docs.ts';
import { EXIT } from './exit-codes.ts';
import { machineReadable, print } from './output.ts';
import { table } from './render.ts';

export const CLI_VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

interface StatusJson {
  version: string;
  node: string;
  temporal: { address: string; namespace: string; task_queue: string; server_version: string | null };
  services: { name: string; status: string; detail: string | null }[];
  providers: { name: string; enabled: boolean }[];
  acceleration: { accel: string; cpu_model: string | null; reason: string; machine: string; observed_at: string } | null;
  queues: { name: string; workflow_pollers: number; activity_pollers: number; detail: string | null }[];
  schedules: { id: string; target: string; paused: boolean | null; next_action_at: string | null; detail: string | null }[];
  last_errors: { resource_type: string; name: string; state: string; error: string; at: string }[];
  settings: { shutdown_timeout_sec: number; phone_home_timeout: string };
}

export async function version(api: ApiClient, baseUrl: string, o: { json?: boolean }) {
  let status: StatusJson | null = null;
  let problem: CliError | null = null;
  try {
    status = (await api.get<StatusJson>('/api/v1/status')).body;
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    problem = err;
  }
  const answer = {
    cli: CLI_VERSION,
    api: status ? { url: baseUrl, version: status.version } : null,
    temporal: status ? { address: status.temporal.address, server_version: status.temporal.server_version } : null,
  };
  if (o.json || machineReadable()) print(answer);
  else {
    console.log(`hangar (this command)  ${CLI_VERSION}  (Node ${process.versions.node})`);
    console.log(`Hangar API             ${status ? `${status.version}  at ${baseUrl}` : `unknown: ${problem?.message}`}`);
    console.log(
      `Temporal server        ${status ? `${status.temporal.server_version ?? 'unknown (not answering)'}  at ${status.temporal.address}` : 'unknown (ask the API)'}`,
    );
  }
  if (problem) throw new CliError('', problem.exitCode);
}

export function describeAcceleration(a: StatusJson['acceleration']): string {
  if (!a) return 'not decided yet: the QEMU provider probes KVM against TCG when it starts its first VM';
  return `${a.accel.toUpperCase()}${a.cpu_model ? ` (-cpu ${a.cpu_model})` : ''}: ${a.reason}  [recorded when ${a.machine} started, ${a.observed_at}]`;
}

export async function status(api: ApiClient, o: { json?: boolean }) {
  const { body: s } = await api.get<StatusJson>('/api/v1/status');
  if (o.json) return print(s);
  const section = (title: string) => console.log(`\n${title}`);
  console.log(
    `Hangar ${s.version} (Node ${s.node}); Temporal ${s.temporal.server_version ?? 'unknown'} at ${s.temporal.address}, namespace ${s.temporal.namespace}`,
  );
  section('services');
  console.log(table(s.services, ['name', 'status', 'detail']));
  section('providers');
  console.log(
    `  enabled: ${
      s.providers
        .filter((p) => p.enabled)
        .map((p) => p.name)
        .join(', ') || 'none'
    }`,
  );
  const disabled = s.providers.filter((p) => !p.enabled).map((p) => p.name);
  if (disabled.length) console.log(`  not enabled: ${disabled.join(', ')} (HANGAR_PROVIDERS)`);
  section('QEMU acceleration');
  console.log(`  ${describeAcceleration(s.acceleration)}`);
  section('task queues');
  console.log(table(s.queues, ['name', 'workflow_pollers', 'activity_pollers', 'detail']));
  section('schedules');
  console.log(table(s.schedules, ['target', 'paused', 'next_action_at', 'id', 'detail']));
  section('latest errors');
  console.log(table(s.last_errors, ['resource_type', 'name', 'state', 'at', 'error']));
  section('waits');
  console.log(`  graceful shutdown: up to ${s.settings.shutdown_timeout_sec} s, then forced; phone home: up to ${s.settings.phone_home_timeout}`);
  if (s.services.some((x) => x.status !== 'ok')) throw new CliError('some services are unreachable (see above)', EXIT.system);
}

export function registerMetaCommands(program: Command, api: ApiFactory, baseUrl: () => string): void {
  program
    .command('version')
    .description('print the versions of this command, the API it talks to and Temporal')
    .option('--json', 'print JSON')
    .action((o) => version(api(), baseUrl(), o));
  program
    .command('status')
    .description('services, providers, QEMU acceleration and why, task queues, schedules and the latest errors')
    .option('--json', "print the API's answer (GET /api/v1/status)")
    .action((o) => status(api(), o));
  program
    .command('docs')
    .description('print the command reference as Markdown (docs/cli.md is this output)')
    .action(() => {
      process.stdout.write(renderCliDocs(program));
    });
}
