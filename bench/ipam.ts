// IPAM throughput and block-page cost, against the bench PostgreSQL (bench/run.sh ipam).
//  a. leases/s at the database layer: allocateLease() directly, 1 / 10 / 100 concurrent callers
//  b. leases/s through HTTP: POST /api/v1/networks/:id/leases, 1 / 10 / 100 keep-alive clients
//  c. block page latency: GET /api/v1/pools/:id/blocks for a /16 at /24, a /8 at /30 and an IPv6
//     /32 at /64, whose cost must not depend on the size of the range (O(page), never O(range))
// Every run allocates on a fresh network and checks afterwards that no address was handed out twice.
// Diagnostic rows (marked diag:) spread the callers over 10 networks, or turn off the WAL flush, to
// show where the time goes. Each measured run first waits for the machine to be idle.
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../cli/config.ts';
import { openOrm, migrateUp } from '../db/orm.ts';
import { Network, type INetwork } from '../db/entities/index.ts';
import { allocateLease } from '../db/repositories/leases.ts';
import { issueToken } from '../db/repositories/tokens.ts';
import { parseCidr } from '../domain/cidr.ts';
import { countBlocks, enumerateBlocks, type BlockStatusFilter } from '../domain/blocks.ts';
import { children, usedRanges } from '../db/repositories/pools.ts';
import { encodeCursor } from '../api/pagination.ts';
import { startApiForBench } from './support.ts';
import { cpuMeter, describeCpu, fmt, freshBenchDatabase, header, pct, waitForQuiet } from './measure.ts';

const CONCURRENCY = [1, 10, 100] as const;
/** Leases per run: a /20 has 4,093 assignable addresses (network, broadcast and gateway excluded). */
const LEASES_PER_RUN = 3000;
/** No run goes on longer than this, whatever its rate; the rate is then over what finished. */
const RUN_DEADLINE_MS = 60_000;
const DB_TARGET = 1000;
const HTTP_TARGET = 300;
const POOL_SIZE = 30;

const dbUrl = await freshBenchDatabase();
const config = loadConfig({
  env: {
    DATABASE_URL: dbUrl,
    TEMPORAL_ADDRESS: process.env.BENCH_TEMPORAL_ADDRESS!,
    HANGAR_LOG_LEVEL: 'silent',
    HANGAR_TASK_QUEUE: `bench-${randomUUID().slice(0, 8)}`,
    HANGAR_DB_POOL_SIZE: String(POOL_SIZE),
  },
  cwd: '/',
}).config;
const orm = await openOrm({ url: config.database.url, poolSize: POOL_SIZE });
await migrateUp(orm);
const { token } = await issueToken(orm.em.fork(), 'bench', 'operator');

let subnet = 0;
/** The next unused /20 under 10.100.0.0/14 (gateway .1), one per network. */
function nextSubnet(): { cidr: string; gateway: string } {
  const third = (subnet % 16) * 16;
  const second = 100 + Math.floor(subnet / 16);
  subnet++;
  return { cidr: `10.${second}.${third}.0/20`, gateway: `10.${second}.${third}.1` };
}

async function duplicates(networkIds: string[]): Promise<{ live: number; distinct: number }> {
  // Per network: the same address in two networks is not a duplicate.
  const [row] = await orm.em
    .fork()
    .getConnection()
    .execute<{ live: number; distinct: number }[]>(
      `select count(*)::int as live, count(distinct (network_id, address))::int as distinct
     from ip_lease where network_id in (select jsonb_array_elements_text(?::jsonb)::uuid) and state <> 'released'`,
      [JSON.stringify(networkIds)],
    );
  return row!;
}

interface RunResult {
  label: string;
  ok: number;
  failed: number;
  firstError: string | null;
  seconds: number;
  perSecond: number;
  /** Leases/s over the first and the last 20 % of the run's allocations (the network fills up as it goes). */
  earlyRate: number;
  lateRate: number;
  p50: number;
  p99: number;
  live: number;
  distinct: number;
  cpu: string;
  quiet: string | null;
}

/**
 * Runs `total` calls with `concurrency` callers, bounded by RUN_DEADLINE_MS. Caller k always
 * allocates in networks[k % networks.length].
 */
