// Detection latency of the observers, from an out-of-band change to the open finding, with the
// real schedules at their default intervals (30 s for Redfish and QEMU), Temporal's jitter
// included. Everything is real: the API, a worker that applies the schedules at start-up,
// Temporal, PostgreSQL, sushy-tools, qemu-system.
//   redfish: a provisioned host is powered off through sushy-tools' own Redfish API. Two figures
//            per run: from the power-off request, and from the moment the emulator reports the
//            host off (its fake driver applies a power change 1–11 s after the request).
//   qemu:    a VM provisioned through the API (blank disk: it sits in its firmware) is killed with
//            kill -9; it is started again through the API between runs.
// Run with: bench/run.sh drift-latency [runs] [redfish|qemu|both]
// Goal: p95 below the interval + 10 s (MAAS checks about every 5 minutes).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import pg from 'pg';
import type { MikroORM } from '@mikro-orm/postgresql';
import { loadConfig } from '../cli/config.ts';
import { openOrm, migrateUp } from '../db/orm.ts';
import { issueToken } from '../db/repositories/tokens.ts';
import { Host, Machine } from '../db/entities/index.ts';
import { startApiForBench } from './support.ts';
import { startWorker } from '../workers/worker.ts';
import { redfishGet, startSushy, type SushyEmulator } from '../test/support/sushy.ts';

const RUNS = Number(process.argv[2] ?? 12);
const MODE = process.argv[3] ?? 'both';
const HOSTS = 6;
const VMS = 3;

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

/** The bench's configuration: its own task queue; schedules are applied by a later worker start. */
function benchConfig(extra: Record<string, string> = {}) {
  return loadConfig({
    env: {
      DATABASE_URL: dbUrl.toString(),
      TEMPORAL_ADDRESS: process.env.BENCH_TEMPORAL_ADDRESS!,
      HANGAR_LOG_LEVEL: 'silent',
      HANGAR_TASK_QUEUE: `bench-drift-${randomUUID().slice(0, 8)}`,
      HANGAR_DATA_DIR: process.env.HANGAR_DATA_DIR ?? '.data/bench',
      HANGAR_DRIFT_SCHEDULES: 'false',
      ...extra,
    },
    cwd: process.cwd(),
  }).config;
}

async function startHangar(config: ReturnType<typeof benchConfig>) {
  const orm = await openOrm({ url: config.database.url, poolSize: 4 });
  await migrateUp(orm);
  const { token } = await issueToken(orm.em.fork(), `bench-${randomUUID().slice(0, 6)}`, 'operator');
  const api = await startApiForBench(config);
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
  return { orm, api, call };
}

async function deleteSchedules(api: Awaited<ReturnType<typeof startApiForBench>>, config: ReturnType<typeof benchConfig>) {
  for await (const s of api.temporal.schedule.list())
    if (s.scheduleId.startsWith(`${config.temporal.taskQueue}/`))
      await api.temporal.schedule
        .getHandle(s.scheduleId)
        .delete()
        .catch(() => undefined);
}

/** When the resource's open power_mismatch finding was first seen (epoch ms), or null. */
async function openFindingAt(sql: ReturnType<MikroORM['em']['getConnection']>, resourceId: string): Promise<number | null> {
  const rows = await sql.execute<{ at: number }[]>(
    `select extract(epoch from first_seen) * 1000 as at from drift_finding where resource_id = ? and kind = 'power_mismatch' and state = 'open'`,
    [resourceId],
  );
  return rows[0] ? Number(rows[0].at) : null;
}

const summary = (name: string, xs: number[], intervalSec: number) =>
  `${name}: p50 ${pct(xs, 50).toFixed(1)} s, p95 ${pct(xs, 95).toFixed(1)} s, max ${Math.max(...xs).toFixed(1)} s (goal p95 < ${intervalSec + 10} s)`;

