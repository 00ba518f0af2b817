// An open-loop load generator with evenly spaced arrivals, for "p99 at N req/s" figures.
//
// autocannon's `overallRate` lets each connection send its per-second quota as fast as it can and
// then idle until the next second, so a paced autocannon run measures bursts of the whole quota
// at once. Here request i is due at start + i/rate whatever happened to earlier ones, and its
// latency is counted from that due time (so a stalled server is not excused by a stalled
// generator: no coordinated omission). Requests beyond the keep-alive pool wait in the agent's
// queue, and that wait is part of their latency too.
import http from 'node:http';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

export interface PacedResult {
  total: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  codes: Map<string, number>;
  /** The generator's own event-loop delay (p99 and max, ms): its stalls count against the server. */
  loopP99: number;
  loopMax: number;
}

export async function pacedLoad(opts: {
  base: string;
  paths: string[];
  rate: number;
  durationS: number;
  connections: number;
  timeoutMs?: number;
  /** Reuse a warm keep-alive pool (the caller destroys it); otherwise one is made and destroyed. */
  agent?: http.Agent;
}): Promise<PacedResult> {
  const url = new URL(opts.base);
  const agent = opts.agent ?? new http.Agent({ keepAlive: true, maxSockets: opts.connections });
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const planned = Math.floor(opts.rate * opts.durationS);
  const latencies = new Float64Array(planned);
  const codes = new Map<string, number>();
  let done = 0;
  let non2xx = 0;
  let errors = 0;
  let timeouts = 0;
  let sent = 0;
  const start = performance.now();

  await new Promise<void>((resolve) => {
    const settle = (i: number, due: number) => {
      latencies[i] = performance.now() - due;
      if (++done === planned) resolve();
    };
    const fire = (i: number) => {
      const due = start + (i * 1000) / opts.rate;
      const req = http.get({ agent, host: url.hostname, port: url.port, path: opts.paths[i % opts.paths.length] }, (res) => {
        res.on('data', () => {});
        res.on('end', () => {
          const code = String(res.statusCode);
          codes.set(code, (codes.get(code) ?? 0) + 1);
          if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) non2xx++;
          settle(i, due);
        });
      });
      let timedOut = false;
      req.setTimeout(opts.timeoutMs ?? 10_000, () => {
        timedOut = true;
        timeouts++;
        req.destroy(new Error('timeout'));
      });
      req.on('error', () => {
        if (!timedOut) errors++;
        settle(i, due);
      });
    };
    const tick = () => {
      const due = Math.min(planned, Math.floor(((performance.now() - start) * opts.rate) / 1000));
      while (sent < due) fire(sent++);
      if (sent < planned) setTimeout(tick, 0);
    };
    tick();
  });

  const elapsedS = (performance.now() - start) / 1000;
  loop.disable();
  if (!opts.agent) agent.destroy();
  const sorted = latencies.sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
  return {
    total: planned,
    rps: planned / elapsedS,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: sorted[sorted.length - 1] ?? 0,
    non2xx,
    errors,
    timeouts,
    codes,
    loopP99: loop.percentile(99) / 1e6,
    loopMax: loop.max / 1e6,
  };
}
