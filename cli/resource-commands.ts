// Resource commands over the REST API: machines and operations.
import { CliError, type ApiClient } from './api-client.ts';
import { table } from './render.ts';
import { oneOf, wholeNumber } from './flags.ts';
import { emitList, fetchList, listAll, type ListOpts } from './lists.ts';
import { print, readableFieldsTable } from './output.ts';
import { renderProgress, watchOperation, type OperationJson, type WatchOptions } from './progress.ts';
import { duration } from './time.ts';
import { machineId, networkId, UUID } from './resolve.ts';

interface MachineJson {
  id: string;
  name: string;
  state: string;
  provider: string;
  [k: string]: unknown;
}

export interface PlanJson {
  dry_run: true;
  workflow: string;
  workflow_id: string;
  calls: { step: string; call: string; args: Record<string, unknown> }[];
}

/** A dry-run plan: as JSON, or as a table of steps with their calls and arguments (compact JSON). */
export function printPlan(plan: PlanJson, json?: boolean) {
  if (json) return print(plan);
  console.log(`dry run: ${plan.workflow} (workflow ${plan.workflow_id}) would make these calls; nothing was changed`);
  console.log(
    table(
      plan.calls.map((c) => ({ step: c.step, call: c.call, args: JSON.stringify(c.args) })),
      ['step', 'call', 'args'],
    ),
  );
}

export interface MachineCreateOpts {
  name: string;
  provider?: string;
  cpu: string;
  memoryMb: string;
  diskGb: string;
  idempotencyKey?: string;
  wait?: boolean;
  json?: boolean;
  template?: string;
  node?: string;
  vmid?: string;
  cloneMode?: string;
  cloudInitMode?: string;
  network?: string;
  mac?: string;
  bridge?: string;
  vlan?: string;
  sshKey?: string[];
  domain?: string;
  waitPhoneHome?: boolean;
  dryRun?: boolean;
}

/** Without --provider: the template's provider (a template belongs to one), else dryrun. */
async function providerFor(api: ApiClient, opts: MachineCreateOpts): Promise<string> {
  if (opts.provider !== undefined) return opts.provider;
  if (opts.template === undefined) return 'dryrun';
  const { body } = await api.get<{ provider: string }>(`/api/v1/templates/${encodeURIComponent(opts.template)}`);
  return body.provider;
}

export async function machinesCreate(api: ApiClient, opts: MachineCreateOpts) {
  const payload: Record<string, unknown> = {
    name: opts.name,
    provider: await providerFor(api, opts),
    cpu: wholeNumber('--cpu', opts.cpu),
    memory_mb: wholeNumber('--memory-mb', opts.memoryMb),
    disk_gb: wholeNumber('--disk-gb', opts.diskGb),
  };
  if (opts.template !== undefined) payload.template = opts.template;
  if (opts.node !== undefined) payload.node = opts.node;
  if (opts.vmid !== undefined) payload.vmid = wholeNumber('--vmid', opts.vmid, 100, 999_999_999);
  if (opts.cloneMode !== undefined) payload.clone_mode = oneOf('--clone-mode', opts.cloneMode, ['full', 'linked'] as const);
  if (opts.cloudInitMode !== undefined) payload.cloud_init_mode = oneOf('--cloud-init-mode', opts.cloudInitMode, ['iso', 'native'] as const);
  if (opts.mac !== undefined) payload.mac = opts.mac;
  if (opts.bridge !== undefined) payload.bridge = opts.bridge;
  if (opts.vlan !== undefined) payload.vlan = wholeNumber('--vlan', opts.vlan, 1, 4094);
  if (opts.domain !== undefined) payload.domain = opts.domain;
  if (opts.waitPhoneHome !== undefined) payload.wait_for_phone_home = opts.waitPhoneHome;
  if (opts.network !== undefined) payload.network_id = await networkId(api, opts.network);
  if (opts.sshKey?.length) {
    const keys = opts.sshKey.some((r) => !UUID.test(r)) ? await listAll<{ id: string; name: string }>(api, '/api/v1/ssh-keys') : [];
    payload.ssh_key_ids = opts.sshKey.map((r) => {
      if (UUID.test(r)) return r;
      const hit = keys.find((k) => k.name === r);
      if (!hit) throw new CliError(`error: not_found: no SSH key named "${r}"`, 1);
      return hit.id;
    });
  }
  if (opts.dryRun) {
    // No Idempotency-Key: a plan must not use up the key the real request will carry.
    const { body } = await api.post<PlanJson>('/api/v1/machines?dry_run=true', payload);
    return printPlan(body, opts.json);
  }
  const headers = opts.idempotencyKey ? { 'idempotency-key': opts.idempotencyKey } : undefined;
  const { body } = await api.post<{ machine: MachineJson; operation: { id: string; links: { history: string } } }>('/api/v1/machines', payload, headers);
  if (opts.json && !opts.wait) return print(body);
  if (!opts.json) {
    console.log(`machine ${body.machine.name} (${body.machine.id}) accepted; operation ${body.operation.id}`);
    console.log(`  watch: hangar ops watch ${body.operation.id}`);
    console.log(`  Temporal UI: ${body.operation.links.history}`);
  }
  if (opts.wait) await opsWatch(api, body.operation.id, { json: opts.json });
}

