// Helpers for running Hangar (API + worker) against the Proxmox VE simulator
// (test/fakes/proxmox): the files a worker's configuration points at (CA, token secret),
// the environment that configures the Proxmox provider, a tiny qcow2 image, millisecond task
// timings, and views of the simulator's state per machine.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCidataIsoOf } from '../../providers/proxmox/markers.ts';
import type { ProxmoxSimulator, SimTask, SimVm, SimVolume } from '../fakes/proxmox/simulator.ts';

/** A small valid qcow2 (version 3 header; `qemu-img` is not installed here). */
export function writeQcow2(path: string, virtualBytes: number): void {
  const buf = Buffer.alloc(64 * 1024);
  buf.write('QFI\xfb', 0, 'latin1');
  buf.writeUInt32BE(3, 4); // version
  buf.writeUInt32BE(16, 20); // cluster_bits
  buf.writeBigUInt64BE(BigInt(virtualBytes), 24); // size
  buf.writeUInt32BE(1, 36); // l1_size
  buf.writeBigUInt64BE(0x30000n, 40); // l1_table_offset
  buf.writeBigUInt64BE(0x10000n, 48); // refcount_table_offset
  buf.writeUInt32BE(1, 56); // refcount_table_clusters
  buf.writeUInt32BE(4, 96); // refcount_order
  buf.writeUInt32BE(104, 100); // header_length
  writeFileSync(path, buf);
}

export interface SimFiles {
  dir: string;
  caFile: string;
  secretFile: string;
  cleanup: () => void;
}

/** The simulator's CA certificate and the token secret (mode 0600) as files, as a worker's config names them. */
export function writeSimFiles(sim: ProxmoxSimulator): SimFiles {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-pve-files-'));
  const caFile = join(dir, 'pve-ca.pem');
  const secretFile = join(dir, 'pve-token-secret');
  writeFileSync(caFile, sim.caPem);
  writeFileSync(secretFile, `${sim.token.secret}\n`, { mode: 0o600 });
  return { dir, caFile, secretFile, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Environment that enables the Proxmox provider against the simulator. The secret travels as a
 * `_FILE` (what a child `hangar worker` process reads); polling is fast unless overridden.
 */
export function proxmoxEnv(sim: ProxmoxSimulator, files: SimFiles, node: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    HANGAR_PROVIDERS: 'proxmox',
    HANGAR_PROXMOX_URL: sim.url,
    HANGAR_PROXMOX_TOKEN_ID: sim.token.id,
    HANGAR_PROXMOX_TOKEN_SECRET_FILE: files.secretFile,
    HANGAR_PROXMOX_CA_FILE: files.caFile,
    HANGAR_PROXMOX_NODE: node,
    HANGAR_PROXMOX_TASK_POLL_MS: '25',
    HANGAR_PROXMOX_TASK_POLL_MAX_MS: '250',
    ...extra,
  };
}

/** Every VM whose description carries `hangar-machine=<machineId>`. */
export function machineVms(sim: ProxmoxSimulator, machineId: string): SimVm[] {
  return [...sim.vms.values()].filter((vm) =>
    String(vm.config.description ?? '')
      .split('\n')
      .some((l) => l.trim() === `hangar-machine=${machineId}`),
  );
}

export function allVolumes(sim: ProxmoxSimulator): SimVolume[] {
  return [...sim.storage.values()].flat();
}

/** The machine's cidata ISOs (any seed), in any storage. */
export function cidataVolumes(sim: ProxmoxSimulator, machineId: string): SimVolume[] {
  return allVolumes(sim).filter((v) => v.content === 'iso' && isCidataIsoOf(machineId, v.volid));
}

/** Disk volumes owned by a VMID (vm-<id>-disk-N, vm-<id>-cloudinit, …). */
export function volumesOfVmid(sim: ProxmoxSimulator, vmid: number): SimVolume[] {
  return allVolumes(sim).filter((v) => v.vmid === vmid);
}

/** Image volumes whose VM no longer exists. */
export function orphanDisks(sim: ProxmoxSimulator): SimVolume[] {
  return allVolumes(sim).filter((v) => v.content === 'images' && v.vmid !== undefined && !sim.vms.has(v.vmid));
}

export interface TimedTask {
  upid: string;
  type: string;
  /** The VMID the task is about (for qmclone: the source, as in PVE). */
  id: string;
  /** performance.now() at start and end. */
  startMs: number;
  endMs?: number;
  /** Date.now() at start and end (to line up with RecordedRequest.at). */
  startWall: number;
  endWall?: number;
  exitstatus?: string;
}

/**
 * Millisecond start/end times of every task the simulator starts from now on (SimTask keeps
 * whole seconds only): wraps `sim.tasks.set` and watches each task's `status` turning `stopped`.
 */
export function trackTaskTimes(sim: ProxmoxSimulator): { tasks: TimedTask[]; stop: () => void } {
  const timed: TimedTask[] = [];
  const map = sim.tasks;
  const originalSet = map.set;
  let active = true;
  map.set = function set(this: Map<string, SimTask>, upid: string, task: SimTask) {
    if (active) {
      const t: TimedTask = { upid, type: task.type, id: task.id, startMs: performance.now(), startWall: Date.now() };
      timed.push(t);
      let status = task.status;
      Object.defineProperty(task, 'status', {
        configurable: true,
        enumerable: true,
        get: () => status,
        set: (v: SimTask['status']) => {
          status = v;
          if (v === 'stopped' && t.endMs === undefined) {
            t.endMs = performance.now();
            t.endWall = Date.now();
            // exitstatus is set just before status in the simulator.
            t.exitstatus = task.exitstatus;
          }
        },
      });
    }
    return originalSet.call(this, upid, task) as Map<string, SimTask>;
  } as typeof map.set;
  return {
    tasks: timed,
    stop: () => {
      active = false;
      map.set = originalSet;
    },
  };
}

/** Total length of the union of [start, end) intervals. */
export function unionMs(intervals: [number, number][]): number {
  const sorted = intervals.filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  let total = 0;
  let curStart = -Infinity;
  let curEnd = -Infinity;
  for (const [a, b] of sorted) {
    if (a > curEnd) {
      if (curEnd > curStart) total += curEnd - curStart;
      curStart = a;
      curEnd = b;
    } else if (b > curEnd) {
      curEnd = b;
    }
  }
  if (curEnd > curStart) total += curEnd - curStart;
  return total;
}

/** The most intervals open at one instant. */
export function maxOverlap(intervals: [number, number][]): number {
  const events = intervals
    .flatMap(
      ([a, b]) =>
        [
          [a, 1],
          [b, -1],
        ] as [number, number][],
    )
    .sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let open = 0;
  let max = 0;
  for (const [, d] of events) {
    open += d;
    max = Math.max(max, open);
  }
  return max;
}
