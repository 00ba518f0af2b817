// Orchestration overhead of provisionVm on the dry-run provider, end to end through the real API,
// Temporal dev server, worker and PostgreSQL: POST /machines → workflow completed.
// Prints latency percentiles (sequential) and throughput at 1, 10 and 50 concurrent clients.
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { pino } from 'pino';
import pg from 'pg';
import { loadConfig } from '../cli/config.ts';
import { openOrm, migrateUp } from '../db/orm.ts';
import { issueToken } from '../db/repositories/tokens.ts';
import { startApiForBench } from './support.ts';
import { startWorker } from '../workers/worker.ts';

const adminUrl = readFileSync(process.env.BENCH_DATABASE_URL_FILE!, 'utf8').trim();
const dbUrl = new URL(adminUrl);
dbUrl.pathname = '/hangar_bench';
const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
await admin.query('drop database if exists hangar_bench with (force)');
await admin.query('create database hangar_bench');
await admin.end();

const config = loadConfig({
  env: {
    DATABASE_URL: dbUrl.toString(),
    TEMPORAL_ADDRESS: process.env.BENCH_TEMPORAL_ADDRESS!,
    HANGAR_LOG_LEVEL: 'silent',
    HANGAR_TASK_QUEUE: `bench-${randomUUID().slice(0, 8)}`,
    HANGAR_DB_POOL_SIZE: '30',
  },
  cwd: '/',
}).config;
const orm = await openOrm({ url: config.database.url, poolSize: 4 });
await migrateUp(orm);
const { token } = await issueToken(orm.em.fork(), 'bench', 'operator');
await orm.close();

const api = await startApiForBench(config);
const worker = await startWorker(config, pino({ level: 'silent' }));

async function provisionOnce(): Promise<number> {
  const started = performance.now();
  const res = await fetch(`${api.url}/api/v1/machines`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: `b-${randomUUID().slice(0, 12)}`, provider: 'dryrun', cpu: 1, memory_mb: 256, disk_gb: 1 }),
  });
  if (res.status !== 202) throw new Error(`POST failed: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { operation: { workflow_id: string } };
  await api.temporal.workflow.getHandle(body.operation.workflow_id).result();
  return performance.now() - started;
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

// Warm up: the first runs pay for bundle loading, connection set-up and JIT.
for (let i = 0; i < 5; i++) await provisionOnce();

const sequential: number[] = [];
for (let i = 0; i < 40; i++) sequential.push(await provisionOnce());
sequential.sort((a, b) => a - b);

const throughput: { concurrency: number; total: number; seconds: number; perSecond: number }[] = [];
for (const concurrency of [1, 10, 50]) {
  const total = concurrency === 1 ? 30 : 150;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < total) await provisionOnce();
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  throughput.push({ concurrency, total, seconds, perSecond: total / seconds });
}

console.log(`provisionVm on the dry-run provider — ${new Date().toISOString()}, ${cpus().length} cores, Node ${process.versions.node}`);
console.log(`steps per provision: 5 activities; API + worker in one process, Temporal dev server (SQLite), PostgreSQL`);
console.log('');
console.log(
  `POST → completed, sequential (n=${sequential.length}): p50 ${pct(sequential, 50).toFixed(0)} ms, p90 ${pct(sequential, 90).toFixed(0)} ms, p99 ${pct(sequential, 99).toFixed(0)} ms, max ${sequential.at(-1)!.toFixed(0)} ms`,
);
console.log(`target: < 1000 ms end to end → p99 is ${(pct(sequential, 99) / 1000).toFixed(2)}× the budget`);
console.log('');
console.log('concurrency  provisions  seconds  provisions/s');
for (const t of throughput)
  console.log(
    `${String(t.concurrency).padStart(11)}  ${String(t.total).padStart(10)}  ${t.seconds.toFixed(1).padStart(7)}  ${t.perSecond.toFixed(1).padStart(12)}`,
  );
const best = Math.max(...throughput.map((t) => t.perSecond));
console.log(`target: ≥ 20 provisions/s → best is ${(best / 20).toFixed(2)}× the target`);

await worker.shutdown();
await api.close();
