// Bounded concurrency per BMC. BMCs are small embedded web servers that fall over (or drop sessions)
// under parallel load, so every request to one BMC endpoint goes through one semaphore shared by
// all RedfishClient instances in the process (module-level map keyed by the endpoint's origin).

export class Semaphore {
  #max: number;
  #active = 0;
  #queue: Array<() => void> = [];
  #peak = 0;

  constructor(max: number) {
    this.#max = Math.max(1, Math.floor(max));
  }

  get max(): number {
    return this.#max;
  }
  get active(): number {
    return this.#active;
  }
  get waiting(): number {
    return this.#queue.length;
  }
  /** Highest number of simultaneous holders seen. */
  get peak(): number {
    return this.#peak;
  }

  /** Lowers the limit (never raises it): the most cautious client wins. */
  tighten(max: number): void {
    this.#max = Math.max(1, Math.min(this.#max, Math.floor(max)));
  }

  async acquire(): Promise<() => void> {
    if (this.#active >= this.#max) {
      await new Promise<void>((resolve) => this.#queue.push(resolve));
    } else {
      this.#active += 1;
    }
    this.#peak = Math.max(this.#peak, this.#active);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#queue.shift();
      // Hand the slot straight to the next waiter, or give it back.
      if (next) next();
      else this.#active -= 1;
    };
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

const limiters = new Map<string, Semaphore>();

/** The shared limiter of one BMC endpoint; a later client asking for fewer slots lowers the limit. */
export function bmcLimiter(origin: string, maxConcurrency: number): Semaphore {
  let limiter = limiters.get(origin);
  if (!limiter) {
    limiter = new Semaphore(maxConcurrency);
    limiters.set(origin, limiter);
  } else {
    limiter.tighten(maxConcurrency);
  }
  return limiter;
}

/** Forgets all limiters (tests only). */
export function resetBmcLimiters(): void {
  limiters.clear();
}
