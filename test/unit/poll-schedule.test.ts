// The two wait schedules: watching a running task (fast first poll, gap growing with the time
// waited, capped) and backing off after failed calls (2 s → 30 s), driven by an injected clock
// and sleep so no timer runs.
import { describe, expect, it } from '@jest/globals';
import { HangarError } from '../../domain/errors.ts';
import { nextWatchDelay, retryDelay, WATCH_DEFAULTS, watchTimes } from '../../providers/support/poll-schedule.ts';
import { waitForTask } from '../../providers/proxmox/task-wait.ts';
import type { ProxmoxClient, TaskStatus } from '../../providers/proxmox/client.ts';
import { silentLogger } from '../../providers/proxmox/client.ts';

const UPID = 'UPID:pve1:00001234:00005678:6560A000:qmclone:100:hangar@pve!ci:';

/** A fake clock and a sleep that advances it, recording every pause. */
function virtualTime() {
  let t = 0;
  const sleeps: number[] = [];
  return {
    now: () => t,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      t += ms;
    },
    sleeps,
  };
}

/** A client whose task status call answers from the virtual clock: running until `endsAt`. */
function taskClient(clock: { now: () => number }, endsAt: number, failAt: (call: number) => boolean = () => false) {
  const polls: number[] = [];
  let calls = 0;
  const client = {
    get: async (path: string): Promise<TaskStatus> => {
      if (!path.endsWith('/status')) throw new Error(`unexpected call ${path}`);
      calls++;
      polls.push(clock.now());
      if (failAt(calls)) throw new HangarError('provider_error', 'got no worker');
      return clock.now() >= endsAt ? { upid: UPID, node: 'pve1', status: 'stopped', exitstatus: 'OK' } : { upid: UPID, node: 'pve1', status: 'running' };
    },
    scrub: (s: string) => s,
  } as unknown as ProxmoxClient;
  return { client, polls };
}

describe('watch schedule', () => {
  it('polls first after firstMs, then grows with the time waited, never beyond maxMs', () => {
    const s = { firstMs: 100, maxMs: 1000, ratio: 0.2 };
    expect(nextWatchDelay(0, s)).toBe(100);
    expect(nextWatchDelay(400, s)).toBe(100);
    expect(nextWatchDelay(1000, s)).toBe(200);
    expect(nextWatchDelay(4000, s)).toBe(800);
    expect(nextWatchDelay(60_000, s)).toBe(1000);
    const times = watchTimes(10_000, s);
    const gaps = times.map((t, i) => t - (times[i - 1] ?? 0));
    expect(gaps[0]).toBe(100);
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]!).toBeGreaterThanOrEqual(gaps[i - 1]!);
    expect(Math.max(...gaps)).toBe(1000);
  });

  it('sees a task end within a tenth of its run (or the first gap), for short and long tasks', () => {
    for (const duration of [50, 300, 1000, 3000, 10_000, 120_000]) {
      const seenAt = watchTimes(duration, WATCH_DEFAULTS).at(-1)!;
      expect(seenAt).toBeGreaterThanOrEqual(duration);
      expect(seenAt - duration).toBeLessThanOrEqual(Math.max(WATCH_DEFAULTS.firstMs, Math.min(WATCH_DEFAULTS.maxMs, duration * WATCH_DEFAULTS.ratio)));
    }
  });

  it('a first gap larger than the cap is capped', () => {
    expect(nextWatchDelay(0, { firstMs: 5000, maxMs: 1000, ratio: 0.2 })).toBe(1000);
  });
});

describe('retry backoff for failed calls', () => {
  it('is 2 s, doubling, at most 30 s', () => {
    expect([1, 2, 3, 4, 5, 6, 40].map((n) => retryDelay(n))).toEqual([2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });
});

describe('waitForTask on a virtual clock', () => {
  const settings = (clock: ReturnType<typeof virtualTime>) => ({
    pollInitialMs: WATCH_DEFAULTS.firstMs,
    pollMaxMs: WATCH_DEFAULTS.maxMs,
    timeoutMs: 3_600_000,
    maxFailures: 6,
    hooks: { sleep: clock.sleep, now: clock.now },
    logger: silentLogger,
  });

  it('observes a 3 s clone at the first short poll after it ends', async () => {
    const clock = virtualTime();
    const { client, polls } = taskClient(clock, 3000);
    await expect(waitForTask(client, settings(clock), 'pve1', UPID)).resolves.toMatchObject({ exitstatus: 'OK' });
    const seenAt = polls.at(-1)!;
    const before = polls.at(-2)!;
    expect(before).toBeLessThan(3000);
    expect(seenAt).toBeGreaterThanOrEqual(3000);
    // The gap that straddled the end was a tenth of the time waited, not a doubling backoff.
    expect(seenAt - before).toBe(nextWatchDelay(before, WATCH_DEFAULTS));
    expect(seenAt - 3000).toBeLessThanOrEqual(600);
    // The old schedule (2 s, doubling) saw it at 6 s after two polls.
    expect(polls[0]).toBe(0);
    expect(polls[1]).toBe(WATCH_DEFAULTS.firstMs);
  });

  it('a task already ended is seen by the very first poll, without a sleep', async () => {
    const clock = virtualTime();
    const { client, polls } = taskClient(clock, 0);
    await waitForTask(client, settings(clock), 'pve1', UPID);
    expect(polls).toEqual([0]);
    expect(clock.sleeps).toEqual([]);
  });

  it('backs off 2 s → 4 s only after failed status calls, then watches fast again', async () => {
    const clock = virtualTime();
    const { client, polls } = taskClient(clock, 60_000, (n) => n === 2 || n === 3);
    await waitForTask(client, settings(clock), 'pve1', UPID);
    expect(clock.sleeps.slice(0, 3)).toEqual([100, 2000, 4000]);
    // After a good answer the gap is the watch schedule's again (≤ 1 s), not the backoff's.
    expect(clock.sleeps[3]!).toBeLessThanOrEqual(WATCH_DEFAULTS.maxMs);
    expect(Math.max(...clock.sleeps.slice(3))).toBe(WATCH_DEFAULTS.maxMs);
    expect(polls.at(-1)! - 60_000).toBeLessThanOrEqual(WATCH_DEFAULTS.maxMs);
  });

  it('gives up after maxFailures consecutive failed status calls', async () => {
    const clock = virtualTime();
    const { client, polls } = taskClient(clock, 60_000, () => true);
    await expect(waitForTask(client, settings(clock), 'pve1', UPID)).rejects.toMatchObject({ code: 'provider_error' });
    expect(polls).toHaveLength(6);
    expect(clock.sleeps).toEqual([2000, 4000, 8000, 16_000, 30_000]);
  });
});
