// Waiting on Proxmox: running tasks of a node (our own lost replies, clones in flight), VM locks
// (a clone or create still running), and the settled config a retried call must see.
import { HangarError } from '../../domain/errors.ts';
import { nextWatchDelay, WATCH_DEFAULTS } from '../support/poll-schedule.ts';
import { isUpid, pvePath } from './client.ts';
import { errCode, pauseFor, pveGet, vmConfig, type ProxmoxCall, type VmConfig } from './context.ts';
import type { VmRef } from './locator.ts';

/** Running tasks of a type (optionally about one VMID) on a node; `ownOnly`: started with our token. */
export async function activeTasks(c: ProxmoxCall, node: string, typefilter: string | undefined, vmid?: number, ownOnly = false): Promise<string[]> {
  const rows = await pveGet<{ upid: string; user?: string }[]>(c, pvePath`/nodes/${node}/tasks`, {
    source: 'active',
    typefilter,
    vmid,
    limit: 500,
  });
  return (Array.isArray(rows) ? rows : [])
    .filter((r) => isUpid(r.upid) && (!ownOnly || r.user === undefined || r.user === c.client.tokenId))
    .map((r) => r.upid);
}

/** Waits for tasks to end; true if there were any. Someone else's task failing is not our failure. */
export async function waitTasks(c: ProxmoxCall, node: string, upids: string[]): Promise<boolean> {
  for (const upid of upids) {
    try {
      await c.client.waitForTask(node, upid, { hooks: c.hooks, ...(c.signal ? { signal: c.signal } : {}) });
    } catch (err) {
      // A broken API (or our own cancellation) still is.
      if (!(err instanceof HangarError) || !['provider_task_failed', 'already_exists'].includes(err.code)) throw err;
    }
  }
  return upids.length > 0;
}

/** Waits for running tasks of a type (optionally about one VMID) on a node; true if there were any. */
export async function waitActiveTasks(c: ProxmoxCall, node: string, typefilter: string | undefined, vmid?: number): Promise<boolean> {
  return waitTasks(c, node, await activeTasks(c, node, typefilter, vmid));
}

/** Waits until the VM's config has no lock (a clone/create task still running); undefined if it vanished. */
export async function waitUnlocked(c: ProxmoxCall, ref: VmRef, config: VmConfig): Promise<VmConfig | undefined> {
  let cfg: VmConfig | undefined = config;
  const now = c.hooks.now ?? Date.now;
  const started = now();
  const schedule = { firstMs: c.settings.pollInitialMs, maxMs: c.settings.pollMaxMs, ratio: WATCH_DEFAULTS.ratio };
  while (cfg?.lock) {
    const elapsed = now() - started;
    if (elapsed > c.settings.lockWaitMs) {
      throw new HangarError('provider_error', `Proxmox VM ${ref.vmid} is still locked (${cfg.lock})`);
    }
    c.hooks.onWait?.();
    // A lock is a task still running: watched like one (seen soon after it clears).
    await pauseFor(c, nextWatchDelay(elapsed, schedule));
    try {
      cfg = await vmConfig(c, ref);
    } catch (err) {
      if (errCode(err) === 'not_found') return undefined;
      throw err;
    }
  }
  return cfg;
}

/**
 * The VM's config once no task of ours (or anyone's) is still changing it: a retried call
 * after a lost reply must see the effect of the first attempt, not race it.
 */
export async function settledConfig(c: ProxmoxCall, ref: VmRef): Promise<VmConfig> {
  await waitActiveTasks(c, ref.node, undefined, ref.vmid);
  const cfg = await vmConfig(c, ref);
  if (!cfg.lock) return cfg;
  const unlocked = await waitUnlocked(c, ref, cfg);
  if (!unlocked) throw new HangarError('not_found', `Proxmox VM ${ref.vmid} disappeared`);
  return unlocked;
}
