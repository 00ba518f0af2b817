// What keeps a jest worker process alive after a suite: the handles, requests and timers Node
// reports, plus what it cannot see (worker threads; Temporal's native runtimes, whose log channel
// holds the event loop open, and the dev servers the Temporal test kit spawns from Rust). Jest
// gives a worker 500 ms to exit once all suites are done; anything listed here at that point makes
// it force-exit the worker. The guard (./environment.ts) compares against a snapshot taken before
// each suite, so only what the suite itself left behind counts.
import { createRequire } from 'node:module';
import workerThreads from 'node:worker_threads';

/** Objects the guard tracks itself because `process.getActiveResourcesInfo()` cannot see them. */
interface Tracked {
  what: string;
  /** Where it was created: the first stack frame outside node_modules and this folder. */
  where: string;
}

interface Registry {
  live: Map<object, Tracked>;
  installed: boolean;
}

// One registry per process: jest loads this module once per suite, the patched natives are shared.
const REGISTRY_KEY = Symbol.for('hangar.leak-guard.registry');
const registry: Registry = ((globalThis as any)[REGISTRY_KEY] ??= { live: new Map(), installed: false });

function creationSite(): string {
  const frames = (new Error().stack ?? '').split('\n').slice(1);
  const own = frames.find((f) => !f.includes('node_modules') && !f.includes('leak-guard/live-resources') && f.includes('/'));
  return own ? own.trim().replace(/^at /, '') : 'unknown site';
}

function track(object: object, what: string): void {
  registry.live.set(object, { what, where: creationSite() });
}

function untrack(object: unknown): void {
  if (object && typeof object === 'object') registry.live.delete(object);
}

/** Wraps Temporal's native bridge so runtimes, workers, clients and ephemeral servers are counted while alive. */
function trackTemporalNatives(): void {
  let native: Record<string, (...args: any[]) => any>;
  try {
    // The bridge is @temporalio/worker's own dependency: resolve it from there.
    const fromTemporal = createRequire(createRequire(import.meta.url).resolve('@temporalio/worker'));
    const { getPrebuiltPath } = fromTemporal('@temporalio/core-bridge/common.js');
    // jest loads `.node` files with Node's own require, so every suite shares this exports object.
    native = fromTemporal(getPrebuiltPath());
  } catch {
    return; // no Temporal here: nothing to track
  }
  const wrap = (name: string, replace: (original: (...args: any[]) => any) => (...args: any[]) => any) => {
    const original = native[name];
    if (typeof original === 'function') native[name] = replace(original);
  };
  const created = (what: string) => (original: (...args: any[]) => any) =>
    function (this: unknown, ...args: any[]) {
      const result = original.apply(this, args);
      const record = (value: unknown) => {
        // newReplayWorker returns [worker, historyPusher]; the worker is what gets shut down.
        const object = Array.isArray(value) ? value[0] : value;
        if (object && typeof object === 'object') track(object, what);
        return value;
      };
      return result instanceof Promise ? result.then(record) : record(result);
    };
  const released = (original: (...args: any[]) => any) =>
    function (this: unknown, object: unknown, ...rest: any[]) {
      const result = original.call(this, object, ...rest);
      if (result instanceof Promise) return result.finally(() => untrack(object));
      untrack(object);
      return result;
    };
  wrap('newRuntime', created('a Temporal native runtime (its log channel keeps the process alive)'));
  wrap('runtimeShutdown', released);
  wrap('newClient', created('a Temporal NativeConnection'));
  wrap('clientClose', released);
  wrap('newWorker', created('a Temporal Worker'));
  wrap('newReplayWorker', created('a Temporal replay Worker'));
  wrap('workerFinalizeShutdown', released);
  wrap('newEphemeralServer', created('a Temporal ephemeral server (a child process)'));
  wrap('ephemeralServerShutdown', released);
}

