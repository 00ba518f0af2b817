// The NoCloud metadata endpoint under load (bench/run.sh metadata): GET
// /cloud-init/<machine id>/<token>/{meta-data,user-data}, spread over 50 machines that have SSH
// keys and an active lease. Target (DESIGN.md): ≥ 5,000 req/s with p99 < 20 ms on 2 cores.
//
// The API runs in its own process (`node cli/main.ts serve`) so that the load generator
// (autocannon, in this process) does not share its event loop. On 2 cores, generator, API and
// PostgreSQL still share the machine, which the CPU figures printed per run make visible.
// Per document: unthrottled (the most the set-up serves, latency includes queueing behind 50
// busy connections), paced at 5,000 req/s (evenly spaced arrivals from bench/paced-load.ts,
// latency counted from each request's due time; autocannon's own pacing sends each second's
// quota in one burst, which measures the burst), both with one API process and with two (`HANGAR_API_PROCESSES=2`: node:cluster
// children sharing one port, which is how a 2-core host should run the API).
//
// BENCH_API_CPU_PROF=<dir> makes the (first) API process write a V8 CPU profile there when it
// stops; summarise it with `node bench/profile-summary.ts <file>`.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../cli/config.ts';
import { openOrm, migrateUp } from '../db/orm.ts';
import { issueToken } from '../db/repositories/tokens.ts';
import { cpuMeter, describeCpu, fmt, freePort, freshBenchDatabase, header, waitForQuiet } from './measure.ts';
import { pacedLoad, type PacedResult } from './paced-load.ts';

// autocannon ships no type declarations: the part used here.
interface Histogram {
  average: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}
interface AutocannonResult {
  requests: Histogram & { total: number };
  latency: Histogram;
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodeStats: Record<string, { count: number }>;
}
interface AutocannonClient {
  setRequests(requests: { method: string; path: string }[]): void;
}
interface AutocannonOptions {
  url: string;
  connections: number;
  duration: number;
  requests?: { method: string; path: string }[];
  setupClient?: (client: AutocannonClient) => void;
  timeout?: number;
}
const autocannon = createRequire(import.meta.url)('autocannon') as (opts: AutocannonOptions) => PromiseLike<AutocannonResult>;

