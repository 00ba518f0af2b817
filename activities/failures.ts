// Turns Hangar's typed errors into Temporal failures: the error code becomes the failure type, and
// codes that no retry can fix are raised non-retryable so the workflow moves on to compensation.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { HangarError } from '../domain/errors.ts';

export function toActivityFailure(err: unknown): unknown {
  if (err instanceof HangarError) {
    return ApplicationFailure.create({
      type: err.code,
      message: err.message,
      nonRetryable: !err.retryable,
      details: err.fields ? [err.fields] : [],
    });
  }
  return err;
}

type AsyncFns = Record<string, (...args: never[]) => Promise<unknown>>;

const HEARTBEAT_EVERY_MS = 5000;

/**
 * Wraps every activity so thrown HangarErrors cross into Temporal with their code intact, and
 * heartbeats while it runs: providers also beat on every poll, but a 30 s task-poll backoff must
 * not outlast the heartbeat timeout. The heartbeats are also what delivers a cancellation: the
 * server answers a heartbeat with it, and the SDK then aborts `activitySignal()`.
 */
export function withFailureMapping<T extends AsyncFns>(fns: T): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(fns)) {
    wrapped[name] = async (...args: never[]) => {
      const beat = setInterval(() => heartbeatIfInActivity(), HEARTBEAT_EVERY_MS);
      try {
        return await fn(...args);
      } catch (err) {
        // Cancelled: leave as the cancellation (the SDK then reports the activity cancelled, not
        // failed and retried), whatever error the aborted provider call surfaced with.
        const signal = activitySignal();
        if (signal?.aborted) throw signal.reason ?? err;
        throw toActivityFailure(err);
      } finally {
        clearInterval(beat);
      }
    };
  }
  return wrapped as T;
}

/** Heartbeats when called inside an activity; a no-op elsewhere (plans, tests of providers). */
export function heartbeatIfInActivity(details?: unknown): void {
  try {
    Context.current().heartbeat(details);
  } catch {
    // not inside an activity
  }
}

/**
 * The running activity's cancellation signal, handed to providers so that HTTP calls, child
 * processes, task polls and sleeps stop when the workflow cancels the activity; undefined outside
 * an activity (plans, provider tests).
 */
export function activitySignal(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined;
  }
}

/** `{ signal }` for a provider call (empty outside an activity). */
export function cancellable(): { signal?: AbortSignal } {
  const signal = activitySignal();
  return signal ? { signal } : {};
}
