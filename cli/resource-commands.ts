// Resource commands over the REST API: machines and operations.
import type { Progress } from '../domain/progress.ts';
import { CliError, type ApiClient } from './api-client.ts';
import { renderProgress, table } from './render.ts';
import { oneOf, wholeNumber } from './flags.ts';
import { listAll } from './lists.ts';
import { print } from './output.ts';
import { machineId, networkId, UUID } from './resolve.ts';

interface MachineJson {
  id: string;
  name: string;
  state: string;
  provider: string;
  [k: string]: unknown;
}
interface OperationJson {
  id: string;
  status: string;
  progress: Progress | null;
  error: { code: string; message: string } | null;
  links: { history: string };
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
  provider: string;
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

export async function machinesCreate(api: ApiClient, opts: MachineCreateOpts) {
  const payload: Record<string, unknown> = {
    name: opts.name,
    provider: opts.provider,
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

export async function machinesList(api: ApiClient, opts: { state?: string; provider?: string; json?: boolean }) {
  const items = await listAll<MachineJson>(api, '/api/v1/machines', { state: opts.state, provider: opts.provider });
  if (opts.json) return print(items);
  console.log(table(items, ['name', 'id', 'provider', 'state', 'cpu', 'memory_mb', 'disk_gb']));
}

export async function machinesGet(api: ApiClient, ref: string, opts: { json?: boolean }) {
  const id = await machineId(api, ref);
  const { body } = await api.get<MachineJson>(`/api/v1/machines/${id}`);
  if (opts.json) return print(body);
  const { operations: _ops, ...rest } = body;
  console.log(
    table(
      Object.entries(rest).map(([field, value]) => ({ field, value })),
      ['field', 'value'],
    ),
  );
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

/** Redraws the step list until the operation ends; exits non-zero if it failed. */
export async function opsWatch(api: ApiClient, id: string, opts: { json?: boolean; intervalMs?: number; timeoutMs?: number } = {}) {
  const interval = opts.intervalMs ?? 500;
  const deadline = Date.now() + (opts.timeoutMs ?? 60 * 60_000);
  const tty = process.stdout.isTTY && !opts.json;
  let drawn = 0;
  let last = '';
  for (;;) {
    const { body } = await api.get<OperationJson>(`/api/v1/operations/${encodeURIComponent(id)}`);
    const lines = renderProgress(body.status, body.progress);
    const text = lines.join('\n');
    if (!opts.json && text !== last) {
      if (tty && drawn) process.stdout.write(`\x1b[${drawn}A\x1b[J`);
      process.stdout.write(`${text}\n`);
      drawn = lines.length;
      last = text;
    }
    if (body.status !== 'running') {
      if (opts.json) print(body);
      if (body.status !== 'completed') {
        throw new CliError(`operation ${id} ${body.status}${body.error ? `: ${body.error.code}: ${body.error.message}` : ''}`, 1);
      }
      return;
    }
    if (Date.now() > deadline) throw new CliError(`gave up watching operation ${id}: still running`, 1);
    await new Promise((r) => setTimeout(r, interval));
  }
}

export async function opsList(api: ApiClient, opts: { json?: boolean; resource?: string }) {
  const q = opts.resource ? `?resource_id=${encodeURIComponent(opts.resource)}` : '';
  const { body } = await api.get<{ items: Record<string, unknown>[] }>(`/api/v1/operations${q}`);
  if (opts.json) return print(body.items);
  console.log(
    table(
      body.items.map((o) => ({ ...o, resource: (o.resource as { id: string }).id })),
      ['id', 'kind', 'resource', 'requested_by', 'created_at'],
    ),
  );
}