export async function machinesList(api: ApiClient, opts: ListOpts & { state?: string; provider?: string }) {
  const list = await fetchList<MachineJson>(api, '/api/v1/machines', { state: opts.state, provider: opts.provider }, opts);
  emitList(list, opts, () => table(list.items, ['name', 'state', 'provider', 'cpu', 'memory_mb', 'disk_gb', 'power_state', 'id', 'created_at']));
}

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  lastTransitionTime?: string;
}

/** How to reach the machine: the ssh command for a forwarded port (QEMU user networking), else its addresses. */
export function reachability(m: MachineJson): string[] {
  const access = (m.access ?? {}) as { ssh_host?: string; ssh_port?: number; metadata_url?: string };
  const addresses = ((m.addresses as { address: string; state: string }[] | undefined) ?? []).filter((a) => a.state !== 'released').map((a) => a.address);
  const running = m.state === 'ready' || m.power_state === 'running';
  const lines: string[] = [];
  if (access.ssh_port && running)
    lines.push(`ssh -p ${access.ssh_port} hangar@${access.ssh_host ?? '127.0.0.1'}   (port forwarded to the VM's SSH by QEMU user networking)`);
  for (const a of addresses) lines.push(`ssh hangar@${a}`);
  if (!lines.length) lines.push(running ? 'no forwarded port or leased address is known (the provider did not report one)' : `not reachable while ${m.state}`);
  return lines;
}

export async function machinesGet(api: ApiClient, ref: string, opts: { json?: boolean }) {
  const id = await machineId(api, ref);
  const { body } = await api.get<MachineJson>(`/api/v1/machines/${id}`);
  if (opts.json) return print(body);
  const { operations: _ops, conditions, drift: _drift, ...rest } = body;
  console.log(readableFieldsTable(rest));
  console.log('');
  console.log('reach it:');
  for (const line of reachability(body)) console.log(`  ${line}`);
  const access = (body.access ?? {}) as { accel?: string; accel_reason?: string };
  if (access.accel) console.log(`  runs under ${access.accel.toUpperCase()}${access.accel_reason ? ` (${access.accel_reason})` : ''}`);
  const open = ((conditions as Condition[] | undefined) ?? []).filter((c) => c.status !== 'True');
  console.log('');
  if (!open.length) console.log('open conditions: none');
  else {
    console.log('open conditions:');
    console.log(table(open as unknown as Record<string, unknown>[], ['type', 'status', 'reason', 'message', 'lastTransitionTime']));
  }
}

export async function machinesDelete(api: ApiClient, ref: string, opts: { wait?: boolean; json?: boolean; dryRun?: boolean }) {
  const id = await machineId(api, ref);
  if (opts.dryRun) return printPlan((await api.delete<PlanJson>(`/api/v1/machines/${id}?dry_run=true`)).body, opts.json);
  const { body } = await api.delete<{ operation: { id: string } }>(`/api/v1/machines/${id}`);
  if (opts.json && !opts.wait) return print(body);
  if (!opts.json) console.log(`deprovisioning ${ref}; operation ${body.operation.id}`);
  if (opts.wait) await opsWatch(api, body.operation.id, { json: opts.json });
}

export async function opsGet(api: ApiClient, id: string, opts: { json?: boolean }) {
  const { body } = await api.get<OperationJson>(`/api/v1/operations/${encodeURIComponent(id)}`);
  if (opts.json) return print(body);
  console.log(renderProgress(body.status, body.progress).join('\n'));
  console.log(`Temporal UI: ${body.links.history}`);
}

/** Watches the operation until it ends; exits 4 if it failed (cli/progress.ts). */
export const opsWatch = (api: ApiClient, id: string, opts: WatchOptions = {}) => watchOperation(api, id, opts);

interface OperationRow {
  id: string;
  kind: string;
  status: string;
  resource: { type: string; id: string };
  started_at: string | null;
  closed_at: string | null;
  created_at: string;
}

export async function opsList(api: ApiClient, opts: ListOpts & { resource?: string; kind?: string }) {
  const list = await fetchList<OperationRow>(api, '/api/v1/operations', { resource_id: opts.resource, kind: opts.kind }, opts);
  emitList(list, opts, () =>
    table(
      list.items.map((o) => ({
        status: o.status,
        type: o.kind,
        resource: `${o.resource.type}/${o.resource.id}`,
        started: o.started_at ?? o.created_at,
        duration: o.started_at
          ? duration((o.closed_at ? Date.parse(o.closed_at) : Date.now()) - Date.parse(o.started_at)) + (o.closed_at ? '' : ' (running)')
          : '-',
        id: o.id,
      })),
      ['status', 'type', 'resource', 'started', 'duration', 'id'],
    ),
  );
}
