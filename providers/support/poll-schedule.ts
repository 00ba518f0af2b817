// Two different waits, two schedules. Watching something that is running (a Proxmox task, a VM
// lock, a shutdown, a BMC task) polls fast and grows the gap with the time already waited, so
// the end is seen within a tenth of the wait: a 3 s clone is seen about 0.1–0.3 s after it
// ends, not 3 s later. Retrying a call that *failed* backs off 2 s → 30 s, so a struggling API
// is not hammered. Both are pure functions of a count or the time waited: tests drive them with
// an injected clock and sleep, without timers.

export interface WatchSchedule {
  /** Gap before the first poll. */
  firstMs: number;
  /** Longest gap between polls, however long the wait. */
  maxMs: number;
  /** Gap as a share of the time waited so far (0.1: the end is seen at most ~10 % late). */
  ratio: number;
}

/** Proxmox's web UI and Terraform provider poll about once a second; we start faster. */
export const WATCH_DEFAULTS: WatchSchedule = { firstMs: 100, maxMs: 1_000, ratio: 0.1 };

/** The gap before the next poll of something running, `elapsedMs` after the wait began. */
export function nextWatchDelay(elapsedMs: number, s: WatchSchedule): number {
  const first = Math.max(1, Math.min(s.firstMs, s.maxMs));
  return Math.round(Math.min(s.maxMs, Math.max(first, Math.max(0, elapsedMs) * s.ratio)));
}

export interface RetryBackoff {
  initialMs: number;
  maxMs: number;
}

/** Retrying failed calls: 2 s, doubled per failure, at most 30 s (domain/retry.ts uses the same). */
export const RETRY_BACKOFF: RetryBackoff = { initialMs: 2_000, maxMs: 30_000 };

/** The pause after the `failures`-th consecutive failure (1-based). */
export function retryDelay(failures: number, b: RetryBackoff = RETRY_BACKOFF): number {
  const n = Math.max(1, Math.floor(failures));
  return Math.min(b.maxMs, b.initialMs * 2 ** Math.min(n - 1, 30));
}

/** The poll times (ms after the start) the schedule gives until `untilMs`, for docs and tests. */
export function watchTimes(untilMs: number, s: WatchSchedule): number[] {
  const times: number[] = [];
  let t = 0;
  while (t < untilMs) {
    t += nextWatchDelay(t, s);
    times.push(t);
  }
  return times;
}
