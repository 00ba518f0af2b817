// Watching a Proxmox task (UPID) until it stops: fast polls that grow with the time waited (the
// end is seen within a fraction of a second), a 2 s → 30 s backoff only after a status call
// *fails* (the task runs on in Proxmox regardless), heartbeats on every poll, the task log's tail
// in a failure, and an end to the watching (not the task) when the call is cancelled.
import { HangarError } from '../../domain/errors.ts';
import type { ProviderHooks } from '../hypervisor.ts';
import { nextWatchDelay, retryDelay, WATCH_DEFAULTS, type RetryBackoff } from '../support/poll-schedule.ts';
import { sleep as abortableSleep, throwIfAborted } from '../support/sleep.ts';
import { pvePath, upidNode } from './api-paths.ts';
import type { ProviderLogger, ProxmoxClient, TaskStatus, WaitOptions } from './client.ts';
import { ALREADY_EXISTS, BUSY, LOCK_TIMEOUT } from './failures.ts';

export interface TaskWaitSettings {
  /** First gap between status polls of a running task; the gap grows with the time waited. */
  pollInitialMs: number;
  /** Longest gap between polls of a running task. */
  pollMaxMs: number;
  /** Backoff after a failed status call (2 s → 30 s by default). */
  failureBackoff?: RetryBackoff;
  timeoutMs: number;
  maxFailures: number;
  hooks: ProviderHooks;
  logger: ProviderLogger;
}

/**
 * Polls a task until it stops (first poll after `pollInitialMs`, the gap growing to a tenth of
 * the time waited, at most `pollMaxMs`), calling `hooks.onWait` on every poll. A failed task
 * raises `provider_task_failed` with its exit status and the tail of its log (a lock timeout
 * raises a retryable `provider_error` instead).
 */
export async function waitForTask(
  client: ProxmoxClient,
  settings: TaskWaitSettings,
  node: string | undefined,
  upid: string,
  opts: WaitOptions = {},
): Promise<TaskStatus> {
  const taskNode = node ?? upidNode(upid);
  if (!taskNode) throw new HangarError('internal', `cannot tell the node of task ${upid}`);
  const schedule = { firstMs: settings.pollInitialMs, maxMs: settings.pollMaxMs, ratio: WATCH_DEFAULTS.ratio };
  const timeoutMs = opts.timeoutMs ?? settings.timeoutMs;
  const maxFailures = settings.maxFailures;
  const hooks = opts.hooks ?? settings.hooks;
  const now = hooks.now ?? Date.now;
  const started = now();
  const signal = opts.signal;
  let failures = 0;
  for (;;) {
    throwIfAborted(signal);
    hooks.onWait?.();
    let st: TaskStatus | undefined;
    try {
      st = await client.get<TaskStatus>(pvePath`/nodes/${taskNode}/tasks/${upid}/status`, undefined, { signal });
      failures = 0;
    } catch (err) {
      throwIfAborted(signal);
      // The task runs on in Proxmox whatever happens to one poll: keep watching it through a
      // flaky API rather than failing (and redoing) the whole step.
      if (!(err instanceof HangarError) || err.code !== 'provider_error' || ++failures >= maxFailures) throw err;
      settings.logger.debug({ upid, failures, err: err.message }, 'proxmox: task status poll failed; polling on');
    }
    if (st && st.status === 'stopped') {
      const exit = st.exitstatus ?? '';
      if (exit === 'OK') return st;
      if (/^WARNINGS: /.test(exit)) {
        settings.logger.warn({ upid, exitstatus: exit }, 'proxmox task finished with warnings');
        return st;
      }
      throw await taskFailure(client, taskNode, upid, exit || 'unknown exit status', signal);
    }
    const elapsed = now() - started;
    if (elapsed > timeoutMs) {
      throw new HangarError('provider_error', `Proxmox task ${upid} still running after ${Math.round(timeoutMs / 1000)} s`);
    }
    // A running task: look again soon. A failed status call: back off as any retry does.
    const delay = failures > 0 ? retryDelay(failures, settings.failureBackoff) : nextWatchDelay(elapsed, schedule);
    await (hooks.sleep ?? abortableSleep)(delay, signal);
  }
}

/** The last `lines` lines of a task's log (best effort). */
export async function taskLogTail(client: ProxmoxClient, node: string, upid: string, lines = 10, signal?: AbortSignal): Promise<string[]> {
  try {
    const log = await client.get<{ n: number; t: string }[]>(pvePath`/nodes/${node}/tasks/${upid}/log`, { start: 0, limit: 1000 }, { signal });
    return (Array.isArray(log) ? log : [])
      .map((l) => l.t)
      .filter((t) => t !== 'no content')
      .slice(-lines);
  } catch (err) {
    return [`(task log unavailable: ${err instanceof Error ? err.message : String(err)})`];
  }
}

async function taskFailure(client: ProxmoxClient, node: string, upid: string, exit: string, signal?: AbortSignal): Promise<HangarError> {
  const tail = await taskLogTail(client, node, upid, 10, signal);
  const detail = client.scrub(`Proxmox task ${upid} failed: ${exit}${tail.length ? `\n${tail.join('\n')}` : ''}`);
  if (LOCK_TIMEOUT.test(exit) || BUSY.test(exit)) return new HangarError('provider_error', detail);
  if (ALREADY_EXISTS.test(exit)) return new HangarError('already_exists', detail);
  return new HangarError('provider_task_failed', detail);
}
