// The fetch record (machine.metadata_fetches): which seed documents a machine read, when and from where.
import type { Logger } from 'pino';
import type { SeedFileName } from '../../domain/cloud-init.ts';
import type { FetchCount } from '../../db/repositories/metadata.ts';

type FetchWriter = (counts: FetchCount[]) => Promise<void>;

interface FetchState {
  doc: SeedFileName;
  machineId: string;
  /** When the key was last written or last fetched, for forgetting idle keys. */
  touchedAt: number;
  /** Fetches seen since the last write. */
  pending: number;
  lastAt: string;
  from: string;
}

/**
 * Records fetches in machine.metadata_fetches. The metadata endpoint must sustain ≥ 5,000
 * req/s, and a machine (or a cloud-init retry loop) re-reading its seed should not turn every
 * read into a row update that serialises on the machine's row. The first fetch of a key is
 * written before the response (a provision's diagnosis may read it at once); later fetches are
 * counted in memory and written by a sweep once a second, all keys in one statement, so no
 * request waits on the database and the database sees one write per second, not one per key.
 * Counts are exact while the process lives; at most the last second's are lost if it dies —
 * acceptable for a diagnostic counter. A clean shutdown loses none: close() writes what is still
 * counted, and waits for writes in flight, before the caller closes the ORM. The map only holds
 * keys touched in the last seconds.
 */
export class FetchRecorder {
  static readonly THROTTLE_MS = 1000;
  private readonly states = new Map<string, FetchState>();
  private timer: NodeJS.Timeout | null = null;
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;
  private readonly write: FetchWriter;
  private readonly log: Logger;

  constructor(write: FetchWriter, log: Logger) {
    this.write = write;
    this.log = log;
  }

  async record(machineId: string, doc: SeedFileName, from: string): Promise<void> {
    const key = `${machineId}/${doc}`;
    const now = Date.now();
    const lastAt = new Date(now).toISOString();
    // After close() nothing sweeps any more: write each fetch at once.
    if (this.closed) return this.flush([{ machineId, doc, count: 1, lastAt, from }]);
    const state = this.states.get(key);
    this.arm();
    if (state) {
      state.pending++;
      state.lastAt = lastAt;
      state.from = from;
      state.touchedAt = now;
      return;
    }
    this.states.set(key, { doc, machineId, touchedAt: now, pending: 0, lastAt, from });
    await this.flush([{ machineId, doc, count: 1, lastAt, from }]);
  }

  /** Writes every count not yet written and waits for writes in flight; later fetches are written at once. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const due = this.takePending();
    this.states.clear();
    if (due.length > 0) void this.flush(due);
    await Promise.all(this.inFlight);
  }

  private flush(counts: FetchCount[]): Promise<void> {
    const write = this.write(counts).catch((err: unknown) => {
      // Serving the seed matters more than counting it.
      this.log.warn({ err, keys: counts.length }, 'could not record metadata fetches');
    });
    this.inFlight.add(write);
    return write.finally(() => this.inFlight.delete(write));
  }

  /** The counts not yet written; their keys stay, at zero, until idle. */
  private takePending(): FetchCount[] {
    const due: FetchCount[] = [];
    for (const s of this.states.values()) {
      if (s.pending === 0) continue;
      due.push({ machineId: s.machineId, doc: s.doc, count: s.pending, lastAt: s.lastAt, from: s.from });
      s.pending = 0;
    }
    return due;
  }

  private arm(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => this.sweep(), FetchRecorder.THROTTLE_MS);
    // Never keeps the process alive on its own.
    this.timer.unref();
  }

  private sweep(): void {
    this.timer = null;
    const now = Date.now();
    for (const [key, s] of this.states) {
      if (s.pending === 0 && now - s.touchedAt >= FetchRecorder.THROTTLE_MS) this.states.delete(key);
    }
    const due = this.takePending();
    if (due.length > 0) void this.flush(due);
    if (this.states.size) this.arm();
  }
}
