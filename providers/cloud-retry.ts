// Retrying cloud calls: throttling (AWS RequestLimitExceeded/Throttling, HTTP 429, GCP
// rateLimitExceeded) and 5xx are retried with exponential backoff and full jitter (2 s → 30 s in
// production), validation and auth errors never. The SDKs' own retries are switched off so this is
// the one policy; the sleep is injectable so tests run the same loop without waiting.
import { sleep as timerSleep, throwIfAborted } from './support/sleep.ts';

export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export interface CloudRetryOptions {
  initialMs: number;
  maxMs: number;
  /** Total tries, the first included. */
  attempts: number;
  sleep?: Sleep;
  /** 0..1 source for the jitter (default Math.random); tests pin it. */
  random?: () => number;
}

export const PRODUCTION_RETRY: CloudRetryOptions = { initialMs: 2000, maxMs: 30_000, attempts: 8 };

/** The delay before retry number `retry` (0-based): full jitter over min(max, initial·2^retry). */
export function backoffDelay(retry: number, opts: Pick<CloudRetryOptions, 'initialMs' | 'maxMs' | 'random'>): number {
  const ceiling = Math.min(opts.maxMs, opts.initialMs * 2 ** retry);
  // Half fixed, half random: never zero (a burst of clients would retry at once), never above the ceiling.
  return Math.round(ceiling / 2 + (opts.random ?? Math.random)() * (ceiling / 2));
}

/** Runs `call` until it succeeds, fails with an error `retryable` refuses, or the attempts run out. */
export async function withCloudRetry<T>(
  call: () => Promise<T>,
  retryable: (err: unknown) => boolean,
  opts: CloudRetryOptions,
  signal?: AbortSignal,
): Promise<T> {
  const wait = opts.sleep ?? timerSleep;
  for (let attempt = 0; ; attempt++) {
    throwIfAborted(signal);
    try {
      return await call();
    } catch (err) {
      if (signal?.aborted || attempt + 1 >= opts.attempts || !retryable(err)) throw err;
      await wait(backoffDelay(attempt, opts), signal);
    }
  }
}
