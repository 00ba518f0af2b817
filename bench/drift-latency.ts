// Detection latency of the Redfish observer: a provisioned host is powered off out of band
// through sushy-tools' own Redfish API, and the clock runs until its power_mismatch finding is
// open. Everything is real: the API, a worker applying the observer schedules at start-up with
// the default interval (drift.redfishIntervalSec, 30 s), Temporal's schedule (jitter included),
// PostgreSQL, the emulator. Run with: bench/run.sh drift-latency [runs]
//
// Two figures per run: from the power-off request, and from the moment the emulator reports the
// host off (its fake driver applies a power change 1–11 s after the request, like a slow BMC).
// Goal: p95 below the interval + 10 s (MAAS checks about every 5 minutes).
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import pg from 'pg';
import { loadConfig } from '../cli/config.ts';
import { openOrm, migrateUp } from '../db/orm.ts';
import { issueToken } from '../db/repositories/tokens.ts';
import { Host, Machine } from '../db/entities/index.ts';
import { startApiForBench } from './support.ts';
import { startWorker } from '../workers/worker.ts';
import { redfishGet, startSushy, type SushyEmulator } from '../test/support/sushy.ts';

const RUNS = Number(process.argv[2] ?? 12);
const HOSTS = 6;

const adminUrl = readFileSync(process.env.BENCH_DATABASE_URL_FILE!, 'utf8').trim();
const dbUrl = new URL(adminUrl);
dbUrl.pathname = '/hangar_bench_drift_latency';
const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
await admin.query('drop database if exists hangar_bench_drift_latency with (force)');
await admin.query('create database hangar_bench_drift_latency');
await admin.end();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;

