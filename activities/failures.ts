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

/** Wraps every activity so thrown HangarErrors cross into Temporal with their code intact. */
export function withFailureMapping<T extends AsyncFns>(fns: T): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(fns)) {
    wrapped[name] = async (...args: never[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        throw toActivityFailure(err);
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
