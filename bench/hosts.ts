// Bare-metal provisioning against sushy-tools (fake driver), end to end through the real API,
// Temporal dev server, worker and PostgreSQL. Run with: bench/run.sh hosts
//
// 1. One host, several times: POST /hosts/provision → workflow completed, split into
//    - BMC steps: time inside the power/media/boot-override activities (requests, read-backs and
//      waiting for the emulator to apply power changes: its fake driver applies them 1–11 s later),
//      of which "HTTP in flight": wall time with at least one request open at the BMC;
//    - orchestration: everything else (API, claim, Temporal scheduling, inventory steps).
// 2. 20 hosts behind one BMC endpoint provisioned at once, with a per-BMC cap of 2 and of 8
//    requests in flight (redfish.maxConcurrencyPerBmc): total time and the peak the BMC saw.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { pino } from 'pino';
import pg from 'pg';
import { loadConfig } from '../cli/config.ts';
import { openOrm, migrateUp } from '../db/orm.ts';
import { issueToken } from '../db/repositories/tokens.ts';
import { startApiForBench } from './support.ts';
import { startWorker } from '../workers/worker.ts';
import { serveImage, startSushy } from '../test/support/sushy.ts';
import { progressQuery } from '../workflows/contracts.ts';

const adminUrl = readFileSync(process.env.BENCH_DATABASE_URL_FILE!, 'utf8').trim();
const dbUrl = new URL(adminUrl);
dbUrl.pathname = '/hangar_bench_hosts';
const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
await admin.query('drop database if exists hangar_bench_hosts with (force)');
await admin.query('create database hangar_bench_hosts');
await admin.end();

