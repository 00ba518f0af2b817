// Drift findings and the observers' schedules over the REST API: list, get and ignore findings;
// list, pause, unpause and trigger schedules (a schedule is named by its id or its target).
import type { Command } from 'commander';
import type { ApiClient, ApiFactory } from './api-client.ts';
import { oneOf } from './flags.ts';
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

  const schedules = program.command('schedules').alias('schedule').description("the observers' Temporal Schedules");
  schedules
    .command('list')
    .option('--json', 'print JSON')
    .action((o) => schedulesList(api(), o));
  for (const action of SCHEDULE_ACTIONS)
    schedules
      .command(action)
      .argument('<id-or-target>', 'schedule id or its target, e.g. inventory')
      .option('--json', 'print JSON')
      .action((ref: string, o) => schedulesAction(api(), action, ref, o));
}
