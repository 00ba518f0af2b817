// Provision latency on Proxmox, end to end through the real API, Temporal dev server, worker and
// PostgreSQL, against the Proxmox VE simulator (test/fakes/proxmox) with realistic task times:
// clone 3 s, start 1 s, every other task (config write, resize, ISO upload, stop, destroy) 0.3 s,
// lock wait 10 s (PVE's lock_config default). POST /machines (cloud-init ISO mode,
// wait_for_phone_home false) → workflow completed, 1 at a time and 10 at once from one template.
// Splits each provision into time spent inside its simulator tasks (millisecond task start/end)
// and everything else (Hangar, Temporal, HTTP, task-poll latency), and prints the goals as ratios:
// one at a time against the sum of its simulator task times (goal ≤ 1.15×), ten at once against
// the clone-serialisation bound (the k-th clone of one template cannot end before k clones ran;
// goal p50 ≤ 1.2×), with the shipped task watching (100 ms first poll, growing to 1 s).
//
//   bash bench/run.sh proxmox-provision        (BENCH_SEQUENTIAL=8 BENCH_PARALLEL=10 to change sizes)
import { mkdtempSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../cli/config.ts';
import { openOrm, migrateUp } from '../db/orm.ts';
import { issueToken } from '../db/repositories/tokens.ts';
import { startWorker } from '../workers/worker.ts';
import { startProxmoxSimulator } from '../test/fakes/proxmox/simulator.ts';
import { proxmoxEnv, trackTaskTimes, unionMs, writeQcow2, writeSimFiles, type TimedTask } from '../test/support/proxmox-sim.ts';
import { startApiForBench } from './support.ts';
import { fmt, freshBenchDatabase, header, pct } from './measure.ts';

const NODE = 'pve1';
const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 8);
const PARALLEL = Number(process.env.BENCH_PARALLEL ?? 10);
const TASK_MS = { base: 300, clone: 3000, start: 1000 };

const dbUrl = await freshBenchDatabase();
const dir = mkdtempSync(join(tmpdir(), 'hangar-bench-pve-'));
const image = join(dir, 'tiny.qcow2');
writeQcow2(image, 2 * 1024 ** 3);
const sim = await startProxmoxSimulator({
  nodes: [NODE],
  seed: 1,
  authFailureDelayMs: 0,
  lockWaitMs: 10_000,
  taskDurationMs: TASK_MS.base,
  faults: { taskDelayMs: { qmclone: TASK_MS.clone - TASK_MS.base, qmstart: TASK_MS.start - TASK_MS.base } },
});
const files = writeSimFiles(sim);
const timing = trackTaskTimes(sim);

const baseEnv = { DATABASE_URL: dbUrl, TEMPORAL_ADDRESS: process.env.BENCH_TEMPORAL_ADDRESS!, HANGAR_LOG_LEVEL: 'silent', HANGAR_DB_POOL_SIZE: '20' };
{
  const orm = await openOrm({ url: dbUrl, poolSize: 2 });
  await migrateUp(orm);
  await orm.close();
}
const orm = await openOrm({ url: dbUrl, poolSize: 2 });
const { token } = await issueToken(orm.em.fork(), 'bench', 'operator');
await orm.close();

interface Sample {
  machineId: string;
  vmid: number;
  /** performance.now() at POST. */
  postedMs: number;
  totalMs: number;
  /** POST → its clone task starts (includes waiting for the clone slot). */
  preCloneMs: number;
  /** Union of its own simulator tasks: clone, ISO upload, config writes, resize, start. */
  taskMs: number;
  /** Sum of its own simulator task times (overlapping tasks counted in full). */
  taskSumMs: number;
  cloneMs: number;
}

const pollProfiles = [{ label: 'shipped task watching (first poll 100 ms, gap a tenth of the time waited, at most 1 s)', pollMs: 100, pollMaxMs: 1000 }];

let templateName = '';
const lines: string[] = [];
const out = (l = '') => {
  lines.push(l);
  console.log(l);
};

/**
 * Tasks of one machine within its provision window (VMIDs are reused after a deprovision): VM
 * tasks by VMID, plus its clone and ISO upload, matched to their requests in order.
 */
