// Boot storm (bench/run.sh boot-storm): 1,000 dry-run machines provisioned with a phone-home wait,
// then "booted" at once: each does what cloud-init's NoCloud datasource and phone_home module do —
// GET meta-data, user-data, vendor-data, network-config one after another, then POST phone-home —
// and each phone-home signals its own waiting provisionVm workflow. Reports failed requests (goal
// 0), metadata latency during the storm (goal p99 < 50 ms), and the time from the storm's start to
// the last machine `ready`. API and worker run in this process, as in the other benchmarks.
//
//   bash bench/run.sh boot-storm        (BENCH_MACHINES=1000)
import { randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { pino } from 'pino';
import http from 'node:http';
import { loadConfig } from '../cli/config.ts';
import { openOrm, migrateUp } from '../db/orm.ts';
import { issueToken } from '../db/repositories/tokens.ts';
import { startWorker } from '../workers/worker.ts';
import { startApiForBench } from './support.ts';
import { fmt, freshBenchDatabase, header, pct } from './measure.ts';

const MACHINES = Number(process.env.BENCH_MACHINES ?? 1000);
const CREATE_CLIENTS = 25;
const DOCS = ['meta-data', 'user-data', 'vendor-data', 'network-config'] as const;

const dbUrl = await freshBenchDatabase();
const config = loadConfig({
  env: {
    DATABASE_URL: dbUrl,
    TEMPORAL_ADDRESS: process.env.BENCH_TEMPORAL_ADDRESS!,
    HANGAR_LOG_LEVEL: 'silent',
    HANGAR_TASK_QUEUE: `bench-storm-${randomUUID().slice(0, 8)}`,
    HANGAR_DB_POOL_SIZE: '30',
    HANGAR_PHONE_HOME_TIMEOUT: '30m',
  },
  cwd: '/',
}).config;
const orm = await openOrm({ url: config.database.url, poolSize: 4 });
await migrateUp(orm);
const { token } = await issueToken(orm.em.fork(), 'bench', 'operator');
const api = await startApiForBench(config);
const worker = await startWorker(config, pino({ level: 'silent' }));
const sql = async <T>(q: string, params: unknown[] = []): Promise<T> => (await orm.em.fork().getConnection().execute(q, params)) as T;

// 1. Provision MACHINES dry-run machines that wait for their phone-home.
const machines: { id: string; token: string }[] = [];
const createStarted = performance.now();
let next = 0;
await Promise.all(
  Array.from({ length: CREATE_CLIENTS }, async () => {
    while (next++ < MACHINES) {
      const post = () =>
        fetch(`${api.url}/api/v1/machines`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            name: `storm-${randomUUID().slice(0, 12)}`,
            provider: 'dryrun',
            cpu: 1,
            memory_mb: 256,
            disk_gb: 1,
            wait_for_phone_home: true,
          }),
        });
      let res = await post();
      // A dev server just started may not serve its namespace yet (503): set-up, not the storm.
      for (let tries = 0; res.status === 503 && tries < 60; tries++) {
        await new Promise((r) => setTimeout(r, 1000));
        res = await post();
      }
      if (res.status !== 202) throw new Error(`POST /machines: ${res.status} ${await res.text()}`);
      const body = (await res.json()) as { machine: { id: string }; metadata_token: string };
      machines.push({ id: body.machine.id, token: body.metadata_token });
    }
  }),
);
// Every VM started (the workflows now wait for their phone-home).
for (;;) {
  const [row] = await sql<{ n: string }[]>(`select count(*) as n from dryrun_vm where power_state = 'running'`);
  if (Number(row!.n) >= MACHINES) break;
  await new Promise((r) => setTimeout(r, 200));
}
const createSeconds = (performance.now() - createStarted) / 1000;

