// Write, read back, compare: BMCs are known to answer 200/204 and not apply a change. A write
// that did not stick is re-applied (bounded) before giving up with bmc_write_not_persisted naming
// what the BMC reported. Transient write failures are not thrown straight away: the read-back
// decides whether the write happened.
import { HangarError } from '../../domain/errors.ts';
import type { BmcConnection } from './connection.ts';
import type { WriteResult } from './types.ts';

const WRITE_ATTEMPTS = 3;

export interface VerifiedWrite<T> {
  what: string;
  write: () => Promise<void>;
  read: () => Promise<T>;
  matches: (v: T) => boolean;
  describe: (v: T) => string;
  fields: (v: T) => Record<string, string>;
}

export async function writeVerified<T>(conn: BmcConnection, w: VerifiedWrite<T>): Promise<WriteResult> {
  let last: T | undefined;
  let lastError: HangarError | undefined;
  let anyWriteAccepted = false;
  for (let attempt = 1; attempt <= WRITE_ATTEMPTS; attempt++) {
    try {
      await w.write();
      anyWriteAccepted = true;
      lastError = undefined;
    } catch (err) {
      if (!(err instanceof HangarError) || !err.retryable) throw err;
      lastError = err;
      conn.log.warn({ attempt, err: { code: err.code, message: conn.scrub(err.message) } }, `${w.what}: write failed transiently; reading back`);
    }
    // Read back; one settle delay and a second read before deciding the write did not stick.
    for (let read = 1; read <= 2; read++) {
      last = await w.read();
      if (w.matches(last)) return { changed: true, writes: attempt };
      if (read === 1) await conn.wait(Math.min(conn.retry.initialMs, conn.pollMs));
    }
    conn.log.warn({ attempt, reported: w.describe(last!) }, `${w.what}: BMC accepted the write but it did not persist; re-applying`);
    if (attempt < WRITE_ATTEMPTS) await conn.wait(conn.backoffMs(attempt));
  }
  if (lastError && !anyWriteAccepted) throw lastError;
  throw new HangarError(
    'bmc_write_not_persisted',
    `${w.what} did not persist after ${WRITE_ATTEMPTS} writes: BMC reports ${w.describe(last!)}`,
    w.fields(last!),
  );
}
