// The running QEMU process of an instance: its live pid (checked against the pid file in its
// argv, so a recycled pid is never mistaken for it), QMP access, power state, waiting for exit,
// and stopping it (`quit` over QMP, SIGKILL as the last resort).
import { readFile, rm } from 'node:fs/promises';
import { basename } from 'node:path';
import { HangarError } from '../../domain/errors.ts';
import type { PowerState } from '../hypervisor.ts';
import { nextWatchDelay, WATCH_DEFAULTS } from '../support/poll-schedule.ts';
import { sleep as abortableSleep } from '../support/sleep.ts';
import { errMessage, instancePaths, type QemuContext } from './instance.ts';
import { withQmp, type QmpClient } from './qmp.ts';
import { processAlive } from './tools.ts';

/** The live QEMU pid of an instance, or null (no pid file, dead, zombie or recycled pid). */
export async function livePid(dir: string): Promise<number | null> {
  const p = instancePaths(dir);
  let text: string;
  try {
    text = await readFile(p.pidFile, 'utf8');
  } catch {
    return null;
  }
  const pid = Number.parseInt(text.trim(), 10);
  if (!Number.isInteger(pid) || pid <= 1) return null;
  // The pid file path is in QEMU's argv verbatim (QemuOpts values are escaped, so not those).
  return (await processAlive(pid, p.pidFile)) ? pid : null;
}

export async function qmp<T>(dir: string, fn: (q: QmpClient) => Promise<T>): Promise<T> {
  try {
    return await withQmp(instancePaths(dir).qmpSocket, fn);
  } catch (err) {
    if (err instanceof HangarError) throw err;
    throw new HangarError('provider_error', `qemu: QMP on ${basename(dir)}: ${errMessage(err)}`);
  }
}

export async function powerState(dir: string): Promise<{ pid: number | null; state: PowerState }> {
  const pid = await livePid(dir);
  if (!pid) return { pid: null, state: 'stopped' };
  const st = await qmp(dir, (q) => q.execute<{ status: string; running: boolean }>('query-status'));
  if (st.status === 'running') return { pid, state: 'running' };
  if (st.status === 'shutdown') return { pid, state: 'stopped' };
  return { pid, state: 'paused' };
}

/** Waits for the process to exit; false when it still runs after `timeoutMs`. */
export async function waitExit(ctx: QemuContext, dir: string, pid: number, timeoutMs: number): Promise<boolean> {
  const marker = instancePaths(dir).pidFile;
  const started = Date.now();
  const deadline = started + timeoutMs;
  let lastBeat = 0;
  for (;;) {
    if (!(await processAlive(pid, marker))) return true;
    if (Date.now() >= deadline) return false;
    if (Date.now() - lastBeat >= 1000) {
      ctx.opts.hooks.onWait?.();
      lastBeat = Date.now();
    }
    // Not abortable on purpose: a stop that was asked for is seen through.
    // Watching an exit that is under way: short first polls (decision 0025).
    const gap = nextWatchDelay(Date.now() - started, { firstMs: 20, maxMs: 250, ratio: WATCH_DEFAULTS.ratio });
    await (ctx.opts.hooks.sleep ?? abortableSleep)(Math.min(gap, Math.max(1, deadline - Date.now())));
  }
}

/**
 * After `system_powerdown`: waits for QEMU's SHUTDOWN event (the guest powered off) instead of
 * polling, heartbeating every second; returns early when the connection closes (QEMU exited).
 * True when the event came; the caller still confirms the exit with `waitExit`.
 */
export async function awaitShutdownEvent(ctx: QemuContext, q: QmpClient, afterMark: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    try {
      await q.waitForEvent((e) => e.event === 'SHUTDOWN', Math.min(1000, left), afterMark);
      return true;
    } catch (err) {
      // A timeout of this slice: beat and wait on. The socket closing: QEMU is gone.
      if (!/no matching QMP event/.test(errMessage(err))) return true;
      ctx.opts.hooks.onWait?.();
    }
  }
}

export async function cleanRuntimeFiles(dir: string): Promise<void> {
  const p = instancePaths(dir);
  await rm(p.pidFile, { force: true });
  await rm(p.qmpSocket, { force: true });
}

/** `quit` over QMP, then SIGKILL as the last resort. */
export async function hardStop(ctx: QemuContext, dir: string, pid: number): Promise<void> {
  try {
    await withQmp(instancePaths(dir).qmpSocket, (q) => q.execute('quit'), { timeoutMs: 3000 });
  } catch (err) {
    ctx.logger.warn({ vm: basename(dir), err: errMessage(err) }, 'qemu: QMP quit failed; killing the process');
  }
  if (!(await waitExit(ctx, dir, pid, 10_000))) {
    ctx.logger.warn({ vm: basename(dir), pid }, 'qemu: process did not exit after quit; sending SIGKILL');
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone meanwhile */
    }
    if (!(await waitExit(ctx, dir, pid, 10_000))) {
      throw new HangarError('provider_error', `qemu: process ${pid} of ${basename(dir)} survives SIGKILL`);
    }
  }
  await cleanRuntimeFiles(dir);
}
