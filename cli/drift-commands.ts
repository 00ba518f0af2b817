// Drift findings and the observers' schedules over the REST API: list, get, ignore, remediate and
// adopt findings; list, apply, pause, unpause and trigger schedules (a schedule is named by its id or its target).
import type { Command } from 'commander';
import type { ApiClient, ApiFactory } from './api-client.ts';
import { oneOf } from './flags.ts';
import { opsWatch } from './resource-commands.ts';
import { networkId } from './resolve.ts';
import { emitList, fetchList, listOptions, type ListOpts } from './lists.ts';
import { print, readableFieldsTable as fieldsTable, readableRowsTable as rowsTable } from './output.ts';

interface FindingJson {
  id: string;
  kind: string;
  state: string;
  resource_type: string;
  resource_id: string;
  resource_name: string;
  [k: string]: unknown;
}
interface ScheduleJson {
  id: string;
  target: string;
  paused: boolean;
  next_action_times: string[];
  [k: string]: unknown;
}

// The API's own lists (domain/drift.ts) would pull the domain into the CLI; it refuses others anyway.
const KINDS = ['missing', 'unmanaged', 'power_mismatch', 'config_mismatch', 'orphan', 'unreachable'] as const;
const STATES = ['open', 'resolved', 'ignored'] as const;
const SCHEDULE_ACTIONS = ['pause', 'unpause', 'trigger'] as const;
type ScheduleAction = (typeof SCHEDULE_ACTIONS)[number];

const enc = encodeURIComponent;

export async function driftList(api: ApiClient, o: ListOpts & { kind?: string; state?: string; provider?: string; resource?: string }) {
  const params = {
    kind: o.kind === undefined ? undefined : oneOf('--kind', o.kind, KINDS),
    state: o.state === undefined ? undefined : oneOf('--state', o.state, STATES),
    provider: o.provider,
    resource_id: o.resource,
  };
  const list = await fetchList<FindingJson>(api, '/api/v1/drift', params, o);
  emitList(list, o, () => rowsTable(list.items, ['id', 'kind', 'state', 'provider', 'resource_type', 'resource_name', 'resource_id', 'last_seen']));
}

export async function driftGet(api: ApiClient, id: string, o: { json?: boolean }) {
  const { body } = await api.get<FindingJson>(`/api/v1/drift/${enc(id)}`);
  if (o.json) return print(body);
  console.log(fieldsTable(body));
}

export async function driftIgnore(api: ApiClient, id: string, o: { json?: boolean }) {
  const { body } = await api.post<FindingJson>(`/api/v1/drift/${enc(id)}/actions/ignore`, undefined);
  if (o.json) return print(body);
  console.log(`ignored ${body.kind} finding ${body.id} on ${body.resource_type} ${body.resource_name}`);
}

/** Imports the unmanaged VM of a finding as a machine (only Hangar's marker is written onto the VM). */
export async function driftAdopt(api: ApiClient, id: string, o: { name?: string; network?: string; wait?: boolean; json?: boolean }) {
  const body = {
    ...(o.name !== undefined ? { name: o.name } : {}),
    ...(o.network !== undefined ? { network_id: await networkId(api, o.network) } : {}),
  };
  const { body: out } = await api.post<{ finding: FindingJson; machine: { id: string; name: string }; operation: { id: string } }>(
    `/api/v1/drift/${enc(id)}/actions/adopt`,
    body,
  );
  if (o.json && !o.wait) return print(out);
  if (!o.json) console.log(`adopting VM ${out.finding.resource_name} as machine ${out.machine.name} (${out.machine.id}); operation ${out.operation.id}`);
  if (o.wait) await opsWatch(api, out.operation.id, { json: o.json });
}