function ownTasks(s: { machineId: string; vmid: number }, fromMs: number, toMs: number): { all: TimedTask[]; clone?: TimedTask } {
  const inWindow = timing.tasks.filter((t) => t.startMs >= fromMs && t.startMs <= toMs);
  const vmTasks = inWindow.filter((t) => t.id === String(s.vmid) && t.type !== 'qmclone');
  const match = (type: string, reqOf: (r: (typeof sim.requests)[number]) => boolean, mine: (r: (typeof sim.requests)[number]) => boolean) => {
    const tasks = timing.tasks.filter((t) => t.type === type).sort((a, b) => a.startWall - b.startWall);
    const reqs = sim.requests.filter((r) => r.status === 200 && reqOf(r)).sort((a, b) => a.at - b.at);
    const used = new Set<number>();
    let found: TimedTask | undefined;
    for (const t of tasks) {
      const i = reqs.findIndex((r, k) => !used.has(k) && r.at <= t.startWall + 5);
      if (i < 0) continue;
      used.add(i);
      if (mine(reqs[i]!) && inWindow.includes(t)) found = t;
    }
    return found;
  };
  const clone = match(
    'qmclone',
    (r) => r.method === 'POST' && r.path.endsWith('/clone'),
    (r) => Number(r.params.newid) === s.vmid,
  );
  const upload = match(
    'imgcopy',
    (r) => r.method === 'POST' && r.path.endsWith('/upload'),
    (r) => String(r.params.filename).startsWith(`hangar-${s.machineId}-cidata.iso`),
  );
  return { all: [...vmTasks, ...(clone ? [clone] : []), ...(upload ? [upload] : [])], clone };
}

async function api<T = any>(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json().catch(() => null)) as T };
}