async function redfishLatency(): Promise<void> {
  const bmc = await startSushy({ systems: Array.from({ length: HOSTS }, (_, i) => ({ name: `lat-${i}`, powerState: 'On' as const })) });
  const config = benchConfig({});
  const intervalSec = config.drift.redfishIntervalSec;
  const { orm, api, call } = await startHangar(config);
  let worker = await startWorker(config, pino({ level: 'silent' }));

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

  const openFinding = (hostId: string) => openFindingAt(sql, hostId);

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
  console.log(summary('redfish, from the power-off request', fromRequest, intervalSec));
  console.log(summary('redfish, from the host going off   ', fromOff, intervalSec));

  await worker.shutdown();
  await deleteSchedules(api, config);
  await api.close();
  await orm.close();
  await bmc.stop();
}

/** QEMU: VMs provisioned through the API, killed with kill -9 behind Hangar's back. */
async function qemuLatency(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hangar-bench-qemu-drift-'));
  const config = benchConfig({ HANGAR_PROVIDERS: 'qemu', HANGAR_DATA_DIR: dataDir, HANGAR_SHUTDOWN_TIMEOUT_SEC: '2' });
  const intervalSec = config.drift.qemuIntervalSec;
  const { orm, api, call } = await startHangar(config);
  const workerConfig = { ...config, api: { ...config.api, publicUrl: api.url } };
  let worker = await startWorker(workerConfig, pino({ level: 'silent' }));
  const op = (id: string) => api.temporal.workflow.getHandle(id).result();
  const blank = join(dataDir, 'blank.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', blank, '1G']);
  const template = await call('POST', '/api/v1/templates', { name: 'lat-blank', provider: 'qemu', image: blank });
  await op(template.operation.workflow_id);
  const vms: string[] = [];
  for (let i = 0; i < VMS; i++) {
    const created = await call('POST', '/api/v1/machines', {
      name: `lat-vm-${i}`,
      provider: 'qemu',
      template: 'lat-blank',
      cpu: 1,
      memory_mb: 128,
      disk_gb: 1,
      wait_for_phone_home: false,
    });
    await op(created.operation.workflow_id);
    vms.push(created.machine.id);
  }
  await worker.shutdown();
  worker = await startWorker({ ...workerConfig, drift: { ...workerConfig.drift, schedules: true } }, pino({ level: 'silent' }));
  const sql = orm.em.getConnection();
  const pidOf = (id: string) => Number(readFileSync(join(dataDir, 'qemu', 'instances', id, 'qemu.pid'), 'utf8').trim());

  console.log(`qemu: ${RUNS} runs, ${VMS} VMs, schedule interval ${intervalSec} s (jitter ${Math.max(1, Math.floor(intervalSec / 10))} s)`);
  const latencies: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const id = vms[run % VMS]!;
    await sleep(Math.random() * intervalSec * 1000);
    await until(async () => (await openFindingAt(sql, id)) === null, 500, (intervalSec + 30) * 1000, 'the previous finding to resolve');
    const killedAt = Date.now();
    process.kill(pidOf(id), 'SIGKILL');
    let seenAt = 0;
    await until(
      async () => {
        const at = await openFindingAt(sql, id);
        if (at !== null) seenAt = at;
        return at !== null;
      },
      100,
      (intervalSec * 3 + 30) * 1000,
      'the finding',
    );
    latencies.push((seenAt - killedAt) / 1000);
    console.log(`  run ${run + 1}: finding ${((seenAt - killedAt) / 1000).toFixed(1)} s after kill -9`);
    const started = await call('POST', `/api/v1/machines/${id}/actions/start`);
    await op(started.operation.workflow_id);
  }
  console.log(summary('qemu, from kill -9', latencies, intervalSec));

  await worker.shutdown();
  for (const id of vms) {
    try {
      process.kill(pidOf(id), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await deleteSchedules(api, config);
  await api.close();
  await orm.close();
  if (existsSync(dataDir)) rmSync(dataDir, { recursive: true, force: true });
}

if (MODE === 'redfish' || MODE === 'both') await redfishLatency();
if (MODE === 'qemu' || MODE === 'both') await qemuLatency();
