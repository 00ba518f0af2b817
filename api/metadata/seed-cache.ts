// Booting fleets fetch the same few documents many times in a burst: keep each rendered
// document for a moment (bounded, insertion-ordered eviction), so repeated reads skip the query
// and the YAML rendering. The token is still checked, in constant time, on every request (by the
// caller; an entry carries the token it was rendered for).
// A document read after a random point in the second half of its life (random, so that entries
// filled together do not all refresh together) is re-read in the background, one query per key
// at a time: under steady load no request waits for an expired entry, and an entry older than
// cacheMs is never served.
import type { Logger } from 'pino';
import type { SeedFileName } from '../../domain/cloud-init.ts';

export interface CachedSeed {
  /** When the row behind the body was read (ms since the epoch). */
  at: number;
  /** After this, a read triggers a background refresh. */
  refreshAt: number;
  token: string;
  body: string;
}

/** Reads and renders a document again; null when the machine is gone. */
export type SeedLoader = (machineId: string, doc: SeedFileName) => Promise<{ token: string; body: string } | null>;

export class SeedCache {
  static readonly MAX_CACHED = 20_000;
  private readonly rendered = new Map<string, CachedSeed>();
  private readonly refreshing = new Set<string>();
  readonly cacheMs: number;
  private readonly load: SeedLoader;
  private readonly log: Pick<Logger, 'debug'>;

  constructor(cacheMs: number, load: SeedLoader, log: Pick<Logger, 'debug'>) {
    this.cacheMs = cacheMs;
    this.load = load;
    this.log = log;
  }

  get enabled(): boolean {
    return this.cacheMs > 0;
  }

  /** The entry for the document if it is younger than cacheMs; starts a refresh when it is due. */
  fresh(machineId: string, doc: SeedFileName, now: number): CachedSeed | undefined {
    if (!this.enabled) return undefined;
    const hit = this.rendered.get(key(machineId, doc));
    if (!hit || now - hit.at >= this.cacheMs) return undefined;
    return hit;
  }

  /** Starts the background re-read of an entry once its refresh point has passed. */
  refreshAhead(machineId: string, doc: SeedFileName, hit: CachedSeed, now: number): void {
    const k = key(machineId, doc);
    if (now < hit.refreshAt || this.refreshing.has(k)) return;
    this.refreshing.add(k);
    const started = Date.now();
    void this.load(machineId, doc)
      .then((seed) => {
        if (!seed) this.rendered.delete(k);
        else this.remember(machineId, doc, started, seed.token, seed.body);
      })
      .catch((err: unknown) => {
        // The entry simply expires and the next request takes the normal path.
        this.log.debug({ err, machineId, doc }, 'background seed refresh failed');
      })
      .finally(() => this.refreshing.delete(k));
  }

  remember(machineId: string, doc: SeedFileName, at: number, token: string, body: string): void {
    if (!this.enabled) return;
    const k = key(machineId, doc);
    this.rendered.delete(k);
    this.rendered.set(k, { at, refreshAt: at + this.cacheMs * (0.5 + Math.random() * 0.4), token, body });
    if (this.rendered.size > SeedCache.MAX_CACHED) this.rendered.delete(this.rendered.keys().next().value!);
  }
}

const key = (machineId: string, doc: SeedFileName) => `${machineId}:${doc}`;
