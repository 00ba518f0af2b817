// Drift in /metrics: read from the database at scrape time, so every API process reports the
// same figures whichever worker ran the scans.
import type { MikroORM } from '@mikro-orm/postgresql';
import { Gauge, type Registry } from 'prom-client';
import { driftGauges } from '../db/repositories/drift.ts';

export function registerDriftMetrics(registry: Registry, orm: MikroORM): void {
  // One query per scrape feeds both gauges: the first collect reads, the second reuses it.
  let pending: ReturnType<typeof driftGauges> | null = null;
  const read = () => {
    // The database down must not take the process metrics with it: /readyz reports the database.
    pending ??= driftGauges(orm.em)
      .catch(() => ({ open: [], lastCompleteScan: [] }))
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
}
