// The process logger (pino writing to stderr): one per process, built by the composition root.
import { pino, type Logger } from 'pino';
import { REDACT_PATHS } from '../domain/logging.ts';

export type { Logger };

/** One structured logger per process; secrets are censored by path before anything is written. */
export function createLogger(level: string, name: string, destination?: pino.DestinationStream): Logger {
  return pino(
    { name, level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { pid: process.pid } },
    destination ?? pino.destination({ fd: 2, sync: false }),
  );
}
