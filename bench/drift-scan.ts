// Scan cost of the hypervisor observer against the dry-run provider with 1,000 and 10,000 ready
// machines, each with its pretend VM in the ledger (the bench seeds both with one statement each:
// that is how the dry-run provider gets a large listable inventory). Measures the scan activity
// (list the inventory page by page, read the machine records, compare, apply under the target's
// advisory lock): time per scan, SQL statements per scan (counted at the pg driver, so every
// begin/commit and lock counts), and rows each scan wrote, split into findings and the target's
// scan row. Goal: an unchanged scan writes 0 finding rows; 10,000 machines in under 10 s.
// Then 1 % of the VMs are stopped out of band: the first scan opens their findings, the next ones
// again write none. Run with `bench/run.sh drift-scan`.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { loadConfig } from '../cli/config.ts';
import { createMachineDriftActivities } from '../activities/machine-drift-activities.ts';
import { openOrm, migrateUp } from '../db/orm.ts';
import { PgDryRunLedger } from '../db/repositories/dryrun-ledger.ts';
import { DryRunProvider } from '../providers/dryrun/dryrun-provider.ts';
import { fmt, freshBenchDatabase, header, pct, waitForQuiet } from './measure.ts';

const SIZES = [1000, 10_000] as const;
const SCANS = 5;
const TARGET_SECONDS = 10;

// Every statement any pooled connection sends, with the rows an insert/update/delete touched.
const counter = { statements: 0, written: new Map<string, number>() };
const originalQuery = pg.Client.prototype.query as (...args: unknown[]) => Promise<unknown>;
(pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown }).query = function (this: pg.Client, ...args: unknown[]) {
  counter.statements++;
  const text = typeof args[0] === 'string' ? args[0] : ((args[0] as { text?: string } | undefined)?.text ?? '');
  const table = /^\s*(?:insert\s+into|update|delete\s+from)\s+"?(\w+)"?/i.exec(text)?.[1];
  const result = originalQuery.apply(this, args);
  if (table && result && typeof (result as Promise<unknown>).then === 'function') {
    void (result as Promise<{ rowCount?: number | null }>).then(
      (r) => counter.written.set(table, (counter.written.get(table) ?? 0) + (r?.rowCount ?? 0)),
      () => undefined,
    );
  }
  return result;
};

const dbUrl = await freshBenchDatabase();
const config = loadConfig({
  env: { DATABASE_URL: dbUrl, TEMPORAL_ADDRESS: process.env.BENCH_TEMPORAL_ADDRESS!, HANGAR_LOG_LEVEL: 'silent' },
  cwd: '/',
}).config;
const orm = await openOrm({ url: config.database.url, poolSize: 10 });
await migrateUp(orm);
const conn = orm.em.getConnection();
const provider = new DryRunProvider(new PgDryRunLedger(orm.em));
const acts = createMachineDriftActivities({ orm, providers: { dryrun: provider }, taskQueue: 'bench', shutdownTimeoutSec: 5 });

async function seed(count: number): Promise<void> {
  await conn.execute(`delete from drift_finding; delete from drift_scan_target; delete from dryrun_vm; delete from machine`);
  await conn.execute(
    `insert into machine (id, name, provider, state, cpu, memory_mb, disk_gb, provider_id, power_state, metadata_token, created_at, updated_at)
     select id, 'bench-' || n, 'dryrun', 'ready', 2, 1024, 10, 'dry-' || id, 'running', 't', now(), now()
     from (select gen_random_uuid() as id, n from generate_series(1, ?) as n) s`,
    [count],
  );
  await conn.execute(
    `insert into dryrun_vm (id, machine_id, name, cpu, memory_mb, disk_gb, power_state, created_at)
     select provider_id, id, name, cpu, memory_mb, disk_gb, 'running', now() from machine`,
  );
  await conn.execute(`analyze machine; analyze dryrun_vm`);
}

interface ScanFigures {
  ms: number;
  statements: number;
  findingRows: number;
  otherRows: number;
  opened: number;
}

async function measuredScan(target: string): Promise<ScanFigures> {
  counter.statements = 0;
  counter.written.clear();
  const started = performance.now();
  const summary = await acts.scanMachines({ provider: 'dryrun', target, policy: 'observe' });
  const ms = performance.now() - started;
  await new Promise((r) => setImmediate(r));
  const findingRows = counter.written.get('drift_finding') ?? 0;
  const all = [...counter.written.values()].reduce((a, b) => a + b, 0);
  return { ms, statements: counter.statements, findingRows, otherRows: all - findingRows, opened: summary.opened };
}

const summarise = (runs: ScanFigures[]) => {
  const times = runs.map((r) => r.ms).sort((a, b) => a - b);
  return {
    p50: pct(times, 50),
    max: times.at(-1)!,
    statements: Math.max(...runs.map((r) => r.statements)),
    findingRows: Math.max(...runs.map((r) => r.findingRows)),
    otherRows: Math.max(...runs.map((r) => r.otherRows)),
  };
};

console.log(header('drift-scan'));
const quiet = await waitForQuiet();
if (quiet) console.log(`(machine not idle: ${quiet})`);
const rows: string[] = [];
for (const size of SIZES) {
  await seed(size);
  const target = `dryrun-bench-${randomUUID().slice(0, 8)}`;
  await measuredScan(target); // warm-up: plans cached, pool connected
  const unchanged: ScanFigures[] = [];
  for (let i = 0; i < SCANS; i++) unchanged.push(await measuredScan(target));
  const u = summarise(unchanged);
  rows.push(
    `| ${size.toLocaleString('en')} | unchanged (×${SCANS}) | ${fmt(u.p50 / 1000, 2)} s | ${fmt(u.max / 1000, 2)} s | ${u.statements} | ${u.findingRows} | ${u.otherRows} | ${u.max / 1000 < TARGET_SECONDS ? 'met' : 'MISSED'} |`,
  );

  // 1 % of the VMs stopped behind Hangar's back.
  await conn.execute(`update dryrun_vm set power_state = 'stopped' where id in (select id from dryrun_vm order by id limit ?)`, [Math.ceil(size / 100)]);
  const drifted = await measuredScan(target);
  rows.push(
    `| ${size.toLocaleString('en')} | 1 % stopped: first scan (${drifted.opened} opened) | ${fmt(drifted.ms / 1000, 2)} s | – | ${drifted.statements} | ${drifted.findingRows} | ${drifted.otherRows} | |`,
  );
  const after: ScanFigures[] = [];
  for (let i = 0; i < SCANS; i++) after.push(await measuredScan(target));
  const a = summarise(after);
  rows.push(
    `| ${size.toLocaleString('en')} | 1 % stopped: later scans (×${SCANS}) | ${fmt(a.p50 / 1000, 2)} s | ${fmt(a.max / 1000, 2)} s | ${a.statements} | ${a.findingRows} | ${a.otherRows} | |`,
  );
}

console.log('\n| machines | scan | time p50 | max | statements | finding rows written | other rows written | < 10 s |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
await orm.close();