/** Replaces worker_threads.Worker with a subclass that is tracked until its thread exits. */
function trackWorkerThreads(): void {
  const Original = workerThreads.Worker;
  class TrackedWorker extends Original {
    constructor(...args: ConstructorParameters<typeof Original>) {
      super(...args);
      track(this, `a worker thread (${String(args[0]).slice(0, 80)})`);
      this.once('exit', () => untrack(this));
    }
    override unref(): void {
      super.unref();
      untrack(this); // an unref'd thread does not hold the process
    }
  }
  (workerThreads as { Worker: typeof Original }).Worker = TrackedWorker;
}

/** Installs the trackers once per process; must run before the suite loads Temporal or starts threads. */
export function installTrackers(): void {
  if (registry.installed) return;
  registry.installed = true;
  trackTemporalNatives();
  trackWorkerThreads();
}

export interface Snapshot {
  handles: Set<unknown>;
  counts: Map<string, number>;
  tracked: Set<object>;
}

const activeHandles = (): unknown[] => (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();

function countTypes(types: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const t of types) counts.set(t, (counts.get(t) ?? 0) + 1);
  return counts;
}

export function snapshot(): Snapshot {
  return { handles: new Set(activeHandles()), counts: countTypes(process.getActiveResourcesInfo()), tracked: new Set(registry.live.keys()) };
}

// Types `getActiveResourcesInfo` reports for things that are not handles (timers and requests);
// handles are listed one by one from `_getActiveHandles()` instead, which says what they are.
const NOT_A_HANDLE = /^(Timeout|Immediate)$|Req|WriteWrap|ShutdownWrap|ConnectWrap|SendWrap|Promise/;

/** Jest's own: the IPC channel to the parent and the standard streams, opened lazily on first use. */
function ownedByJest(handle: unknown): boolean {
  return handle === process.stdout || handle === process.stderr || handle === process.stdin || handle === (process as { channel?: unknown }).channel;
}

function describeHandle(handle: any): string {
  const kind = handle?.constructor?.name ?? typeof handle;
  try {
    if (kind === 'Server' || typeof handle?.listen === 'function') {
      const address = handle.address?.();
      return `a server listening on ${typeof address === 'string' ? address : `${address?.address}:${address?.port}`}`;
    }
    if (kind === 'ChildProcess') return `a child process (pid ${handle.pid}: ${(handle.spawnargs ?? []).join(' ').slice(0, 120)})`;
    if (kind === 'Socket' || kind === 'TLSSocket') {
      if (handle.remotePort) return `a ${kind} to ${handle.remoteAddress}:${handle.remotePort} (from local port ${handle.localPort})`;
      return `a ${kind} (pipe or unconnected${handle._handle?.fd >= 0 ? `, fd ${handle._handle.fd}` : ''})`;
    }
  } catch {
    // fall through to the bare kind
  }
  return `a ${kind} handle`;
}

/** Everything alive now that was not alive at `before`, each named; empty when the suite cleaned up. */
export function leakedSince(before: Snapshot): string[] {
  const leaks: string[] = [];
  for (const handle of activeHandles()) {
    if (!before.handles.has(handle) && !ownedByJest(handle)) leaks.push(describeHandle(handle));
  }
  for (const [type, count] of countTypes(process.getActiveResourcesInfo())) {
    if (!NOT_A_HANDLE.test(type)) continue;
    const extra = count - (before.counts.get(type) ?? 0);
    if (extra > 0) leaks.push(`${extra} × ${type === 'Timeout' ? 'timer (setTimeout/setInterval not cleared or unref()d)' : type}`);
  }
  for (const [object, { what, where }] of registry.live) {
    if (!before.tracked.has(object)) leaks.push(`${what}, created at ${where}`);
  }
  return leaks;
}

/**
 * Waits up to `settleMs` for what the suite left to finish closing (a socket whose close is in
 * flight, a runtime shutting down after its last worker), then returns what is still alive.
 */
export async function leaksAfterSettling(before: Snapshot, settleMs: number, pollMs = 50): Promise<string[]> {
  const deadline = Date.now() + settleMs;
  for (;;) {
    const leaks = leakedSince(before);
    if (leaks.length === 0 || Date.now() >= deadline) return leaks;
    await new Promise((resolve) => setTimeout(resolve, pollMs).unref());
  }
}