async function power(bmc: SushyEmulator, path: string, resetType: 'On' | 'ForceOff'): Promise<void> {
  const res = await fetch(`${bmc.url}${path}/Actions/ComputerSystem.Reset`, {
    method: 'POST',
    headers: { Authorization: `Basic ${Buffer.from(`${bmc.username}:${bmc.password}`).toString('base64')}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ResetType: resetType }),
  });
  if (res.status >= 300) throw new Error(`reset ${resetType}: ${res.status}`);
}

/** Polls until check() answers; returns when (performance.now()) it first did. */
async function until(check: () => Promise<boolean>, everyMs: number, timeoutMs: number, what: string): Promise<number> {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    if (await check()) return performance.now();
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const bmc = await startSushy({ systems: Array.from({ length: HOSTS }, (_, i) => ({ name: `lat-${i}`, powerState: 'On' as const })) });
const config = loadConfig({
  env: {
    DATABASE_URL: dbUrl.toString(),
    TEMPORAL_ADDRESS: process.env.BENCH_TEMPORAL_ADDRESS!,
    HANGAR_LOG_LEVEL: 'silent',
    HANGAR_TASK_QUEUE: `bench-drift-${randomUUID().slice(0, 8)}`,
    HANGAR_DATA_DIR: process.env.HANGAR_DATA_DIR ?? '.data/bench',
    // Registration first; the worker that applies the schedules starts once the hosts are provisioned.
    HANGAR_DRIFT_SCHEDULES: 'false',
  },
  cwd: process.cwd(),
}).config;
const intervalSec = config.drift.redfishIntervalSec;
const orm = await openOrm({ url: config.database.url, poolSize: 4 });
await migrateUp(orm);
const { token } = await issueToken(orm.em.fork(), `bench-${randomUUID().slice(0, 6)}`, 'operator');
const api = await startApiForBench(config);
let worker = await startWorker(config, pino({ level: 'silent' }));
const call = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${api.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const json = (await res.json()) as any;
  if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
};

// Hosts registered through the API (inspected through the emulator), then marked provisioned with
// a machine, as provisioning leaves them (provisioning itself is bench/hosts.ts's subject).
const sql = orm.em.getConnection();
const hosts: { id: string; path: string }[] = [];
for (const [i, s] of bmc.systems.entries()) {
  const r = await call('POST', '/api/v1/hosts', {
    name: `lat-h${i}`,
    bmc_address: `redfish+http://127.0.0.1:${new URL(bmc.url).port}${s.path}`,
    username: bmc.username,
    password: bmc.password,
  });
  await api.temporal.workflow.getHandle(r.operation.workflow_id).result();
  const em = orm.em.fork();
  const machine = em.create(Machine, {
    id: randomUUID(),
    name: `lat-m${i}`,
    kind: 'baremetal',
    provider: 'redfish',
    providerId: r.host.id,
    cpu: 1,
    memoryMb: 512,
    diskGb: 1,
    metadataToken: 't',
    state: 'ready',
  });
  await em.flush();
  await em.nativeUpdate(Host, { id: r.host.id }, { state: 'provisioned', claimedBy: machine.id, claimedAt: new Date() });
  hosts.push({ id: r.host.id, path: s.path });
}
// The real schedule, as a production worker creates it at start-up.
await worker.shutdown();
worker = await startWorker({ ...config, drift: { ...config.drift, schedules: true } }, pino({ level: 'silent' }));

const openFinding = async (hostId: string) => {
  const rows = await sql.execute<{ at: number }[]>(
    `select extract(epoch from first_seen) * 1000 as at from drift_finding where resource_id = ? and kind = 'power_mismatch' and state = 'open'`,
    [hostId],
  );
  return rows[0] ? Number(rows[0].at) : null;
};

console.log(
  `drift-latency: ${RUNS} runs, ${HOSTS} provisioned hosts on one sushy-tools emulator, schedule interval ${intervalSec} s (jitter ${Math.max(1, Math.floor(intervalSec / 10))} s)`,
);
const fromRequest: number[] = [];
const fromOff: number[] = [];
for (let run = 0; run < RUNS; run++) {
  const host = hosts[run % HOSTS]!;
  // Not in step with the schedule: a random phase.
  await sleep(Math.random() * intervalSec * 1000);
  // A host used before must be judged back on (its earlier finding resolved) first.
  await until(async () => (await openFinding(host.id)) === null, 500, (intervalSec + 30) * 1000, 'the previous finding to resolve');
  const requestedAt = Date.now();
  const t0 = performance.now();
  await power(bmc, host.path, 'ForceOff');
  const offAtPerf = await until(async () => (await redfishGet(bmc, host.path)).PowerState === 'Off', 100, 30_000, 'the emulator to power off');
  const offAt = requestedAt + (offAtPerf - t0);
  let seenAt = 0;
  await until(
    async () => {
      const at = await openFinding(host.id);
      if (at !== null) seenAt = at;
      return at !== null;
    },
    100,
    (intervalSec * 3 + 30) * 1000,
    'the finding',
  );
  fromRequest.push((seenAt - requestedAt) / 1000);
  fromOff.push((seenAt - offAt) / 1000);
  console.log(
    `  run ${run + 1}: finding ${(seenAt - requestedAt) / 1000} s after the request, ${((seenAt - offAt) / 1000).toFixed(1)} s after the host went off`,
  );
  await power(bmc, host.path, 'On');
}
const line = (name: string, xs: number[]) =>
  `${name}: p50 ${pct(xs, 50).toFixed(1)} s, p95 ${pct(xs, 95).toFixed(1)} s, max ${Math.max(...xs).toFixed(1)} s (goal p95 < ${intervalSec + 10} s)`;
console.log(line('from the power-off request', fromRequest));
console.log(line('from the host going off   ', fromOff));

await worker.shutdown();
await api.temporal.schedule
  .getHandle(`${config.temporal.taskQueue}/reconcile/redfish:default`)
  .delete()
  .catch(() => undefined);
await api.temporal.schedule
  .getHandle(`${config.temporal.taskQueue}/reconcile/inventory`)
  .delete()
  .catch(() => undefined);
await api.close();
await orm.close();
await bmc.stop();