/** Counts requests in flight at the BMC and the wall time during which any was. */
async function meteringProxy(target: string) {
  const upstream = new URL(target);
  let inFlight = 0;
  let peak = 0;
  let busySince = 0;
  let busyMs = 0;
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests += 1;
    if (inFlight++ === 0) busySince = performance.now();
    peak = Math.max(peak, inFlight);
    const done = () => {
      if (--inFlight === 0) busyMs += performance.now() - busySince;
    };
    const up = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
        r.on('end', done);
      },
    );
    up.on('error', () => {
      done();
      res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    reset: () => {
      peak = inFlight;
      busyMs = 0;
      requests = 0;
      if (inFlight) busySince = performance.now();
    },
    stats: () => ({ peak, busyMs: busyMs + (inFlight ? performance.now() - busySince : 0), requests }),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const BMC_STEPS = new Set(['power-off', 'insert-media', 'boot-override', 'power-on', 'eject-media', 'clear-override']);

async function run(cap: number, systems: number, label: string) {
  const bmc = await startSushy({ systems });
  const images = await serveImage();
  const proxy = await meteringProxy(bmc.url);
  const config = loadConfig({
    env: {
      DATABASE_URL: dbUrl.toString(),
      TEMPORAL_ADDRESS: process.env.BENCH_TEMPORAL_ADDRESS!,
      HANGAR_LOG_LEVEL: 'silent',
      HANGAR_TASK_QUEUE: `bench-hosts-${randomUUID().slice(0, 8)}`,
      HANGAR_DB_POOL_SIZE: '20',
      HANGAR_DATA_DIR: process.env.HANGAR_DATA_DIR ?? '.data/bench',
      HANGAR_REDFISH_MAX_CONCURRENCY: String(cap),
      HANGAR_REDFISH_POLL_INTERVAL_MS: '250',
    },
    cwd: process.cwd(),
  }).config;
  const orm = await openOrm({ url: config.database.url, poolSize: 4 });
  await migrateUp(orm);
  const { token } = await issueToken(orm.em.fork(), `bench-${randomUUID().slice(0, 6)}`, 'operator');
  await orm.close();
  const api = await startApiForBench(config);
  const worker = await startWorker(config, pino({ level: 'silent' }));
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
  const tag = `b${randomUUID().slice(0, 6)}`;
  const hosts = await Promise.all(
    bmc.systems.map(async (s, i) => {
      const r = await call('POST', '/api/v1/hosts', {
        name: `${tag}-h${i}`,
        bmc_address: `redfish+http://${proxy.host}${s.path}`,
        username: bmc.username,
        password: bmc.password,
        tags: [tag],
      });
      await api.temporal.workflow.getHandle(r.operation.workflow_id).result();
      return r.host as { id: string; name: string };
    }),
  );

  const provision = async (hostId: string) => {
    const t0 = performance.now();
    const r = await call('POST', '/api/v1/hosts/provision', {
      name: `${tag}-m${randomUUID().slice(0, 8)}`,
      host: hostId,
      image_url: images.url('bench.iso'),
      wait_for_phone_home: false,
    });
    const handle = api.temporal.workflow.getHandle(r.operation.workflow_id);
    await handle.result();
    const total = performance.now() - t0;
    const progress = await handle.query(progressQuery);
    const bmcMs = progress.steps
      .filter((s) => BMC_STEPS.has(s.name) && s.startedAt && s.finishedAt)
      .reduce((sum, s) => sum + Date.parse(s.finishedAt!) - Date.parse(s.startedAt!), 0);
    return { total, bmcMs, hostId, machine: r.machine.id as string };
  };
  const deprovision = async (hostId: string) => {
    const r = await call('POST', `/api/v1/hosts/${hostId}/actions/deprovision`, {});
    await api.temporal.workflow.getHandle(r.operation.workflow_id).result();
  };

  const out: string[] = [];
  if (systems === 1) {
    const rows: { total: number; bmcMs: number; httpMs: number; requests: number }[] = [];
    for (let i = 0; i < 4; i++) {
      proxy.reset();
      const r = await provision(hosts[0]!.id);
      const st = proxy.stats();
      rows.push({ total: r.total, bmcMs: r.bmcMs, httpMs: st.busyMs, requests: st.requests });
      await deprovision(hosts[0]!.id);
    }
    out.push(`${label}: one host, ${rows.length} provisions (no phone-home wait), per-BMC cap ${cap}`);
    out.push('   run   total ms   BMC steps ms   (HTTP in flight ms, requests)   orchestration ms');
    for (const [i, r] of rows.entries())
      out.push(
        `${String(i + 1).padStart(6)}  ${r.total.toFixed(0).padStart(9)}  ${r.bmcMs.toFixed(0).padStart(13)}   (${r.httpMs.toFixed(0).padStart(6)}, ${String(r.requests).padStart(3)})${' '.repeat(18)}${(r.total - r.bmcMs).toFixed(0).padStart(8)}`,
      );
    const orch = rows.map((r) => r.total - r.bmcMs).sort((a, b) => a - b);
    out.push(
      `orchestration median ${orch[Math.floor(orch.length / 2)]!.toFixed(0)} ms; BMC time is dominated by the emulator applying power changes 1–11 s after each reset`,
    );
  } else {
    proxy.reset();
    const t0 = performance.now();
    const results = await Promise.all(hosts.map((h) => provision(h.id)));
    const wall = performance.now() - t0;
    const st = proxy.stats();
    const totals = results.map((r) => r.total).sort((a, b) => a - b);
    out.push(`${label}: ${systems} hosts behind one BMC endpoint at once, per-BMC cap ${cap}`);
    out.push(
      `  all provisioned in ${(wall / 1000).toFixed(1)} s; per host p50 ${(totals[Math.floor(totals.length / 2)]! / 1000).toFixed(1)} s, max ${(totals.at(-1)! / 1000).toFixed(1)} s`,
    );
    out.push(
      `  BMC: ${st.requests} requests, peak ${st.peak} in flight (cap ${cap}), busy ${(st.busyMs / 1000).toFixed(1)} s of ${(wall / 1000).toFixed(1)} s`,
    );
  }

  await worker.shutdown();
  await api.close();
  await Promise.all([bmc.stop(), images.close(), proxy.close()]);
  return out;
}

const lines = [
  `bare-metal provisioning (sushy-tools fake driver) — ${new Date().toISOString()}, ${cpus().length} cores, Node ${process.versions.node}`,
  '',
  ...(await run(2, 1, 'single host')),
  '',
  ...(await run(2, 20, 'concurrent')),
  '',
  ...(await run(8, 20, 'concurrent')),
];
console.log(lines.join('\n'));
