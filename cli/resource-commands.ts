// Resource commands over the REST API: machines and operations.
import type { Progress } from '../domain/progress.ts';
import { ApiClient, CliError } from './api-client.ts';
import { renderProgress, table } from './render.ts';

interface MachineJson { id: string; name: string; state: string; provider: string; [k: string]: unknown }
interface OperationJson { id: string; status: string; progress: Progress | null; error: { code: string; message: string } | null; links: { history: string } }

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const print = (v: unknown) => console.log(JSON.stringify(v, null, 2));

async function resolveMachineId(api: ApiClient, ref: string): Promise<string> {
  if (UUID.test(ref)) return ref;
  const { body } = await api.get<{ items: MachineJson[] }>(`/api/v1/machines?name_prefix=${encodeURIComponent(ref)}&page_size=100`);
  const hit = body.items.find((m) => m.name === ref);
  if (!hit) throw new CliError(`error: not_found: no machine named "${ref}"`, 1);
  return hit.id;
}

export async function machinesCreate(api: ApiClient, opts: { name: string; provider: string; cpu: string; memoryMb: string; diskGb: string; idempotencyKey?: string; wait?: boolean; json?: boolean }) {
  const num = (flag: string, v: string) => {
    if (!/^\d+$/.test(v)) throw new CliError(`${flag} must be a whole number, got "${v}"`, 2);
    return Number(v);
  };
  const payload = { name: opts.name, provider: opts.provider, cpu: num('--cpu', opts.cpu), memory_mb: num('--memory-mb', opts.memoryMb), disk_gb: num('--disk-gb', opts.diskGb) };
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
  const q = new URLSearchParams();
  if (opts.state) q.set('state', opts.state);
  if (opts.provider) q.set('provider', opts.provider);
  const items: MachineJson[] = [];
  let cursor: string | null = null;
  do {
    if (cursor) q.set('cursor', cursor);
    const { body }: { body: { items: MachineJson[]; next_cursor: string | null } } = await api.get(`/api/v1/machines?${q}`);
    items.push(...body.items);
    cursor = body.next_cursor;
  } while (cursor);
  if (opts.json) return print(items);
  console.log(table(items, ['name', 'id', 'provider', 'state', 'cpu', 'memory_mb', 'disk_gb']));
}

export async function machinesGet(api: ApiClient, ref: string, opts: { json?: boolean }) {
  const id = await resolveMachineId(api, ref);
  const { body } = await api.get<MachineJson>(`/api/v1/machines/${id}`);
  if (opts.json) return print(body);
  const { operations: _ops, ...rest } = body;
  console.log(table(Object.entries(rest).map(([field, value]) => ({ field, value })), ['field', 'value']));
}

export async function machinesDelete(api: ApiClient, ref: string, opts: { wait?: boolean; json?: boolean }) {
  const id = await resolveMachineId(api, ref);
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
      process.stdout.write(text + '\n');
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
  console.log(table(body.items.map((o) => ({ ...o, resource: (o.resource as { id: string }).id })), ['id', 'kind', 'resource', 'requested_by', 'created_at']));
}