export async function driftRemediate(api: ApiClient, id: string, o: { json?: boolean }) {
  const { body } = await api.post<{ finding: FindingJson; operation: { id: string; kind: string } }>(`/api/v1/drift/${enc(id)}/actions/remediate`, undefined);
  if (o.json) return print(body);
  const f = body.finding;
  console.log(
    `remediating ${f.kind} finding ${f.id} on ${f.resource_type} ${f.resource_name}: operation ${body.operation.id} (${body.operation.kind}); follow it with: hangar ops watch ${body.operation.id}`,
  );
}

export async function schedulesApply(api: ApiClient, o: { json?: boolean }) {
  const { body } = await api.post<{ applied: Record<string, 'created' | 'updated'> }>('/api/v1/schedules/apply', undefined);
  if (o.json) return print(body.applied);
  for (const [id, done] of Object.entries(body.applied)) console.log(`${done} ${id}`);
}

export async function schedulesList(api: ApiClient, o: { json?: boolean }) {
  const { body } = await api.get<{ items: ScheduleJson[] }>('/api/v1/schedules');
  if (o.json) return print(body);
  const rows = body.items.map((s) => ({ ...s, next_action: s.next_action_times[0] ?? null }));
  console.log(rowsTable(rows, ['target', 'id', 'interval_sec', 'paused', 'next_action', 'last_action_at']));
}

export async function schedulesAction(api: ApiClient, action: ScheduleAction, ref: string, o: { json?: boolean }) {
  const { body } = await api.post<ScheduleJson>(`/api/v1/schedules/${enc(ref)}/actions/${action}`, undefined);
  if (o.json) return print(body);
  const done = { pause: 'paused', unpause: 'unpaused', trigger: 'triggered' }[action];
  console.log(`${done} schedule ${body.id}${body.paused ? ' (paused)' : ''}`);
}

export function registerDriftCommands(program: Command, api: ApiFactory): void {
  const drift = program.command('drift').description('drift findings: what the observers found different from the database');
  listOptions(
    drift
      .command('list')
      .option('--kind <kind>', KINDS.join(', '))
      .option('--state <state>', STATES.join(', '))
      .option('--provider <provider>')
      .option('--resource <id>', 'resource id'),
  ).action((o) => driftList(api(), o));
  drift
    .command('get')
    .argument('<id>')
    .option('--json', 'print JSON')
    .action((id: string, o) => driftGet(api(), id, o));
  drift
    .command('ignore')
    .description('acknowledge a finding: not reported again, resolves when its difference goes away')
    .argument('<id>')
    .option('--json', 'print JSON')
    .action((id: string, o) => driftIgnore(api(), id, o));
  drift
    .command('remediate')
    .description('fix a finding now through the workflow that fixes it (e.g. power a provisioned host back on)')
    .argument('<id>')
    .option('--json', 'print JSON')
    .action((id: string, o) => driftRemediate(api(), id, o));

  drift
    .command('adopt')
    .description("import the unmanaged VM of a finding as a machine (writes Hangar's marker onto the VM, changes nothing else)")
    .argument('<id>')
    .option('--name <name>', "the machine's name (default: the VM's name)")
    .option('--network <id-or-name>', 'reserve an address for the machine in this network (default: no lease)')
    .option('--wait', 'watch the operation to its end')
    .option('--json', 'print JSON')
    .action((id: string, o) => driftAdopt(api(), id, o));

  const schedules = program.command('schedules').alias('schedule').description("the observers' Temporal Schedules");
  schedules
    .command('list')
    .option('--json', 'print JSON')
    .action((o) => schedulesList(api(), o));
  schedules
    .command('apply')
    .description('create or update the schedules as every worker does at start-up (idempotent; a paused schedule stays paused)')
    .option('--json', 'print JSON')
    .action((o) => schedulesApply(api(), o));
  for (const action of SCHEDULE_ACTIONS)
    schedules
      .command(action)
      .argument('<id-or-target>', 'schedule id or its target, e.g. inventory')
      .option('--json', 'print JSON')
      .action((ref: string, o) => schedulesAction(api(), action, ref, o));
}
