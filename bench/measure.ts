// Helpers shared by the IPAM and metadata benchmarks: a fresh database, percentiles, a free
// loopback port, and CPU accounting per process group (read from /proc), so a benchmark can say
// which process was the bottleneck instead of guessing.
import { readFileSync, readdirSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { cpus } from 'node:os';
import pg from 'pg';

/** Drops and recreates the `hangar_bench` database on the bench cluster; returns its URL. */
export async function freshBenchDatabase(): Promise<string> {
  const file = process.env.BENCH_DATABASE_URL_FILE;
  if (!file) throw new Error('BENCH_DATABASE_URL_FILE is not set: run this through bench/run.sh');
  const adminUrl = readFileSync(file, 'utf8').trim();
  const dbUrl = new URL(adminUrl);
  dbUrl.pathname = '/hangar_bench';
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query('drop database if exists hangar_bench with (force)');
    await admin.query('create database hangar_bench');
  } finally {
    await admin.end();
  }
  return dbUrl.toString();
}

/** Nearest-rank percentile of an ascending array. */
export const pct = (sorted: readonly number[], p: number): number =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]! : NaN;

export const fmt = (n: number, digits = 1) => n.toFixed(digits);

/** A loopback port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export function header(title: string): string {
  return `${title} — ${new Date().toISOString()}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.versions.node}`;
}

// ---------------------------------------------------------------------------------------------
// CPU accounting from /proc (Linux). Clock ticks are 100 Hz on every Linux we run on.

const TICKS_PER_SECOND = 100;

/** utime + stime of a process (all threads); with `reaped`, also what its exited children used. */
function procTicks(pid: number, reaped = false): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name: utime, stime, cutime, cstime are fields 14-17.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]) + (reaped ? Number(rest[13]) + Number(rest[14]) : 0);
  } catch {
    return 0; // exited
  }
}

function parentOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return -1;
  }
}

/** The bench cluster's postmaster (from HANGAR_DATA_DIR/postgres/postmaster.pid), if readable. */
function postmasterPid(): number | null {
  const dir = process.env.HANGAR_DATA_DIR;
  if (!dir) return null;
  try {
    return Number(readFileSync(`${dir}/postgres/postmaster.pid`, 'utf8').split('\n')[0]);
  } catch {
    return null;
  }
}

/** The bench Temporal dev server (HANGAR_DATA_DIR/run/temporal.pid), if readable. */
function temporalPid(): number | null {
  const dir = process.env.HANGAR_DATA_DIR;
  if (!dir) return null;
  try {
    return Number(readFileSync(`${dir}/run/temporal.pid`, 'utf8').trim());
  } catch {
    return null;
  }
}

function postgresTicks(postmaster: number | null): number {
  if (postmaster === null) return 0;
  // Backends that exited during the interval are in the postmaster's cutime/cstime.
  let total = procTicks(postmaster, true);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (parentOf(pid) === postmaster) total += procTicks(pid);
  }
  return total;
}

/** Busy and total jiffies of the whole machine (all cores). */
function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

export interface CpuShares {
  seconds: number;
  /** Percent of ONE core, per group. */
  percent: Record<string, number>;
  /** Whole machine busy, percent of all cores together (100 % = every core busy). */
  machineBusy: number;
}

/**
 * Starts counting CPU time of the given processes (label → pid), this process, the bench
 * PostgreSQL cluster (postmaster and its children) and the bench Temporal server.
 * stop() returns each group's share in percent of one core over the interval.
 */
export function cpuMeter(pids: Record<string, number> = {}, selfLabel = 'bench process') {
  const postmaster = postmasterPid();
  const temporal = temporalPid();
  const sample = () => {
    const groups: Record<string, number> = {};
    for (const [label, pid] of Object.entries(pids)) groups[label] = procTicks(pid);
    groups[selfLabel] = procTicks(process.pid);
    if (postmaster !== null) groups.postgresql = postgresTicks(postmaster);
    if (temporal !== null) groups.temporal = procTicks(temporal);
    return { at: performance.now(), groups, machine: machineTicks() };
  };
  const first = sample();
  return {
    stop(): CpuShares {
      const last = sample();
      const seconds = (last.at - first.at) / 1000;
      const percent: Record<string, number> = {};
      for (const [k, v] of Object.entries(last.groups)) percent[k] = ((v - (first.groups[k] ?? 0)) / TICKS_PER_SECOND / seconds) * 100;
      const busy = last.machine.busy - first.machine.busy;
      const total = last.machine.total - first.machine.total;
      return { seconds, percent, machineBusy: total > 0 ? (busy / total) * 100 : 0 };
    },
  };
}

export function describeCpu(c: CpuShares): string {
  const parts = Object.entries(c.percent).map(([k, v]) => `${k} ${v.toFixed(0)} %`);
  const ours = Object.values(c.percent).reduce((a, b) => a + b, 0);
  const others = Math.max(0, c.machineBusy * cpus().length - ours);
  return `CPU (% of one core): ${parts.join(', ')}, everything else on the machine ${others.toFixed(0)} %; machine ${c.machineBusy.toFixed(0)} % busy (of ${cpus().length} cores)`;
}

/**
 * Waits (at most `maxSeconds`) until the machine has been nearly idle for two consecutive
 * seconds: other work on a 2-core machine (a test run next door) otherwise decides the figures.
 * Returns a note to print when it never got quiet.
 */
export async function waitForQuiet(maxSeconds = 120, busyPercent = 20): Promise<string | null> {
  const deadline = performance.now() + maxSeconds * 1000;
  let calm = 0;
  let last = 0;
  while (performance.now() < deadline) {
    const a = machineTicks();
    await new Promise((r) => setTimeout(r, 1000));
    const b = machineTicks();
    last = b.total > a.total ? ((b.busy - a.busy) / (b.total - a.total)) * 100 : 0;
    calm = last < busyPercent ? calm + 1 : 0;
    if (calm >= 2) return null;
  }
  return `machine still ${last.toFixed(0)} % busy after waiting ${maxSeconds} s for it to calm down: figures below are contended`;
}