for (const profile of pollProfiles) {
  const config = loadConfig({
    env: {
      ...baseEnv,
      HANGAR_TASK_QUEUE: `bench-pve-${randomUUID().slice(0, 8)}`,
      ...proxmoxEnv(sim, files, NODE, { HANGAR_PROXMOX_TASK_POLL_MS: String(profile.pollMs), HANGAR_PROXMOX_TASK_POLL_MAX_MS: String(profile.pollMaxMs) }),
      HANGAR_SHUTDOWN_TIMEOUT_SEC: '10',
    },
    cwd: '/',
  }).config;
  const server = await startApiForBench(config);
  const worker = await startWorker(config, pino({ level: 'silent' }));

  const waitOp = async (workflowId: string) => server.temporal.workflow.getHandle(workflowId).result();
  if (!templateName) {
    templateName = `bench-tpl-${randomUUID().slice(0, 8)}`;
    const t = await api(server.url, 'POST', '/api/v1/templates', { name: templateName, provider: 'proxmox', image });
    if (t.status !== 202) throw new Error(`template: ${t.status} ${JSON.stringify(t.body)}`);
    await waitOp(t.body.operation.workflow_id);
  }

  async function provisionOnce(): Promise<Sample> {
    const started = performance.now();
    const res = await api(server.url, 'POST', '/api/v1/machines', {
      name: `b-${randomUUID().slice(0, 12)}`,
      provider: 'proxmox',
      template: templateName,
      cpu: 2,
      memory_mb: 2048,
      disk_gb: 10,
      wait_for_phone_home: false,
    });
    if (res.status !== 202) throw new Error(`POST failed: ${res.status} ${JSON.stringify(res.body)}`);
    const result = (await waitOp(res.body.operation.workflow_id)) as { machineId: string; providerId: string };
    const ended = performance.now();
    const totalMs = ended - started;
    const s = { machineId: result.machineId, vmid: Number(result.providerId) };
    const own = ownTasks(s, started, ended);
    return {
      ...s,
      postedMs: started,
      totalMs,
      preCloneMs: own.clone ? own.clone.startMs - started : NaN,
      taskMs: unionMs(own.all.map((t): [number, number] => [t.startMs, t.endMs ?? t.startMs])),
      taskSumMs: own.all.reduce((sum, t) => sum + ((t.endMs ?? t.startMs) - t.startMs), 0),
      cloneMs: own.clone?.endMs !== undefined ? own.clone.endMs - own.clone.startMs : NaN,
    };
  }

  async function deprovisionAll(samples: Sample[]): Promise<number[]> {
    return Promise.all(
      samples.map(async (s) => {
        const t0 = performance.now();
        const res = await api(server.url, 'DELETE', `/api/v1/machines/${s.machineId}`);
        if (res.status !== 202) throw new Error(`DELETE failed: ${res.status} ${JSON.stringify(res.body)}`);
        await waitOp(res.body.operation.workflow_id);
        return performance.now() - t0;
      }),
    );
  }

  // Warm-up: bundle loading, connections, JIT.
  await deprovisionAll([await provisionOnce()]);

  const sequential: Sample[] = [];
  for (let i = 0; i < SEQUENTIAL; i++) sequential.push(await provisionOnce());
  const deprovSeq = await deprovisionAll(sequential);

  const t0 = performance.now();
  const parallel = await Promise.all(Array.from({ length: PARALLEL }, () => provisionOnce()));
  const batchMs = performance.now() - t0;
  await deprovisionAll(parallel);

  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const s = (ms: number) => `${fmt(ms / 1000, 2)} s`;
  const report = (name: string, xs: Sample[]) => {
    const totals = xs.map((x) => x.totalMs).sort((a, b) => a - b);
    const task = mean(xs.map((x) => x.taskMs));
    const pre = mean(xs.map((x) => x.preCloneMs));
    const total = mean(totals);
    out(`  ${name} (n=${xs.length}): p50 ${s(pct(totals, 50))}, p99 ${s(pct(totals, 99))}, max ${s(totals.at(-1)!)}`);
    out(
      `    per provision (mean ${s(total)}): in its simulator tasks ${s(task)} (${fmt((100 * task) / total, 0)} %; clone ${s(mean(xs.map((x) => x.cloneMs)))}), outside them ${s(total - task)} (${fmt((100 * (total - task)) / total, 0)} %)`,
    );
    out(
      `    outside tasks: POST → its clone starts ${s(pre)} (API, workflow start, create's look-ups, any wait for the clone slot); after that ${s(total - task - pre)} (task-poll latency, activity dispatch, Hangar)`,
    );
  };

  out('');
  out(`${profile.label}:`);
  report('1 at a time', sequential);
  const ratios = sequential.map((x) => x.totalMs / x.taskSumMs).sort((a, b) => a - b);
  out(
    `    GOAL 1 at a time: provision / sum of its simulator task times = ${fmt(pct(ratios, 50), 2)}× p50 (max ${fmt(ratios.at(-1)!, 2)}×; goal ≤ 1.15×); task sum ${s(mean(sequential.map((x) => x.taskSumMs)))}`,
  );
  report(`${PARALLEL} at once`, parallel);
  // The k-th clone of one template (clone queue: 1 slot) ends no earlier than k clone times after
  // the batch starts; its other tasks follow it. Bound per machine, in the order the clones ran.
  const byClone = [...parallel].sort((a, b) => a.postedMs + a.preCloneMs - (b.postedMs + b.preCloneMs));
  const bounds = byClone.map((x, k) => (k + 1) * x.cloneMs + (x.taskSumMs - x.cloneMs)).sort((a, b) => a - b);
  const totalsP = parallel.map((x) => x.totalMs).sort((a, b) => a - b);
  out(
    `    GOAL ${PARALLEL} at once: p50 ${s(pct(totalsP, 50))} / clone-serialisation bound p50 ${s(pct(bounds, 50))} = ${fmt(pct(totalsP, 50) / pct(bounds, 50), 2)}× (goal ≤ 1.2×)`,
  );
  const cloneStarts = parallel.map((x) => x.postedMs + x.preCloneMs).sort((a, b) => a - b);
  const gaps = cloneStarts.slice(1).map((t, i) => t - cloneStarts[i]!);
  out(
    `    ${PARALLEL} at once: batch wall ${s(batchMs)} for ${s(mean(parallel.map((x) => x.cloneMs)) * PARALLEL)} of clone tasks, which ran one after another (clone queue: 1 slot);`,
  );
  out(`    the slot passes on every ${s(mean(gaps))} (mean gap between clone starts; one clone task is ${s(mean(parallel.map((x) => x.cloneMs)))})`);
  out(
    `  deprovision of the ${SEQUENTIAL} (all at once): p50 ${s(
      pct(
        deprovSeq.sort((a, b) => a - b),
        50,
      ),
    )}`,
  );

  await worker.shutdown();
  await server.close();
}

timing.stop();
await sim.close();
files.cleanup();
rmSync(dir, { recursive: true, force: true });

console.log('');
console.log(header('provisionVm on Proxmox (simulator)'));
console.log(
  `simulator tasks: clone ${TASK_MS.clone / 1000} s, start ${TASK_MS.start / 1000} s, every other task ${TASK_MS.base / 1000} s (config write, resize, ISO upload, stop, destroy); lock wait 10 s; one node, one template`,
);
console.log(
  'machines: 2 vCPU, 2 GiB, 10 GiB disk, cloud-init ISO mode, wait_for_phone_home false; API + worker (clone queue: 1 slot) in one process; Temporal dev server; PostgreSQL',
);
for (const l of lines) console.log(l);