// 2. The storm: every machine boots at once; one connection each, as separate guests would have.
const agent = new http.Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
const target = new URL(api.url);
const metadataMs: number[] = [];
const phoneHomeMs: number[] = [];
const failures: string[] = [];
function call(method: 'GET' | 'POST', path: string, body?: string): Promise<{ status: number; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: target.hostname,
        port: target.port,
        method,
        path,
        agent,
        headers: body ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } : {},
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
      },
    );
    req.on('error', (err) => {
      failures.push(`${method} ${path.split('/').at(-1)}: ${err.message}`);
      resolve({ status: 0, ms: performance.now() - t0 });
    });
    req.end(body);
  });
}

const stormStart = performance.now();
let lastPhoneHome = 0;
await Promise.all(
  machines.map(async (m, i) => {
    const base = `/cloud-init/${m.id}/${m.token}`;
    for (const doc of DOCS) {
      const r = await call('GET', `${base}/${doc}`);
      metadataMs.push(r.ms);
      if (r.status !== 200 && r.status !== 0) failures.push(`GET ${doc}: ${r.status}`);
    }
    // cloud-init retries a failed phone-home; every failure still counts.
    for (let attempt = 0; attempt < 5; attempt++) {
      const r = await call('POST', `${base}/phone-home`, `instance_id=${m.id}&hostname=storm-${i}`);
      phoneHomeMs.push(r.ms);
      if (r.status === 200) break;
      if (r.status !== 0) failures.push(`POST phone-home: ${r.status}`);
      await new Promise((res) => setTimeout(res, 200));
    }
    lastPhoneHome = Math.max(lastPhoneHome, performance.now());
  }),
);
const requestsDone = performance.now();
let lastReady = requestsDone;
for (;;) {
  const [row] = await sql<{ n: string }[]>(`select count(*) as n from machine where state = 'ready'`);
  lastReady = performance.now();
  if (Number(row!.n) >= MACHINES) break;
  if (lastReady - stormStart > 600_000) throw new Error(`only ${row!.n} of ${MACHINES} machines ready after 10 minutes`);
  await new Promise((r) => setTimeout(r, 20));
}
const [failedMachines] = await sql<{ n: string }[]>(`select count(*) as n from machine where state = 'failed'`);

metadataMs.sort((a, b) => a - b);
phoneHomeMs.sort((a, b) => a - b);
const s = (ms: number) => `${fmt(ms / 1000, 2)} s`;
console.log(header('boot storm (dry-run machines, cloud-init request pattern)'));
console.log(`${MACHINES} machines, ${cpus().length} cores; API + worker in one process, Temporal dev server, PostgreSQL; one HTTP connection per machine`);
console.log(`  set-up: ${MACHINES} provisions waiting for phone-home in ${fmt(createSeconds, 1)} s (${CREATE_CLIENTS} clients)`);
console.log(
  `  storm start → last phone-home answered ${s(lastPhoneHome - stormStart)}, → last machine ready ${s(lastReady - stormStart)}; ${MACHINES * (DOCS.length + 1)} requests, ${fmt((MACHINES * (DOCS.length + 1)) / ((lastPhoneHome - stormStart) / 1000), 0)} req/s`,
);
console.log(
  `  metadata GETs (n=${metadataMs.length}): p50 ${fmt(pct(metadataMs, 50))} ms, p99 ${fmt(pct(metadataMs, 99))} ms, max ${fmt(metadataMs.at(-1)!)} ms — GOAL p99 < 50 ms: ${pct(metadataMs, 99) < 50 ? 'met' : `missed (${fmt(pct(metadataMs, 99) / 50, 2)}×)`}`,
);
console.log(
  `  phone-home POSTs (n=${phoneHomeMs.length}): p50 ${fmt(pct(phoneHomeMs, 50))} ms, p99 ${fmt(pct(phoneHomeMs, 99))} ms, max ${fmt(phoneHomeMs.at(-1)!)} ms`,
);
console.log(
  `  failed requests: ${failures.length} (goal 0)${failures.length ? `; first: ${failures.slice(0, 3).join(' | ')}` : ''}; machines failed: ${failedMachines!.n}`,
);

agent.destroy();
await worker.shutdown();
await api.close();
await orm.close();