async function drive(label: string, concurrency: number, total: number, networks: string[], once: (networkIndex: number) => Promise<void>): Promise<RunResult> {
  const latencies: number[] = [];
  const doneAt: number[] = [];
  let issued = 0;
  let failed = 0;
  let firstError: string | null = null;
  const quiet = label === 'warm-up' ? null : await waitForQuiet();
  const meter = cpuMeter({}, 'bench process (API + callers)');
  const t0 = performance.now();
  const stopAt = t0 + RUN_DEADLINE_MS;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, k) => {
      while (issued < total && performance.now() < stopAt) {
        issued++;
        const started = performance.now();
        try {
          await once(k % networks.length);
          const now = performance.now();
          latencies.push(now - started);
          doneAt.push(now - t0);
        } catch (err) {
          failed++;
          firstError ??= err instanceof Error ? err.message : String(err);
        }
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = describeCpu(meter.stop());
  latencies.sort((a, b) => a - b);
  doneAt.sort((a, b) => a - b);
  const fifth = Math.max(1, Math.floor(doneAt.length / 5));
  const rateOver = (from: number, to: number) => (to - from) / ((doneAt[to - 1]! - (from === 0 ? 0 : doneAt[from - 1]!)) / 1000);
  const { live, distinct } = await duplicates(networks);
  return {
    label,
    ok: latencies.length,
    failed,
    firstError,
    seconds,
    perSecond: latencies.length / seconds,
    earlyRate: rateOver(0, fifth),
    lateRate: rateOver(doneAt.length - fifth, doneAt.length),
    p50: pct(latencies, 50),
    p99: pct(latencies, 99),
    live,
    distinct,
    cpu,
    quiet,
  };
}

function printRuns(title: string, runs: RunResult[], target: number, targetRuns: number): void {
  console.log(title);
  console.log('run                                     leases  failed  seconds  leases/s  first 20 %  last 20 %  p50 ms  p99 ms  live rows  duplicates');
  for (const r of runs) {
    console.log(
      [
        r.label.padEnd(38),
        String(r.ok).padStart(7),
        String(r.failed).padStart(7),
        fmt(r.seconds).padStart(8),
        fmt(r.perSecond, 0).padStart(9),
        fmt(r.earlyRate, 0).padStart(11),
        fmt(r.lateRate, 0).padStart(10),
        fmt(r.p50).padStart(7),
        fmt(r.p99).padStart(7),
        String(r.live).padStart(10),
        String(r.live - r.distinct).padStart(11),
      ].join(' '),
    );
  }
  for (const r of runs) {
    console.log(`  ${r.label}: ${r.cpu}`);
    if (r.firstError) console.log(`  ${r.label}: first error: ${r.firstError}`);
    if (r.quiet) console.log(`  ${r.label}: ${r.quiet}`);
  }
  const main = runs.slice(0, targetRuns);
  const best = Math.max(...main.map((r) => r.perSecond));
  const worst = Math.min(...main.map((r) => r.perSecond));
  const dup = runs.reduce((n, r) => n + (r.live - r.distinct), 0);
  const lost = runs.filter((r) => r.live !== r.ok).map((r) => `${r.label}: ${r.live} rows for ${r.ok} successful calls`);
  console.log(
    `target: ≥ ${target} leases/s on one network → best ${fmt(best, 0)}/s is ${(best / target).toFixed(2)}× the target, worst ${fmt(worst, 0)}/s is ${(worst / target).toFixed(2)}×; duplicates: ${dup}${lost.length ? `; MISMATCH ${lost.join('; ')}` : ''}`,
  );
  console.log('');
}

console.log(header('IPAM'));
console.log(`PostgreSQL pool ${POOL_SIZE} connections; ${LEASES_PER_RUN} leases per run on a fresh /20, each run capped at ${RUN_DEADLINE_MS / 1000} s`);
console.log('');

// ---------------------------------------------------------------------------------------------
// a. Database layer

async function createNetworkRow(name: string): Promise<INetwork> {
  const { cidr, gateway } = nextSubnet();
  const em = orm.em.fork();
  const network = em.create(Network, { id: randomUUID(), name, cidr, gateway });
  await em.flush();
  return network;
}

// Warm-up: JIT, pool connections, plan cache.
{
  const warm = await createNetworkRow('warm-db');
  await drive('warm-up', 10, 300, [warm.id], async () => {
    await allocateLease(orm.em.fork(), warm, {});
  });
}

const dbRuns: RunResult[] = [];
for (const c of CONCURRENCY) {
  const network = await createNetworkRow(`db-c${c}`);
  dbRuns.push(
    await drive(`${c} caller(s), one network`, c, LEASES_PER_RUN, [network.id], async () => {
      await allocateLease(orm.em.fork(), network, {});
    }),
  );
}
// Diagnostics. (1) The same 100 callers over 10 networks: allocation in one network is serialised
// by its row lock, so this shows what the lock costs. (2) One caller with synchronous_commit=off
// for this database only: what the WAL flush at each commit (held under the lock) costs.
{
  const networks: INetwork[] = [];
  for (let i = 0; i < 10; i++) networks.push(await createNetworkRow(`db-spread-${i}`));
  dbRuns.push(
    await drive(
      'diag: 100 callers over 10 networks',
      100,
      10 * LEASES_PER_RUN,
      networks.map((n) => n.id),
      async (i) => {
        await allocateLease(orm.em.fork(), networks[i]!, {});
      },
    ),
  );
}
{
  await orm.em.getConnection().execute('alter database hangar_bench set synchronous_commit = off', [], 'run');
  const unsynced = await openOrm({ url: config.database.url, poolSize: 4 });
  const network = await createNetworkRow('db-nosync');
  dbRuns.push(
    await drive('diag: 1 caller, synchronous_commit=off', 1, LEASES_PER_RUN, [network.id], async () => {
      await allocateLease(unsynced.em.fork(), network, {});
    }),
  );
  await unsynced.close();
  await orm.em.getConnection().execute('alter database hangar_bench reset synchronous_commit', [], 'run');
}
printRuns('a. allocateLease(em, network, {}) — database layer, lowest free address', dbRuns, DB_TARGET, CONCURRENCY.length);

// ---------------------------------------------------------------------------------------------
// b. HTTP

const api = await startApiForBench(config);
const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

async function post<T>(path: string, body: unknown, expect = 201): Promise<T> {
  const res = await fetch(`${api.url}${path}`, { method: 'POST', headers: auth, body: JSON.stringify(body) });
  const text = await res.text();
  if (res.status !== expect) throw new Error(`POST ${path} → ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

async function createNetworkHttp(name: string): Promise<string> {
  return (await post<{ id: string }>('/api/v1/networks', { name, ...nextSubnet() })).id;
}

{
  const warm = await createNetworkHttp('warm-http');
  await drive('warm-up', 10, 300, [warm], async () => {
    await post(`/api/v1/networks/${warm}/leases`, {});
  });
}

const httpRuns: RunResult[] = [];
for (const c of CONCURRENCY) {
  const id = await createNetworkHttp(`http-c${c}`);
  httpRuns.push(
    await drive(`${c} client(s), one network`, c, LEASES_PER_RUN, [id], async () => {
      await post(`/api/v1/networks/${id}/leases`, {});
    }),
  );
}
{
  const ids: string[] = [];
  for (let i = 0; i < 10; i++) ids.push(await createNetworkHttp(`http-spread-${i}`));
  httpRuns.push(
    await drive('diag: 100 clients over 10 networks', 100, 10 * LEASES_PER_RUN, ids, async (i) => {
      await post(`/api/v1/networks/${ids[i]!}/leases`, {});
    }),
  );
}
printRuns('b. POST /api/v1/networks/:id/leases — real API (in this process), keep-alive fetch clients', httpRuns, HTTP_TARGET, CONCURRENCY.length);

// ---------------------------------------------------------------------------------------------
// c. Block pages

interface BlockPage {
  items: { cidr: string; status: string }[];
  next_cursor: string | null;
  counts: { total: string; used: string; free: string };
}

const pools = {
  v4_16: await post<{ id: string }>('/api/v1/pools', { name: 'bench-16', cidr: '10.0.0.0/16' }),
  v4_8: await post<{ id: string }>('/api/v1/pools', { name: 'bench-8', cidr: '11.0.0.0/8' }),
  v6_32: await post<{ id: string }>('/api/v1/pools', { name: 'bench-v6', cidr: '2001:db8::/32' }),
};
const allocations: Record<keyof typeof pools, unknown[]> = {
  v4_16: [{ prefix_length: 24 }, { prefix_length: 24 }, { prefix_length: 26 }, { prefix_length: 22 }, { cidr: '10.0.128.0/20' }, { prefix_length: 24 }],
  v4_8: [{ prefix_length: 16 }, { prefix_length: 24 }, { prefix_length: 30 }, { prefix_length: 30 }, { cidr: '11.128.0.0/12' }, { prefix_length: 20 }],
  v6_32: [{ prefix_length: 48 }, { prefix_length: 56 }, { prefix_length: 64 }, { prefix_length: 64 }, { cidr: '2001:db8:8000::/34' }, { prefix_length: 40 }],
};
for (const [key, list] of Object.entries(allocations) as [keyof typeof pools, unknown[]][]) {
  for (const body of list) await post(`/api/v1/pools/${pools[key].id}/allocations`, body);
}

/** Cursor that starts a page just before `cidr` (the server's cursor is the previous block's network address). */
function cursorBefore(cidr: string): string {
  const c = parseCidr(cidr);
  return encodeCursor((c.network - 1n).toString());
}

interface BlockCase {
  label: string;
  path: string;
  samples: number[];
  counts?: BlockPage['counts'];
  /** Used blocks on the page: they cost more than free ones (owners are looked up). */
  usedOnPage?: number;
}
const q = (pool: keyof typeof pools, prefix: number, status: string, cursor?: string) =>
  `/api/v1/pools/${pools[pool].id}/blocks?prefix_length=${prefix}&page_size=100&status=${status}${cursor ? `&cursor=${cursor}` : ''}`;
const cases: BlockCase[] = [
  { label: '/16 @ /24, status=all', path: q('v4_16', 24, 'all'), samples: [] },
  { label: '/16 @ /24, status=free', path: q('v4_16', 24, 'free'), samples: [] },
  { label: '/8 @ /30, status=all', path: q('v4_8', 30, 'all'), samples: [] },
  { label: '/8 @ /30, status=free', path: q('v4_8', 30, 'free'), samples: [] },
  { label: '/8 @ /30, free, mid-range cursor', path: q('v4_8', 30, 'free', cursorBefore('11.128.0.0/30')), samples: [] },
  { label: 'v6 /32 @ /64, status=all', path: q('v6_32', 64, 'all'), samples: [] },
  { label: 'v6 /32 @ /64, status=free', path: q('v6_32', 64, 'free'), samples: [] },
  { label: 'v6 /32 @ /64, free, mid-range cursor', path: q('v6_32', 64, 'free', cursorBefore('2001:db8:8000::/64')), samples: [] },
];

async function getPage(c: BlockCase): Promise<number> {
  const started = performance.now();
  const res = await fetch(`${api.url}${c.path}`, { headers: auth });
  const text = await res.text();
  const ms = performance.now() - started;
  if (res.status !== 200) throw new Error(`GET ${c.path} → ${res.status} ${text.slice(0, 300)}`);
  const body = JSON.parse(text) as BlockPage;
  if (body.items.length !== 100 || body.next_cursor === null)
    throw new Error(`${c.label}: expected a full page with a next cursor, got ${body.items.length} items`);
  c.counts = body.counts;
  c.usedOnPage = body.items.filter((b) => b.status === 'used').length;
  return ms;
}

const WARMUP = 50;
const ITERATIONS = 1000;
for (let i = 0; i < WARMUP; i++) for (const c of cases) await getPage(c);
const blockQuiet = await waitForQuiet();
const blockMeter = cpuMeter({}, 'bench process (API + client)');
// Interleaved, so background noise falls on every case alike.
for (let i = 0; i < ITERATIONS; i++) for (const c of cases) c.samples.push(await getPage(c));
const blockCpu = describeCpu(blockMeter.stop());

console.log(`c. GET /api/v1/pools/:id/blocks, page_size=100, sequential, ${ITERATIONS} timed requests per case after ${WARMUP} warm-up (client-side latency)`);
console.log('case                                    p50 ms  p90 ms  p99 ms  blocks in range  used blocks  used on page');
const stats = new Map<string, { p50: number; p90: number; p99: number }>();
for (const c of cases) {
  const sorted = [...c.samples].sort((a, b) => a - b);
  const s = { p50: pct(sorted, 50), p90: pct(sorted, 90), p99: pct(sorted, 99) };
  stats.set(c.label, s);
  console.log(
    `${c.label.padEnd(38)} ${fmt(s.p50, 2).padStart(7)} ${fmt(s.p90, 2).padStart(7)} ${fmt(s.p99, 2).padStart(7)} ${(c.counts?.total ?? '?').padStart(16)} ${(c.counts?.used ?? '?').padStart(12)} ${String(c.usedOnPage ?? '?').padStart(13)}`,
  );
}
console.log(`  ${blockCpu}`);
if (blockQuiet) console.log(`  ${blockQuiet}`);
const ratio = (a: string, b: string) => {
  const x = stats.get(a)!;
  const y = stats.get(b)!;
  return `p50 ${(x.p50 / y.p50).toFixed(2)}×, p90 ${(x.p90 / y.p90).toFixed(2)}×, p99 ${(x.p99 / y.p99).toFixed(2)}×`;
};
console.log('target: O(page) — same cost as /16 @ /24 (ratio ≈ 1×):');
for (const status of ['all', 'free']) {
  console.log(
    `  status=${status}: /8 @ /30 vs /16 @ /24: ${ratio(`/8 @ /30, status=${status}`, `/16 @ /24, status=${status}`)}; v6 /32 @ /64 vs /16 @ /24: ${ratio(`v6 /32 @ /64, status=${status}`, `/16 @ /24, status=${status}`)}`,
  );
}
console.log(
  `  mid-range cursor, free: /8 @ /30 vs /16 @ /24: ${ratio('/8 @ /30, free, mid-range cursor', '/16 @ /24, status=free')}; v6 vs /16 @ /24: ${ratio('v6 /32 @ /64, free, mid-range cursor', '/16 @ /24, status=free')}`,
);

// The same pages without HTTP and PostgreSQL: enumerateBlocks + countBlocks as the route calls
// them, on the pools' real children. This isolates the part whose cost must not grow with the range.
const pure = [
  { label: '/16 @ /24', pool: 'v4_16', cidr: '10.0.0.0/16', prefix: 24 },
  { label: '/8 @ /30', pool: 'v4_8', cidr: '11.0.0.0/8', prefix: 30 },
  { label: 'v6 /32 @ /64', pool: 'v6_32', cidr: '2001:db8::/32', prefix: 64 },
] as const;
const PURE_ITERATIONS = 20_000;
console.log('');
console.log(`   enumerateBlocks + countBlocks in process (page_size 100, ${PURE_ITERATIONS} calls each, mean µs per page):`);
const pureMeans = new Map<string, number>();
for (const status of ['all', 'free'] as BlockStatusFilter[]) {
  for (const p of pure) {
    const used = usedRanges(await children(orm.em.fork(), pools[p.pool].id));
    const range = parseCidr(p.cidr);
    let usedOnPage = 0;
    const once = () => {
      const page = enumerateBlocks({ pool: range, prefixLength: p.prefix, used, status, after: null, limit: 100 });
      countBlocks(range, p.prefix, used);
      usedOnPage = page.items.filter((b) => b.status === 'used').length;
      return page.items.length;
    };
    for (let i = 0; i < 2000; i++) once();
    const t0 = performance.now();
    let items = 0;
    for (let i = 0; i < PURE_ITERATIONS; i++) items += once();
    const us = ((performance.now() - t0) * 1000) / PURE_ITERATIONS;
    if (items !== 100 * PURE_ITERATIONS) throw new Error(`${p.label}: pages were not full`);
    pureMeans.set(`${p.label}/${status}`, us);
    console.log(`   ${`${p.label}, status=${status}`.padEnd(28)} ${fmt(us, 1).padStart(7)} µs  (${usedOnPage} used blocks on the page)`);
  }
  const base = pureMeans.get(`/16 @ /24/${status}`)!;
  console.log(
    `   status=${status}: /8 @ /30 is ${(pureMeans.get(`/8 @ /30/${status}`)! / base).toFixed(2)}×, v6 /32 @ /64 is ${(pureMeans.get(`v6 /32 @ /64/${status}`)! / base).toFixed(2)}× the /16 @ /24 cost`,
  );
}

await api.close();
await orm.close();