function fromAutocannon(x: AutocannonResult): PacedResult {
  return {
    total: x.requests.total,
    rps: x.requests.total / x.duration,
    p50: x.latency.p50,
    p90: x.latency.p90,
    p99: x.latency.p99,
    max: x.latency.max,
    non2xx: x.non2xx,
    errors: x.errors,
    timeouts: x.timeouts,
    codes: new Map(Object.entries(x.statusCodeStats).map(([c, s]) => [c, Number(s.count)])),
    loopP99: NaN,
    loopMax: NaN,
  };
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MACHINES = 50;
const SSH_KEYS = 5;
const CONNECTIONS = 50;
const DURATION_S = 10;
const WARMUP_S = 3;
const TARGET_RPS = 5000;
const TARGET_P99_MS = 20;
const DOCS = ['meta-data', 'user-data'] as const;

const dbUrl = await freshBenchDatabase();
const temporalAddress = process.env.BENCH_TEMPORAL_ADDRESS!;
const config = loadConfig({ env: { DATABASE_URL: dbUrl, TEMPORAL_ADDRESS: temporalAddress, HANGAR_LOG_LEVEL: 'silent' }, cwd: '/' }).config;
const token = await (async () => {
  const orm = await openOrm({ url: config.database.url, poolSize: 2 });
  await migrateUp(orm);
  const issued = await issueToken(orm.em.fork(), 'bench', 'operator');
  await orm.close();
  return issued.token;
})();

// ---------------------------------------------------------------------------------------------
// API processes

interface ApiProcess {
  base: string;
  pid: number;
  pids: Record<string, number>;
  stop: () => Promise<void>;
}

/** The cluster children of a supervisor process (their CPU is what serves the requests). */
function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function startApiProcess(processes: number, profileDir?: string): Promise<ApiProcess> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const profile = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${resolve(profileDir)}`] : [];
  const child: ChildProcess = spawn(process.execPath, ['--no-warnings=ExperimentalWarning', ...profile, 'cli/main.ts', 'serve'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: dbUrl,
      TEMPORAL_ADDRESS: temporalAddress,
      HANGAR_API_PORT: String(port),
      HANGAR_LOG_LEVEL: 'warn',
      HANGAR_PUBLIC_URL: base,
      HANGAR_API_PROCESSES: String(processes),
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  let exited = false;
  const gone = new Promise<void>((r) =>
    child.once('exit', () => {
      exited = true;
      r();
    }),
  );
  const stop = async () => {
    if (exited) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (!exited) child.kill('SIGKILL');
    }, 10_000);
    await gone;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error('the API process exited during start-up');
    if (Date.now() > deadline) {
      await stop();
      throw new Error('the API did not become healthy within 60 s');
    }
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  // With a supervisor, wait until every child answers (the first healthy one is not enough).
  for (let i = 0; processes > 1 && childPids(child.pid!).length < processes && i < 100; i++) await new Promise((r) => setTimeout(r, 200));
  await new Promise((r) => setTimeout(r, processes > 1 ? 2000 : 0));
  const kids = processes > 1 ? childPids(child.pid!) : [];
  const pids = kids.length ? Object.fromEntries(kids.map((p, i) => [`API process ${i + 1}`, p])) : { 'API process': child.pid! };
  return { base, pid: child.pid!, pids, stop };
}

/** An OpenSSH ed25519 public key line. */
function sshPublicKey(comment: string): string {
  const raw = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const field = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  return `ssh-ed25519 ${Buffer.concat([field(Buffer.from('ssh-ed25519')), field(raw)]).toString('base64')} ${comment}`;
}

/** `top` over one second, taken while the load runs: the busiest processes. */
function topSnapshot(): Promise<string> {
  return new Promise((r) => {
    execFile('top', ['-b', '-n', '2', '-d', '1', '-w', '160'], { timeout: 10_000 }, (err, stdout) => {
      if (err) {
        r(`(top failed: ${err.message})`);
        return;
      }
      const second = stdout.split(/^top - /m).at(-1) ?? '';
      const lines = second.split('\n');
      const head = lines.findIndex((l) => /^\s*PID\s/.test(l));
      r([`top - ${lines[0]}`, ...lines.slice(2, 3), ...lines.slice(head, head + 9)].join('\n'));
    });
  });
}

interface Run extends Omit<PacedResult, 'codes' | 'loopP99' | 'loopMax'> {
  doc: string;
  mode: string;
  codes: string;
  cpu: string;
  top: string;
  quiet: string | null;
  generatorLoop: string | null;
}

const servers: ApiProcess[] = [];
try {
  servers.push(await startApiProcess(1, process.env.BENCH_API_CPU_PROF));
  const api = servers[0]!;
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const post = async <T>(path: string, body: unknown, expect: number): Promise<T> => {
    const res = await fetch(`${api.base}${path}`, { method: 'POST', headers: auth, body: JSON.stringify(body) });
    const text = await res.text();
    if (res.status !== expect) throw new Error(`POST ${path} → ${res.status} ${text.slice(0, 300)}`);
    return JSON.parse(text) as T;
  };

  // -------------------------------------------------------------------------------------------
  // Inventory: SSH keys, one network, 50 machines each with two keys and an active lease.
  const keyIds: string[] = [];
  for (let i = 0; i < SSH_KEYS; i++)
    keyIds.push((await post<{ id: string }>('/api/v1/ssh-keys', { name: `bench-key-${i}`, public_key: sshPublicKey(`bench-${i}@hangar`) }, 201)).id);
  const network = await post<{ id: string }>(
    '/api/v1/networks',
    { name: 'bench-net', cidr: '10.20.0.0/22', gateway: '10.20.0.1', dns_servers: ['10.20.0.2'], search_domains: ['bench.example'] },
    201,
  );
  const machines: { id: string; token: string }[] = [];
  for (let i = 0; i < MACHINES; i++) {
    const created = await post<{ machine: { id: string }; metadata_token: string }>(
      '/api/v1/machines',
      {
        name: `bench-m-${String(i).padStart(2, '0')}`,
        provider: 'dryrun',
        cpu: 1,
        memory_mb: 256,
        disk_gb: 1,
        ssh_key_ids: [keyIds[i % SSH_KEYS]!, keyIds[(i + 1) % SSH_KEYS]!],
        network_id: network.id,
      },
      202,
    );
    const mac = `52:54:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
    await post(`/api/v1/networks/${network.id}/leases`, { machine_id: created.machine.id, state: 'active', mac }, 201);
    machines.push({ id: created.machine.id, token: created.metadata_token });
  }

  // Every seed answers with what it should hold before any load, and a wrong token is a 404.
  for (const m of machines) {
    for (const doc of DOCS) {
      const res = await fetch(`${api.base}/cloud-init/${m.id}/${m.token}/${doc}`);
      const text = await res.text();
      if (res.status !== 200)
        throw new Error(`GET /cloud-init/<id>/<token>/${doc} → ${res.status} ${text.slice(0, 300)}: the metadata endpoint is not serving`);
      if (doc === 'meta-data' && !text.includes(m.id)) throw new Error(`meta-data of ${m.id} does not name its instance id:\n${text}`);
      if (doc === 'user-data' && !text.includes('ssh-ed25519')) throw new Error(`user-data of ${m.id} has no SSH key:\n${text}`);
    }
  }
  const wrong = await fetch(`${api.base}/cloud-init/${machines[0]!.id}/not-the-token/meta-data`);
  await wrong.text();
  if (wrong.status !== 404) throw new Error(`a wrong token answered ${wrong.status}, not 404`);

  // -------------------------------------------------------------------------------------------
  // Load. Each connection walks all machines, starting at its own offset.
  const runs: Run[] = [];
  async function load(doc: string, mode: string, targets: ApiProcess[], overallRate?: number): Promise<void> {
    const requests = machines.map((m) => ({ method: 'GET', path: `/cloud-init/${m.id}/${m.token}/${doc}` }));
    let offset = 0;
    const setupClient = (client: AutocannonClient) => {
      const k = (offset++ * 7) % requests.length;
      client.setRequests([...requests.slice(k), ...requests.slice(0, k)]);
    };
    const connections = Math.floor(CONNECTIONS / targets.length);
    // One warm keep-alive pool per target for warm-up and run, as a fleet's fetchers would not reconnect.
    const agents = targets.map(() => new http.Agent({ keepAlive: true, maxSockets: connections }));
    const paced = (t: ApiProcess, durationS: number) =>
      pacedLoad({
        base: t.base,
        paths: requests.map((r) => r.path),
        rate: overallRate! / targets.length,
        durationS,
        connections,
        agent: agents[targets.indexOf(t)],
      });
    if (overallRate === undefined) {
      await Promise.all(targets.map((t) => autocannon({ url: t.base, connections, duration: WARMUP_S, requests, setupClient })));
    } else {
      await Promise.all(targets.map((t) => paced(t, WARMUP_S)));
    }
    const quiet = await waitForQuiet();
    const pids = Object.assign({}, ...targets.map((t) => t.pids)) as Record<string, number>;
    const meter = cpuMeter(pids, 'bench process (load generator)');
    const top = new Promise<string>((r) =>
      setTimeout(
        () => {
          void topSnapshot().then(r);
        },
        (DURATION_S / 2) * 1000,
      ),
    );
    const results: PacedResult[] =
      overallRate === undefined
        ? (await Promise.all(targets.map((t) => autocannon({ url: t.base, connections, duration: DURATION_S, requests, setupClient, timeout: 10 })))).map(
            fromAutocannon,
          )
        : await Promise.all(targets.map((t) => paced(t, DURATION_S)));
    const cpu = describeCpu(meter.stop());
    for (const a of agents) a.destroy();
    const sum = (f: (x: PacedResult) => number) => results.reduce((n, x) => n + f(x), 0);
    const worst = (f: (x: PacedResult) => number) => Math.max(...results.map(f));
    const codes = new Map<string, number>();
    for (const x of results) for (const [code, n] of x.codes) codes.set(code, (codes.get(code) ?? 0) + n);
    runs.push({
      doc,
      mode,
      total: sum((x) => x.total),
      rps: sum((x) => x.rps),
      // With two generators the percentiles are the worse of the two (histograms are not merged).
      p50: worst((x) => x.p50),
      p90: worst((x) => x.p90),
      p99: worst((x) => x.p99),
      max: worst((x) => x.max),
      non2xx: sum((x) => x.non2xx),
      errors: sum((x) => x.errors),
      timeouts: sum((x) => x.timeouts),
      codes: [...codes.entries()].map(([c, n]) => `${c}×${n}`).join(', '),
      cpu,
      top: await top,
      quiet,
      generatorLoop:
        overallRate === undefined ? null : `generator event-loop delay p99 ${fmt(worst((x) => x.loopP99))} ms, max ${fmt(worst((x) => x.loopMax))} ms`,
    });
  }

  for (const doc of DOCS) {
    await load(doc, 'unthrottled', [api]);
    await load(doc, `paced ${TARGET_RPS} req/s`, [api], TARGET_RPS);
  }
  // The same with HANGAR_API_PROCESSES=2: two cluster children behind one port.
  await api.stop();
  servers.length = 0;
  const clustered = await startApiProcess(2);
  servers.push(clustered);
  for (const doc of DOCS) {
    await load(doc, '2 processes unthrottled', [clustered]);
    await load(doc, `2 processes paced ${TARGET_RPS}`, [clustered], TARGET_RPS);
  }

  // -------------------------------------------------------------------------------------------
  console.log(header('NoCloud metadata endpoint'));
  console.log(
    `API: separate process (node cli/main.ts serve, pool ${config.database.poolSize}, log level warn); load in the bench process (autocannon 9 unthrottled, bench/paced-load.ts paced), ${CONNECTIONS} keep-alive connections in all, ${DURATION_S} s per run after ${WARMUP_S} s warm-up; ${MACHINES} machines with 2 SSH keys and an active lease each`,
  );
  console.log('');
  console.log('document    mode                      req/s  requests  p50 ms  p90 ms  p99 ms  max ms  non-2xx  errors  timeouts');
  for (const r of runs) {
    console.log(
      [
        r.doc.padEnd(11),
        r.mode.padEnd(27),
        fmt(r.rps, 0).padStart(7),
        String(r.total).padStart(9),
        fmt(r.p50).padStart(7),
        fmt(r.p90).padStart(7),
        fmt(r.p99).padStart(7),
        fmt(r.max).padStart(7),
        String(r.non2xx).padStart(8),
        String(r.errors).padStart(7),
        String(r.timeouts).padStart(9),
      ].join(' '),
    );
  }
  console.log('');
  for (const r of runs) {
    console.log(`${r.doc}, ${r.mode}: ${r.cpu}`);
    console.log(`  status codes: ${r.codes}${r.generatorLoop ? `; ${r.generatorLoop}` : ''}`);
    if (r.quiet) console.log(`  ${r.quiet}`);
  }
  console.log('');
  for (const doc of DOCS) {
    const free = runs.find((r) => r.doc === doc && r.mode === 'unthrottled')!;
    const paced = runs.find((r) => r.doc === doc && r.mode.startsWith('paced'))!;
    const two = runs.find((r) => r.doc === doc && r.mode === '2 processes unthrottled')!;
    const twoPaced = runs.find((r) => r.doc === doc && r.mode.startsWith('2 processes paced'))!;
    const failures = runs.filter((r) => r.doc === doc).reduce((n, r) => n + r.non2xx + r.errors + r.timeouts, 0);
    console.log(
      `${doc}: target ≥ ${TARGET_RPS} req/s → ${fmt(free.rps, 0)} req/s is ${(free.rps / TARGET_RPS).toFixed(2)}× the target (unthrottled, p99 ${fmt(free.p99)} ms); ` +
        `paced at ${TARGET_RPS}/s it served ${fmt(paced.rps, 0)} req/s with p99 ${fmt(paced.p99)} ms = ${(paced.p99 / TARGET_P99_MS).toFixed(2)}× the ${TARGET_P99_MS} ms budget; ` +
        `2 API processes: ${fmt(two.rps, 0)} req/s (${(two.rps / TARGET_RPS).toFixed(2)}×, p99 ${fmt(two.p99)} ms), paced at ${TARGET_RPS}/s ${fmt(twoPaced.rps, 0)} req/s with p99 ${fmt(twoPaced.p99)} ms = ${(twoPaced.p99 / TARGET_P99_MS).toFixed(2)}× the budget; non-2xx + errors + timeouts: ${failures}`,
    );
  }
  console.log('');
  console.log('top in the middle of each run (second sample of `top -b -n 2 -d 1`):');
  for (const r of runs) console.log(`--- ${r.doc}, ${r.mode}\n${r.top}`);
} finally {
  for (const s of servers.reverse()) await s.stop();
}
