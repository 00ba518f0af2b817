// Bulk address allocation through the real API and PostgreSQL (bench/run.sh bulk-leases):
//  a. one POST /api/v1/networks/:id/leases {count: 256} at a time: latency (goal p50 < 100 ms),
//     also for 1 and 1,024 addresses;
//  b. 50 concurrent bulk requests ({count: 64}) on one network: wall time, failures, duplicates
//     (goal 0), checked against the live rows in PostgreSQL.
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../cli/config.ts';
import { openOrm, migrateUp } from '../db/orm.ts';
import { issueToken } from '../db/repositories/tokens.ts';
import { startApiForBench } from './support.ts';
import { fmt, freshBenchDatabase, header, pct } from './measure.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 40);
const dbUrl = await freshBenchDatabase();
const config = loadConfig({
  env: {
    DATABASE_URL: dbUrl,
    TEMPORAL_ADDRESS: process.env.BENCH_TEMPORAL_ADDRESS!,
    HANGAR_LOG_LEVEL: 'silent',
    HANGAR_TASK_QUEUE: `bench-${randomUUID().slice(0, 8)}`,
    HANGAR_DB_POOL_SIZE: '20',
  },
  cwd: '/',
}).config;
const orm = await openOrm({ url: config.database.url, poolSize: 4 });
await migrateUp(orm);
const { token } = await issueToken(orm.em.fork(), 'bench', 'operator');
const api = await startApiForBench(config);
const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

async function post<T>(path: string, body: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${api.url}${path}`, { method: 'POST', headers: auth, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as T };
}

let subnet = 0;
async function network(): Promise<string> {
  // A /16 each: 65,534 addresses, room for every round of a size.
  const n = subnet++;
  const res = await post<{ id: string }>('/api/v1/networks', { name: `bulk-${n}-${randomUUID().slice(0, 6)}`, cidr: `10.${n}.0.0/16` });
  if (res.status !== 201) throw new Error(`network: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id;
}

type Batch = { items: { address: string }[] };

async function timedRounds(count: number): Promise<number[]> {
  const net = await network();
  const ms: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = performance.now();
    const res = await post<Batch>(`/api/v1/networks/${net}/leases`, { count });
    ms.push(performance.now() - t0);
    if (res.status !== 201 || res.body.items.length !== count) throw new Error(`count ${count}: ${res.status}`);
  }
  return ms.sort((a, b) => a - b);
}

const lines: string[] = [];
await timedRounds(64); // warm-up: connections, JIT, plan cache
for (const count of [1, 256, 1024]) {
  const ms = await timedRounds(count);
  const goal = count === 256 ? ` — GOAL p50 < 100 ms: ${pct(ms, 50) < 100 ? 'met' : 'missed'} (${fmt(pct(ms, 50) / 100, 2)}× the budget)` : '';
  lines.push(
    `  {count: ${String(count).padStart(4)}} × ${ROUNDS} one after another: p50 ${fmt(pct(ms, 50))} ms, p99 ${fmt(pct(ms, 99))} ms, max ${fmt(ms.at(-1)!)} ms (${fmt((count * 1000) / pct(ms, 50), 0)} addresses/s at p50)${goal}`,
  );
}

{
  const net = await network();
  const t0 = performance.now();
  const answers = await Promise.all(Array.from({ length: 50 }, () => post<Batch>(`/api/v1/networks/${net}/leases`, { count: 64 })));
  const wall = performance.now() - t0;
  const failed = answers.filter((a) => a.status !== 201).length;
  const got = answers.flatMap((a) => (a.status === 201 ? a.body.items.map((l) => l.address) : []));
  const [row] = await orm.em
    .fork()
    .getConnection()
    .execute<{ live: string; distinct: string }[]>(
      `select count(*) as live, count(distinct address) as distinct from ip_lease where network_id = ? and state <> 'released'`,
      [net],
    );
  lines.push(
    `  50 concurrent {count: 64} on one network: wall ${fmt(wall, 0)} ms, ${failed} failed, ${got.length} addresses answered, ` +
      `${row!.live} live rows, ${Number(row!.live) - Number(row!.distinct)} duplicates in PostgreSQL, ${got.length - new Set(got).size} in the answers (goal 0)`,
  );
}

await api.close();
await orm.close();
console.log(header('bulk leases (POST /api/v1/networks/:id/leases with count)'));
for (const l of lines) console.log(l);
