// Drift in /metrics: read from the database at scrape time, so every API process reports the
// same figures whichever worker ran the scans.
import type { MikroORM } from '@mikro-orm/postgresql';
import { Counter, Gauge, type Registry } from 'prom-client';
import { driftGauges } from '../db/repositories/drift.ts';

export function registerDriftMetrics(registry: Registry, orm: MikroORM): void {
  // One read per scrape feeds every drift metric: the first collect reads, the second reuses it.
  let pending: ReturnType<typeof driftGauges> | null = null;
  const read = () => {
    // The database down must not take the process metrics with it: /readyz reports the database.
    pending ??= driftGauges(orm.em)
      .catch(() => ({ open: [], lastCompleteScan: [], targets: [] }))
      .finally(() => {
        pending = null;
      });
    return pending;
  };
  new Gauge({
    name: 'hangar_drift_open',
    help: 'Open drift findings by kind and provider',
    labelNames: ['kind', 'provider'] as const,
    registers: [registry],
    async collect() {
      const { open } = await read();
      this.reset();
      for (const o of open) this.labels(o.kind, o.provider).set(o.count);
    },
  });
  new Gauge({
    name: 'hangar_drift_last_complete_scan_timestamp_seconds',
    help: "Time of each observer target's last complete scan",
    labelNames: ['target', 'provider'] as const,
    registers: [registry],
    async collect() {
      const { lastCompleteScan } = await read();
      this.reset();
      for (const s of lastCompleteScan) this.labels(s.target, s.provider).set(s.at);
    },
  });
  new Gauge({
    name: 'hangar_drift_scan_duration_seconds',
    help: "How long each observer target's last scan took",
    labelNames: ['target', 'provider'] as const,
    registers: [registry],
    async collect() {
      const { targets } = await read();
      this.reset();
      for (const t of targets) if (t.durationSec !== null) this.labels(t.target, t.provider).set(t.durationSec);
    },
  });
  // A counter kept in the target's row (scans run in workers, this process only serves it).
  new Counter({
    name: 'hangar_drift_scan_failures_total',
    help: 'Scans of each observer target that failed or were partial (a BMC, node or page that did not answer)',
    labelNames: ['target', 'provider'] as const,
    registers: [registry],
    async collect() {
      const { targets } = await read();
      this.reset();
      for (const t of targets) this.labels(t.target, t.provider).inc(t.failures);
    },
  });
}
