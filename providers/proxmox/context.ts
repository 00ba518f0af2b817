// What one provider call carries through the Proxmox modules: the client, the provider's
// settings, hooks and logger, the shared marker cache, and the call's cancellation signal, plus
// the small request helpers that hand that signal to every HTTP call, task wait and sleep.
import { HangarError } from '../../domain/errors.ts';
import type { IsoTool } from '../cloud-init/cidata-iso.ts';
import type { ProviderHooks } from '../hypervisor.ts';
import { sleep as abortableSleep } from '../support/sleep.ts';
import { isUpid, pvePath, upidNode, type Params, type ProviderLogger, type ProxmoxClient, type RequestOptions } from './client.ts';

export interface ProxmoxSettings {
  /** Node VMs and templates go to when the spec names none. */
  node: string;
  storage: string;
  isoStorage: string;
  importStorage: string;
  bridge: string;
  pollInitialMs: number;
  pollMaxMs: number;
  lockWaitMs: number;
  vmidAttempts: number;
  tmpDir?: string;
  isoTool?: IsoTool;
}

export interface ProxmoxCall {
  readonly client: ProxmoxClient;
  readonly settings: ProxmoxSettings;
  readonly hooks: ProviderHooks;
  readonly logger: ProviderLogger;
  /** machine/template marker → vmid, verified against the VM's config before use; shared by all calls. */
  readonly cache: Map<string, number>;
  /** The activity's cancellation: stops requests, polls and sleeps. */
  readonly signal?: AbortSignal;
}

export type VmConfig = Record<string, string | number | undefined> & { digest?: string; description?: string; lock?: string };

export interface VmId {
  node: string;
  vmid: number;
}

export const vmPath = (ref: VmId, suffix = ''): string => pvePath`/nodes/${ref.node}/qemu/${ref.vmid}` + suffix;

const withSignal = (c: ProxmoxCall, opts: RequestOptions = {}): RequestOptions => (c.signal ? { ...opts, signal: c.signal } : opts);

export const pveGet = <T = unknown>(c: ProxmoxCall, path: string, params?: Params): Promise<T> => c.client.get<T>(path, params, withSignal(c));
export const pvePost = <T = unknown>(c: ProxmoxCall, path: string, params?: Params, opts?: RequestOptions): Promise<T> =>
  c.client.post<T>(path, params, withSignal(c, opts));
export const pvePut = <T = unknown>(c: ProxmoxCall, path: string, params?: Params, opts?: RequestOptions): Promise<T> =>
  c.client.put<T>(path, params, withSignal(c, opts));
export const pveDelete = <T = unknown>(c: ProxmoxCall, path: string, params?: Params, opts?: RequestOptions): Promise<T> =>
  c.client.delete<T>(path, params, withSignal(c, opts));

export function pauseFor(c: ProxmoxCall, ms: number): Promise<void> {
  return (c.hooks.sleep ?? abortableSleep)(ms, c.signal);
}

/** Waits for `result` when it is a task id (config writes answer null when done at once). */
export async function settle(c: ProxmoxCall, node: string, result: unknown, timeoutMs?: number): Promise<void> {
  if (isUpid(result)) {
    await c.client.waitForTask(upidNode(result) ?? node, result, {
      hooks: c.hooks,
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(c.signal ? { signal: c.signal } : {}),
    });
  }
}

export async function vmConfig(c: ProxmoxCall, ref: VmId): Promise<VmConfig> {
  return (await pveGet<VmConfig>(c, vmPath(ref, '/config'))) ?? {};
}

/** Writes config values and waits for the task; absolute values apply twice harmlessly. */
export async function setConfig(c: ProxmoxCall, ref: VmId, params: Params): Promise<void> {
  if (Object.values(params).every((v) => v === undefined)) return;
  // A digest-guarded write would fail its own retry, so only unguarded writes count as idempotent.
  const idempotent = params.digest === undefined;
  await settle(c, ref.node, await pvePost(c, vmPath(ref, '/config'), params, { idempotent }));
}

export function errCode(err: unknown): string | undefined {
  return err instanceof HangarError ? err.code : undefined;
}
