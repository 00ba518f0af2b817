// A Proxmox VE API simulator for tests (and manual runs): HTTPS with a throw-away self-signed
// certificate, API-token auth, every call checked against the published schema (trimmed copy in
// pve-schema.trimmed.json), asynchronous tasks with real UPIDs, per-VM file locks, storage with
// volumes named like PVE names them, and seeded fault injection.
//
//   const sim = await startProxmoxSimulator({ seed: 1 });
//   // sim.url → https://127.0.0.1:<port>; the client appends /api2/json
//   // header: Authorization: PVEAPIToken=<sim.token.id>=<sim.token.secret>
//   await sim.close();
//
//   node test/fakes/proxmox/simulator.ts --port 8006     (prints url, fingerprint and a token)
//
// Behaviour follows PVE 9 (qemu-server, pve-storage, pve-common, pve-http-server) where the
// simulator implements an endpoint: the same sync checks and messages, the same task types
// (qmcreate, qmclone, qmconfig, resize, qmtemplate, qmstart, qmstop, qmshutdown, qmreboot,
// qmdestroy, imgcopy, download, imgdel), the same lock behaviour (`lock_config` waits, then
// "can't lock file '/var/lock/qemu-server/lock-<vmid>.conf' - got timeout").
//
// FAULTS (ProxmoxFaults; one seeded RNG, rolled in this order for every request that reaches the
// API path, after the body has been read and before anything else — authentication, schema
// validation, state):
//   1. dropRate           – the socket is destroyed without an answer.
//   2. transientRate      – a transient failure: 500 "got no worker", 503 "got no worker", or a
//                           dropped connection (one third each).
//   Both happen before any state change, so a retry of the same request is always safe.
//   3. dropAfterApplyRate – the request is handled (state changes, tasks start) and then the
//                           socket is destroyed instead of answering: the reply is lost, as on a
//                           real network. A client must be idempotent to survive this.
//   Dropped requests are recorded with status 0 and `fault` set. A rate of 0 consumes no random
//   numbers, so a seed replays the same fault sequence for the same request sequence.
//   taskDelayMs, failTask, lockTimeouts and rejectEndpoint are deterministic (see ProxmoxFaults);
//   rejectEndpoint also takes one concrete path, so one node's listing (`GET /nodes/pve2/qemu`)
//   or one storage's content listing can fail while the others answer.
// OUT OF BAND (sim.outOfBand): what a person does on the node behind the API's back — destroy a
// VM with its volumes, change config keys — next to seedVm (a VM made by hand) and seedVolume
// (an ISO left in a storage).
import { createHash, randomUUID, timingSafeEqual, X509Certificate } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { selfSignedCert } from '../../support/self-signed-cert.ts';
import { formatSize, loadValidator, parsePropertyString, parseSize, printPropertyString, splitList, type SchemaProperty } from './schema.ts';

// =============================================================================================
// Public API
// =============================================================================================
export interface ProxmoxFaults {
  /** Probability 0..1 that any API call answers a transient failure (random 500/503 "got no worker" or a dropped connection), before any state change. */
  transientRate?: number;
  /** Probability 0..1 of destroying the socket without any answer, before any state change (rolled separately from transientRate). */
  dropRate?: number;
  /** Probability 0..1 of applying the request and then destroying the socket instead of answering (the reply is lost). */
  dropAfterApplyRate?: number;
  /** Extra delay for tasks of these types (e.g. { qmclone: 3000 }). */
  taskDelayMs?: Record<string, number>;
  /** Make tasks of this type end with this exit status (e.g. { qmstart: 'start failed: QEMU exited with code 1' }); the task changes nothing. Permanent until cleared. */
  failTask?: Record<string, string>;
  /** Answer 500 "can't lock file '/var/lock/qemu-server/lock-<vmid>.conf' - got timeout" at once on mutating calls touching a VM whose lock is held by a running task, like real PVE does after its lock wait. */
  lockTimeouts?: boolean;
  /**
   * Permanently reject a method+path template, e.g. { 'POST /nodes/{node}/qemu/{vmid}/status/start': 'error text' }, or one
   * concrete path, e.g. { 'GET /nodes/pve2/qemu': '595 no route to host' } (one node's listing fails, the others answer).
   * A leading "<status> " (e.g. '403 Permission check failed') sets the status; default 500.
   */
  rejectEndpoint?: Record<string, string>;
}

export interface ProxmoxSimulatorOptions {
  nodes?: string[];
  storages?: { id: string; type: 'dir' | 'lvmthin' | 'zfspool'; content: string[]; shared?: boolean; total?: number }[];
  tokens?: { id: string; secret: string }[];
  tls?: boolean;
  /** Duration of every task (running → stopped), default 150 ms. */
  taskDurationMs?: number;
  faults?: ProxmoxFaults;
  seed?: number;
  // ---- extensions ----
  /** Listen port (default 0: any free port) and host (default 127.0.0.1). */
  port?: number;
  host?: string;
  /** How long lock_config waits for a VM's lock before "got timeout". Default 2 × taskDurationMs: two clones of one template in a row fit, unbounded parallelism does not. */
  lockWaitMs?: number;
  /** Clone takes the source lock exclusively (default; so concurrent clones of one template collide) or shared (as PVE does for a stopped source). */
  cloneSourceLock?: 'exclusive' | 'shared';
  /** PVE delays every unauthorized answer by 3 s; default 3000. */
  authFailureDelayMs?: number;
  /** Simulated length of one PVE "second" for waits PVE counts in seconds (shutdown timeout). Default 10 ms. */
  simulatedSecondMs?: number;
  /** Deleting a storage volume still named in a VM config: 'refuse' (default) or 'allow' (what PVE itself does). */
  referencedVolumeDelete?: 'refuse' | 'allow';
  /** Bridges every node has (default ['vmbr0']); starting a VM on another bridge fails. */
  bridges?: string[];
  /** Resource pools that exist (default none). */
  pools?: string[];
  /** Guest agent answers this long after a VM starts (default 2 × taskDurationMs). */
  guestBootMs?: number;
  /** What download-url fetches: content (verified against checksums), a size, or an error. Unknown URLs yield a 1 GiB file. */
  downloads?: Record<string, { data?: Buffer; size?: number; error?: string }>;
}

export interface SimVm {
  vmid: number;
  node: string;
  name: string;
  template: boolean;
  status: 'running' | 'stopped';
  config: Record<string, string | number>;
  lock?: string;
  // ---- extensions ----
  /** Pending changes of a running VM (applied at next start/stop), and pending deletions. */
  pending?: Record<string, string>;
  pendingDelete?: string[];
  /** The guest ignores ACPI power-down: shutdown/reboot time out unless forceStop. */
  ignoreAcpi?: boolean;
  /** Force the guest agent up (true) or down (false); default: up once booted if `agent` is enabled. */
  guestAgent?: boolean;
  startedAt?: number;
}
export interface SimTask {
  upid: string;
  node: string;
  type: string;
  id: string;
  status: 'running' | 'stopped';
  exitstatus?: string;
  log: string[];
  starttime: number;
  // ---- extensions ----
  user: string;
  pid: number;
  pstart: number;
  endtime?: number;
}
export interface SimVolume {
  volid: string;
  size: number;
  format?: string;
  content: string;
  // ---- extensions ----
  node: string;
  vmid?: number;
  /** Base volume of a linked clone. */
  parent?: string;
  ctime: number;
  notes?: string;
  /** Uploaded bytes (kept for uploads up to 16 MiB) and their sha256. */
  data?: Buffer;
  sha256?: string;
}
export interface RecordedRequest {
  method: string;
  path: string;
  params: Record<string, unknown>;
  status: number;
  schemaErrors?: Record<string, string>;
  authenticated: boolean;
  // ---- extensions ----
  template?: string;
  fault?: 'drop' | 'transient' | 'drop-after-apply';
  message?: string;
  at: number;
}
export interface ProxmoxSimulator {
  url: string;
  caPem: string;
  fingerprint256: string;
  vms: Map<number, SimVm>;
  storage: Map<string, SimVolume[]>;
  tasks: Map<string, SimTask>;
  requests: RecordedRequest[];
  setFaults(f: ProxmoxFaults): void;
  close(): Promise<void>;
  // ---- extensions ----
  /** The first token, and the header value a client sends. */
  token: { id: string; secret: string; header: string };
  faults: ProxmoxFaults;
  /** Clean-state check: VMs whose name/description/tags carry the marker, and volumes whose volid/notes carry it or that belong to those VMs. */
  leftovers(marker: string): { vms: SimVm[]; volumes: SimVolume[] };
  /** Puts a VM straight into state (no task): disks are 'storage:sizeGiB' allocations like the API's; template converts them to base volumes. */
  seedVm(vm: {
    vmid: number;
    node?: string;
    name?: string;
    template?: boolean;
    status?: 'running' | 'stopped';
    config?: Record<string, string | number>;
    ignoreAcpi?: boolean;
  }): SimVm;
  /** Puts a volume straight into a storage (e.g. an ISO or an import image). */
  seedVolume(storage: string, volname: string, size: number, opts?: { node?: string; data?: Buffer; notes?: string }): SimVolume;
  /**
   * What a person does behind Hangar's back (`qm destroy`, `qm set` on the node), with no task and
   * no API call: destroys a VM with the volumes it owns, or changes config keys (null deletes one).
   */
  outOfBand: {
    destroyVm(vmid: number): void;
    setConfig(vmid: number, changes: Record<string, string | number | null>): SimVm;
  };
  /** Resolves when no task is running. */
  idle(): Promise<void>;
}

// =============================================================================================
// Internals
// =============================================================================================
class PveError extends Error {
  status: number;
  errors?: Record<string, string>;
  constructor(status: number, message: string, errors?: Record<string, string>) {
    super(message);
    this.status = status;
    this.errors = errors;
  }
}
/** die "...\n" in PVE: HTTP 500 with the message. */
const die = (msg: string): never => {
  throw new PveError(500, msg.endsWith('\n') ? msg : `${msg}\n`);
};
/** raise_param_exc: HTTP 400 "Parameter verification failed." with per-parameter errors. */
const paramExc = (errors: Record<string, string>): never => {
  throw new PveError(400, 'Parameter verification failed.\n', errors);
};
const errText = (e: unknown) => (e instanceof Error ? e.message : String(e)).replace(/\n+$/, '');
/** A failTask fault: the task ends with exactly this text, never wrapped in "clone failed: …" and the like. */
class FaultError extends Error {}
/** Prefixes an error like PVE's `die "$prefix $err"`, except an injected task fault. */
const wrapError = (e: unknown, prefix: string): Error => (e instanceof FaultError ? e : new Error(`${prefix}${errText(e)}`));

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface StorageDef {
  id: string;
  type: 'dir' | 'lvmthin' | 'zfspool';
  content: string[];
  shared: boolean;
  total: number;
}
interface ParsedVolname {
  vtype: string;
  owner?: number;
  isBase: boolean;
  format: string;
  name: string;
  baseName?: string;
  baseOwner?: number;
}
interface Drive {
  file: string;
  [key: string]: string;
}

const GiB = 1024 ** 3;
const CLOUDINIT_SIZE = 4 * 1024 * 1024;
const DRIVE_RE = /^(ide[0-3]|sata[0-5]|scsi([0-9]|[12][0-9]|30)|virtio([0-9]|1[0-5])|efidisk0|tpmstate0)$/;
const DRIVE_ORDER = (k: string) => {
  const m = /^([a-z]+)(\d+)$/.exec(k)!;
  const bus = ['ide', 'sata', 'scsi', 'virtio', 'efidisk', 'tpmstate'].indexOf(m[1]!);
  return bus * 100 + Number(m[2]);
};
const NEW_DISK_RE = /^(([^/:\s]+):)?(\d+(\.\d+)?)$/;
/** Options PVE applies at once on a running VM (fast-plug and cloud-init options). */
const FAST_PLUG = new Set([
  'name',
  'description',
  'tags',
  'onboot',
  'protection',
  'startup',
  'lock',
  'hookscript',
  'vmstatestorage',
  'cicustom',
  'cipassword',
  'citype',
  'ciuser',
  'ciupgrade',
  'nameserver',
  'searchdomain',
  'sshkeys',
]);
const CONFIG_T = '/nodes/{node}/qemu/{vmid}/config';
const CREATE_T = '/nodes/{node}/qemu';

const hex8 = (n: number) => n.toString(16).toUpperCase().padStart(8, '0');
const now = () => Math.floor(Date.now() / 1000);

function human(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** qcow2 virtual size from its header, if the data is a qcow2 image. */
function qcow2VirtualSize(data: Buffer | undefined): number | undefined {
  if (!data || data.length < 32 || data.readUInt32BE(0) !== 0x514649fb) return undefined;
  return Number(data.readBigUInt64BE(24));
}

interface MultipartResult {
  fields: Record<string, string>;
  file?: { field: string; filename: string; data: Buffer };
  error?: string;
}
/** Multipart parsing the way pveproxy does it: fields first, then the file part named 'filename', whose data runs to the closing delimiter. */
function parseMultipart(body: Buffer, boundary: string): MultipartResult {
  const out: MultipartResult = { fields: {} };
  const delim = Buffer.from(`--${boundary}`);
  let pos = body.indexOf(delim);
  while (pos >= 0) {
    pos += delim.length;
    if (body.subarray(pos, pos + 2).toString() === '--') break;
    const headEnd = body.indexOf('\r\n\r\n', pos);
    if (headEnd < 0) break;
    const head = body.subarray(pos, headEnd).toString('utf8');
    const disp = /Content-Disposition:\s*([^;\r\n]+)((?:;[^\r\n]*)?)/i.exec(head);
    const name = disp ? /;\s*name="([^"]*)"/.exec(disp[2]!)?.[1] : undefined;
    const filename = disp ? /;\s*filename="([^"]*)"/.exec(disp[2]!)?.[1] : undefined;
    const dataStart = headEnd + 4;
    if (!disp || disp[1]!.trim() !== 'form-data' || !name) return { ...out, error: 'wrong content disposition in multipart - abort upload' };
    if (filename !== undefined) {
      if (name !== 'filename') return { ...out, error: `wrong field name '${name}' for file upload, expected 'filename'` };
      const close = body.indexOf(Buffer.from(`--${boundary}--`), dataStart);
      if (close < 0) return { ...out, error: 'upload failed' };
      let end = close;
      if (body[end - 1] === 0x0a) end--;
      if (body[end - 1] === 0x0d) end--;
      out.file = { field: name, filename: filename.trim(), data: Buffer.from(body.subarray(dataStart, end)) };
      return out;
    }
    const next = body.indexOf(delim, dataStart);
    if (next < 0) break;
    let end = next;
    if (body[end - 1] === 0x0a) end--;
    if (body[end - 1] === 0x0d) end--;
    out.fields[name] = body.subarray(dataStart, end).toString('utf8').trim();
    pos = next;
  }
  return out;
}

// =============================================================================================
export async function startProxmoxSimulator(opts: ProxmoxSimulatorOptions = {}): Promise<ProxmoxSimulator> {
  const schema = loadValidator();
  const nodes = opts.nodes?.length ? [...opts.nodes] : ['pve1'];
  const storageDefs = new Map<string, StorageDef>();
  for (const s of opts.storages ?? [
    { id: 'local', type: 'dir' as const, content: ['iso', 'vztmpl', 'import', 'images'] },
    { id: 'local-lvm', type: 'lvmthin' as const, content: ['images', 'rootdir'] },
  ]) {
    storageDefs.set(s.id, {
      id: s.id,
      type: s.type,
      content: [...s.content],
      shared: s.shared ?? false,
      total: s.total ?? (s.type === 'dir' ? 100 : 500) * GiB,
    });
  }
  const tokens = opts.tokens?.length ? opts.tokens.map((t) => ({ ...t })) : [{ id: 'hangar@pve!ci', secret: randomUUID() }];
  const taskMs = opts.taskDurationMs ?? 150;
  const lockWaitMs = opts.lockWaitMs ?? 2 * taskMs;
  const authDelay = opts.authFailureDelayMs ?? 3000;
  const secondMs = opts.simulatedSecondMs ?? 10;
  const guestBootMs = opts.guestBootMs ?? 2 * taskMs;
  const bridges = new Set(opts.bridges ?? ['vmbr0']);
  const pools = new Set(opts.pools ?? []);
  let faults: ProxmoxFaults = { ...(opts.faults ?? {}) };
  const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 32);
  const faultRng = mulberry32(seed);
  const dataRng = mulberry32(seed ^ 0x9e3779b9);

  const vms = new Map<number, SimVm>();
  const storage = new Map<string, SimVolume[]>();
  for (const id of storageDefs.keys()) storage.set(id, []);
  const tasks = new Map<string, SimTask>();
  const requests: RecordedRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const taskAborts = new Map<string, AbortController>();
  const running = new Set<Promise<void>>();
  let closed = false;

  // ---------------------------------------------------------------------------------------------
  // Small helpers
  const randHex = (bytes: number) =>
    Array.from({ length: bytes }, () =>
      Math.floor(dataRng() * 256)
        .toString(16)
        .padStart(2, '0'),
    ).join('');
  const uuid = () => {
    const h = randHex(16);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
  };
  const randomMac = () => `BC:24:11:${randHex(3).toUpperCase().match(/../g)!.join(':')}`;

  function sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((res, rej) => {
      if (signal?.aborted) return rej(new Error('interrupted by signal'));
      const onAbort = () => {
        clearTimeout(t);
        timers.delete(t);
        rej(new Error('interrupted by signal'));
      };
      const t = setTimeout(
        () => {
          timers.delete(t);
          signal?.removeEventListener('abort', onAbort);
          res();
        },
        Math.max(0, ms),
      );
      timers.add(t);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  function resolveNode(name: string): string {
    if (name === 'localhost') return nodes[0]!;
    if (!nodes.includes(name)) die(`hostname lookup '${name}' failed - failed to get address info for: ${name}: Name or service not known`);
    return name;
  }
  function storageDef(id: string): StorageDef {
    const def = storageDefs.get(id);
    if (!def) die(`storage '${id}' does not exist`);
    return def!;
  }
  function loadVm(node: string, vmid: number): SimVm {
    const vm = vms.get(vmid);
    if (!vm || vm.node !== node) die(`Configuration file 'nodes/${node}/qemu-server/${vmid}.conf' does not exist`);
    return vm!;
  }
  function syncVm(vm: SimVm): void {
    vm.name = String(vm.config.name ?? `VM ${vm.vmid}`);
    vm.template = String(vm.config.template ?? '0') === '1';
  }
  function checkLock(vm: SimVm, skiplock?: unknown): void {
    if (vm.lock && !skiplock) die(`VM is locked (${vm.lock})`);
  }

  // ---------------------------------------------------------------------------------------------
  // Locks: /var/lock/qemu-server/lock-<vmid>.conf (flock; exclusive or shared)
  interface FileLock {
    exclusive: boolean;
    shared: number;
    waiters: Set<() => void>;
  }
  const locks = new Map<number, FileLock>();
  const lockOf = (vmid: number) => {
    let l = locks.get(vmid);
    if (!l) locks.set(vmid, (l = { exclusive: false, shared: 0, waiters: new Set() }));
    return l;
  };
  const isLocked = (vmid: number) => {
    const l = locks.get(vmid);
    return !!l && (l.exclusive || l.shared > 0);
  };
  async function lockConfig(vmid: number, waitMs: number, mode: 'exclusive' | 'shared' = 'exclusive', signal?: AbortSignal): Promise<() => void> {
    const l = lockOf(vmid);
    const deadline = Date.now() + waitMs;
    for (;;) {
      if (!l.exclusive && (mode === 'shared' || l.shared === 0)) {
        if (mode === 'exclusive') l.exclusive = true;
        else l.shared++;
        let released = false;
        return () => {
          if (released) return;
          released = true;
          if (mode === 'exclusive') l.exclusive = false;
          else l.shared--;
          for (const w of [...l.waiters]) w();
        };
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0 || faults.lockTimeouts) die(`can't lock file '/var/lock/qemu-server/lock-${vmid}.conf' - got timeout`);
      if (signal?.aborted) throw new Error('interrupted by signal');
      await new Promise<void>((res) => {
        const wake = () => {
          clearTimeout(t);
          timers.delete(t);
          l.waiters.delete(wake);
          res();
        };
        const t = setTimeout(wake, remaining);
        timers.add(t);
        l.waiters.add(wake);
      });
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Tasks
  let pidCounter = 0x1000 + Math.floor(dataRng() * 0x10000);
  const bootTime = now() - 3600;
  interface TaskCtx {
    upid: string;
    signal: AbortSignal;
    log(line: string): void;
    warn(line: string): void;
    /** Waits the task's duration (taskDurationMs + taskDelayMs[type]), then fails if failTask[type] is set. Call it before changing state. */
    work(): Promise<void>;
    sleep(ms: number): Promise<void>;
  }
  function startTask(node: string, type: string, id: string, user: string, body: (ctx: TaskCtx) => Promise<void>): string {
    const pid = ++pidCounter;
    const starttime = now();
    const pstart = (starttime - bootTime) * 100 + Math.floor(dataRng() * 100);
    const upid = `UPID:${node}:${hex8(pid)}:${hex8(pstart)}:${hex8(starttime)}:${type}:${id}:${user}:`;
    const task: SimTask = { upid, node, type, id, status: 'running', log: [], starttime, user, pid, pstart };
    tasks.set(upid, task);
    const abort = new AbortController();
    taskAborts.set(upid, abort);
    let warnings = 0;
    const ctx: TaskCtx = {
      upid,
      signal: abort.signal,
      log: (line) => {
        task.log.push(line);
      },
      warn: (line) => {
        warnings++;
        task.log.push(`WARN: ${line}`);
      },
      sleep: (ms) => sleep(ms, abort.signal),
      async work() {
        await sleep(taskMs + (faults.taskDelayMs?.[type] ?? 0), abort.signal);
        const f = faults.failTask?.[type];
        if (f !== undefined) throw new FaultError(f);
      },
    };
    const p = (async () => {
      try {
        await body(ctx);
        task.exitstatus = warnings ? `WARNINGS: ${warnings}` : 'OK';
        task.log.push(warnings ? `TASK WARNINGS: ${warnings}` : 'TASK OK');
      } catch (e) {
        const msg = errText(e);
        task.exitstatus = msg;
        task.log.push(`TASK ERROR: ${msg}`);
      } finally {
        task.status = 'stopped';
        task.endtime = now();
        taskAborts.delete(upid);
      }
    })();
    running.add(p);
    void p.finally(() => running.delete(p));
    return upid;
  }
  /** Wraps a task body in the VM's config lock (lock_config inside the worker). */
  const withVmLock = (vmid: number, fn: (ctx: TaskCtx) => Promise<void>) => async (ctx: TaskCtx) => {
    const release = await lockConfig(vmid, lockWaitMs, 'exclusive', ctx.signal);
    try {
      await fn(ctx);
    } finally {
      release();
    }
  };

  // ---------------------------------------------------------------------------------------------
  // Storage and volumes
  function parseVolname(def: StorageDef, volname: string): ParsedVolname {
    let m: RegExpExecArray | null;
    if (def.type === 'dir') {
      if ((m = /^(\d+)\/((base|vm)-(\d+)-[^/]+\.(raw|qcow2|vmdk))$/.exec(volname)) && m[1] === m[4]) {
        return { vtype: 'images', owner: Number(m[1]), isBase: m[3] === 'base', format: m[5]!, name: m[2]! };
      }
      if ((m = /^(\d+)\/(base-(\d+)-[^/]+\.(raw|qcow2|vmdk))\/(\d+)\/(vm-(\d+)-[^/]+\.(raw|qcow2|vmdk))$/.exec(volname)) && m[5] === m[7]) {
        return { vtype: 'images', owner: Number(m[5]), isBase: false, format: m[8]!, name: m[6]!, baseName: m[2]!, baseOwner: Number(m[1]) };
      }
      if ((m = /^iso\/([^/]+\.(iso|img))$/i.exec(volname))) return { vtype: 'iso', isBase: false, format: 'iso', name: m[1]! };
      if ((m = /^vztmpl\/([^/]+\.tar\.(gz|xz|zst|bz2))$/.exec(volname))) return { vtype: 'vztmpl', isBase: false, format: `t${m[2]}`, name: m[1]! };
      if ((m = /^import\/([^/]+\.(ova|ovf|qcow2|raw|vmdk))$/.exec(volname))) return { vtype: 'import', isBase: false, format: m[2]!, name: m[1]! };
      if ((m = /^snippets\/([^/]+)$/.exec(volname))) return { vtype: 'snippets', isBase: false, format: 'snippet', name: m[1]! };
      return die(`unable to parse directory volume name '${volname}'`);
    }
    if (def.type === 'lvmthin') {
      if ((m = /^((vm|base)-(\d+)-\S+)$/.exec(volname))) return { vtype: 'images', owner: Number(m[3]), isBase: m[2] === 'base', format: 'raw', name: m[1]! };
      return die(`unable to parse lvm volume name '${volname}'`);
    }
    if ((m = /^(((base|vm)-(\d+)-[^/\s]+)\/)?((base|vm)-(\d+)-\S+)$/.exec(volname))) {
      return {
        vtype: 'images',
        owner: Number(m[7]),
        isBase: m[6] === 'base',
        format: 'raw',
        name: m[5]!,
        baseName: m[2],
        baseOwner: m[4] ? Number(m[4]) : undefined,
      };
    }
    return die(`unable to parse zfs volume name '${volname}'`);
  }
  function volPath(def: StorageDef, volname: string): string {
    const p = parseVolname(def, volname);
    if (def.type === 'dir') {
      if (p.vtype === 'images') return `/var/lib/vz/images/${volname}`;
      if (p.vtype === 'iso') return `/var/lib/vz/template/iso/${p.name}`;
      if (p.vtype === 'vztmpl') return `/var/lib/vz/template/cache/${p.name}`;
      return `/var/lib/vz/${volname}`;
    }
    if (def.type === 'lvmthin') return `/dev/pve/${p.name}`;
    return `/dev/zvol/rpool/data/${p.name}`;
  }
  function splitVolid(volid: string): { sid: string; volname: string } {
    const m = /^([a-z][a-z0-9\-_.]*[a-z0-9]):(.+)$/is.exec(volid);
    if (!m) die(`unable to parse volume ID '${volid}'`);
    return { sid: m![1]!, volname: m![2]! };
  }
  function findVolume(volid: string, node: string): SimVolume | undefined {
    const { sid } = splitVolid(volid);
    const def = storageDefs.get(sid);
    return storage.get(sid)?.find((v) => v.volid === volid && (def?.shared || v.node === node));
  }
  function addVolume(sid: string, v: Omit<SimVolume, 'ctime'> & { ctime?: number }): SimVolume {
    const list = storage.get(sid)!;
    const vol: SimVolume = { ctime: now(), ...v };
    const i = list.findIndex((x) => x.volid === vol.volid && x.node === vol.node);
    if (i >= 0) list[i] = vol;
    else list.push(vol);
    return vol;
  }
  function removeVolume(volid: string, node: string): void {
    const { sid } = splitVolid(volid);
    const list = storage.get(sid);
    if (!list) return;
    const def = storageDefs.get(sid);
    const i = list.findIndex((v) => v.volid === volid && (def?.shared || v.node === node));
    if (i >= 0) list.splice(i, 1);
  }
  function usedNames(sid: string, node: string): Set<string> {
    const def = storageDefs.get(sid)!;
    return new Set(
      (storage.get(sid) ?? [])
        .filter((v) => def.shared || v.node === node)
        .map((v) => {
          const p = parseVolname(def, splitVolid(v.volid).volname);
          return p.name.replace(/\.(raw|qcow2|vmdk)$/, '');
        }),
    );
  }
  /** vdisk_alloc: a new image volume for vmid. */
  function allocDisk(sid: string, node: string, vmid: number, size: number, fmt?: string, name?: string): SimVolume {
    const def = storageDef(sid);
    if (!def.content.includes('images')) die(`storage '${sid}' does not support vm images`);
    const format = def.type === 'dir' ? (fmt ?? 'qcow2') : 'raw';
    let base = name;
    if (!base) {
      const used = usedNames(sid, node);
      let n = 0;
      while (used.has(`vm-${vmid}-disk-${n}`) || used.has(`base-${vmid}-disk-${n}`)) n++;
      base = `vm-${vmid}-disk-${n}`;
    } else if (usedNames(sid, node).has(base)) {
      die(`volume '${sid}:${base}' already exists`);
    }
    const volname = def.type === 'dir' ? `${vmid}/${base}.${format}` : base;
    return addVolume(sid, { volid: `${sid}:${volname}`, size, format, content: 'images', node, vmid });
  }
  /** vdisk_create_base: vm-X-disk-N → base-X-disk-N. */
  function createBase(volid: string, node: string): string {
    const { sid, volname } = splitVolid(volid);
    const def = storageDef(sid);
    const p = parseVolname(def, volname);
    if (p.isBase) return volid;
    if (p.baseName) die(`create_base not possible with linked clone volume '${volname}'`);
    const vol = findVolume(volid, node);
    if (!vol) die(`volume '${volid}' does not exist`);
    const newName = volname.replace(/(^|\/)vm-(\d+)-/, '$1base-$2-');
    vol!.volid = `${sid}:${newName}`;
    return vol!.volid;
  }
  /** clone_image: a linked clone of a base volume. */
  function cloneImage(volid: string, node: string, newid: number): SimVolume {
    const { sid, volname } = splitVolid(volid);
    const def = storageDef(sid);
    const p = parseVolname(def, volname);
    if (!p.isBase) die('clone_image only works on base images');
    const src = findVolume(volid, node);
    if (!src) die(`volume '${volid}' does not exist`);
    const used = usedNames(sid, node);
    let n = 0;
    while (used.has(`vm-${newid}-disk-${n}`) || used.has(`base-${newid}-disk-${n}`)) n++;
    const name = `vm-${newid}-disk-${n}`;
    const newVolname = def.type === 'dir' ? `${p.owner}/${p.name}/${newid}/${name}.${p.format}` : def.type === 'zfspool' ? `${p.name}/${name}` : name;
    return addVolume(sid, { volid: `${sid}:${newVolname}`, size: src!.size, format: src!.format, content: 'images', node, vmid: newid, parent: volid });
  }
  const baseInUse = (volid: string) => [...storage.values()].flat().some((v) => v.parent === volid);
  /** Config keys of VMs on this node that name the volume. */
  function volumeUsers(volid: string, node: string): { vmid: number; key: string }[] {
    const out: { vmid: number; key: string }[] = [];
    for (const vm of vms.values()) {
      if (vm.node !== node && !storageDefs.get(splitVolid(volid).sid)?.shared) continue;
      for (const [k, v] of Object.entries({ ...vm.config, ...(vm.pending ?? {}) })) {
        if ((DRIVE_RE.test(k) || /^unused\d+$/.test(k)) && parseDriveValue(k, String(v)).file === volid) out.push({ vmid: vm.vmid, key: k });
      }
    }
    return out;
  }
  /** vdisk_free, with the PVE log line; throws like PVE. */
  function freeVolume(volid: string, node: string, log: (l: string) => void, warn: (l: string) => void): void {
    const { sid, volname } = splitVolid(volid);
    const def = storageDef(sid);
    const p = parseVolname(def, volname);
    if (p.isBase && baseInUse(volid)) die(`base volume '${volname}' is still in use by linked clones`);
    const vol = findVolume(volid, node);
    if (!vol) {
      if (def.type === 'lvmthin') die(`lvremove 'pve/${p.name}' error:   Failed to find logical volume "pve/${p.name}"`);
      if (def.type === 'zfspool') die(`zfs error: cannot open 'rpool/data/${p.name}': dataset does not exist`);
      warn(`disk image '${volPath(def, volname)}' does not exist`);
      return;
    }
    removeVolume(volid, node);
    if (def.type === 'lvmthin') log(`  Logical volume "${p.name}" successfully removed.`);
    else if (def.type === 'dir' && p.vtype === 'images') log('Removing image: 100% complete...done.');
  }

  // ---------------------------------------------------------------------------------------------
  // Drives and config values
  function driveFormat(key: string): Record<string, SchemaProperty> {
    const prop = schema.property('POST', CREATE_T, key.startsWith('unused') ? 'unused0' : key);
    return (prop?.format && typeof prop.format === 'object' ? prop.format : { file: { type: 'string', default_key: 1 } }) as Record<string, SchemaProperty>;
  }
  function parseDriveValue(key: string, value: string): Drive {
    try {
      return parsePropertyString(driveFormat(key), value, key) as Drive;
    } catch {
      return { file: value.split(',')[0] ?? '' };
    }
  }
  const printDrive = (d: Drive) => printPropertyString(d, 'file');
  const isCdrom = (d: Drive) => d.media === 'cdrom';
  const isCloudinit = (d: Drive) => /(^|[:/])vm-\d+-cloudinit(\.\w+)?$/.test(d.file) || /(^|:)cloudinit$/.test(d.file);
  const drivesOf = (cfg: Record<string, string | number>) =>
    Object.keys(cfg)
      .filter((k) => DRIVE_RE.test(k))
      .sort((a, b) => DRIVE_ORDER(a) - DRIVE_ORDER(b));

  function printNet(value: string): string {
    const fmt = schema.property('POST', CREATE_T, 'net0')!.format as Record<string, SchemaProperty>;
    const net = parsePropertyString(fmt, value, 'net');
    const model = net.model!;
    const mac = net.macaddr ?? randomMac();
    const rest: Record<string, string> = { ...net };
    delete rest.model;
    delete rest.macaddr;
    return printPropertyString(rest, undefined, `${model}=${mac}`);
  }
  function macOf(value: string): string | undefined {
    return /(?:^|,)(?:[a-z0-9_-]+=)?([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5})(?:,|$)/.exec(value)?.[1];
  }
  const nextUnused = (cfg: Record<string, string | number>) => {
    let n = 0;
    while (cfg[`unused${n}`] !== undefined) n++;
    return `unused${n}`;
  };

  /** Sync checks of drive parameters (check_drive_param + check_storage_access). */
  function checkDriveParams(params: Record<string, unknown>, node: string, defaultStorage?: string): void {
    for (const key of Object.keys(params).filter((k) => DRIVE_RE.test(k))) {
      const d = parseDriveValue(key, String(params[key]));
      const nd = NEW_DISK_RE.exec(d.file);
      if (d['import-from'] && (!nd || Number(nd[3]) !== 0)) {
        paramExc({ [key]: "'import-from' requires special syntax - use <storage ID>:0,import-from=<source>" });
      }
      if (!d.file || d.file === 'none' || d.file === 'cdrom' || d.file === 'cloudinit') continue;
      if (d.file.startsWith('/')) continue;
      if (nd && !isCdrom(d)) {
        const sid = nd[2] ?? defaultStorage;
        if (!sid) die('no storage ID specified (and no default storage)');
        if (!storageDef(sid!).content.includes('images')) paramExc({ storage: `storage '${sid}' does not support vm images` });
      } else if (!nd) {
        const { sid, volname } = splitVolid(d.file);
        const def = storageDef(sid);
        if (volname === 'cloudinit') continue;
        const p = parseVolname(def, volname);
        if (p.vtype !== 'images' && p.vtype !== 'iso') paramExc({ [key]: "content type needs to be 'images' or 'iso'" });
        if (p.vtype === 'iso' && !isCdrom(d)) paramExc({ [key]: "explicit 'media=cdrom' is required for iso images" });
      }
      const src = d['import-from'];
      if (src && !src.startsWith('/')) {
        const { sid, volname } = splitVolid(src);
        const p = parseVolname(storageDef(sid), volname);
        if (p.vtype !== 'images' && p.vtype !== 'import') paramExc({ [key]: `${src} has wrong type '${p.vtype}' - needs to be 'images' or 'import'` });
      }
    }
    void node;
  }

  /** create_disks: allocates/imports/attaches; returns printed values. Frees what it created on error. */
  function createDisks(
    vm: SimVm,
    settings: Record<string, string>,
    defaultStorage: string | undefined,
    log: (l: string) => void,
    vollist: string[],
  ): Record<string, string> {
    const res: Record<string, string> = {};
    const created: string[] = [];
    const cloudinitAt = () =>
      Object.keys({ ...vm.config, ...res }).find((k) => DRIVE_RE.test(k) && isCloudinit(parseDriveValue(k, String(vm.config[k] ?? res[k]))));
    try {
      for (const key of Object.keys(settings)
        .filter((k) => DRIVE_RE.test(k))
        .sort()) {
        const d = parseDriveValue(key, settings[key]!);
        const nd = NEW_DISK_RE.exec(d.file);
        const volname = /^[^:]+:(.+)$/.exec(d.file)?.[1];
        if (!d.file || d.file === 'none' || d.file === 'cdrom') {
          delete d.size;
          res[key] = printDrive(d);
        } else if (d.file === 'cloudinit' || volname === 'cloudinit') {
          const sid = d.file.includes(':') ? d.file.split(':')[0]! : defaultStorage;
          if (!sid) die('no storage ID specified (and no default storage)');
          const at = cloudinitAt();
          if (at && at !== key) die(`${key} - cloud-init drive is already attached at '${at}'`);
          const def = storageDef(sid!);
          const vol = allocDisk(sid!, vm.node, vm.vmid, CLOUDINIT_SIZE, def.type === 'dir' ? (d.format ?? 'qcow2') : undefined, `vm-${vm.vmid}-cloudinit`);
          created.push(vol.volid);
          vol.format = def.type === 'dir' ? (d.format ?? 'qcow2') : 'raw';
          d.file = vol.volid;
          d.media = 'cdrom';
          delete d.format;
          res[key] = printDrive(d);
          log(`${key}: successfully created disk '${res[key]}'`);
        } else if (nd) {
          const sid = nd[2] ?? defaultStorage;
          if (!sid) die('no storage ID specified (and no default storage)');
          let size = Math.trunc(Number(nd[3]) * GiB);
          const src = d['import-from'];
          delete d['import-from'];
          if (src) {
            if (src.startsWith('/')) die(`could not get file size of ${src}`);
            const srcVol = findVolume(src, vm.node);
            if (!srcVol) die(`cannot import from '${src}' - could not get size of ${src}`);
            if (isCloudinit({ file: src })) die(`cannot import from '${src}' - cannot import from cloudinit disk`);
            size = qcow2VirtualSize(srcVol!.data) ?? srcVol!.size;
            log(`transferred 0.0 B of ${human(size)} (0.00%)`);
            log(`transferred ${human(size)} of ${human(size)} (100.00%)`);
          }
          if (key === 'efidisk0') size = storageDef(sid!).type === 'dir' ? (d.efitype === '4m' ? 540672 : 131072) : 4 * 1024 * 1024;
          if (key === 'tpmstate0') size = 4 * 1024 * 1024;
          const vol = allocDisk(sid!, vm.node, vm.vmid, size, d.format);
          created.push(vol.volid);
          if (storageDef(sid!).type === 'lvmthin') log(`  Logical volume "${splitVolid(vol.volid).volname}" created.`);
          let volid = vol.volid;
          if (vm.template) volid = createBase(volid, vm.node);
          created[created.length - 1] = volid;
          d.file = volid;
          d.size = formatSize(size);
          delete d.format;
          res[key] = printDrive(d);
          log(`${key}: successfully created disk '${res[key]}'`);
        } else if (d.file.startsWith('/')) {
          res[key] = printDrive(d);
        } else {
          const { sid, volname: vn } = splitVolid(d.file);
          const p = parseVolname(storageDef(sid), vn);
          if (p.vtype !== 'images' && p.vtype !== 'iso') die(`cannot use volume ${d.file} - content type needs to be 'images' or 'iso'`);
          if (isCloudinit(d)) {
            const at = cloudinitAt();
            if (at && at !== key) die(`${key} - cloud-init drive is already attached at '${at}'`);
          }
          const vol = findVolume(d.file, vm.node);
          if (!vol) die(`volume ${d.file} does not exist`);
          if (!isCloudinit(d)) d.size = formatSize(vol!.size);
          res[key] = printDrive(d);
        }
      }
    } catch (e) {
      for (const volid of created) removeVolume(volid, vm.node);
      throw e;
    }
    vollist.push(...created);
    return res;
  }

  function hotpluggable(vm: SimVm, key: string): boolean {
    if (vm.status !== 'running') return true;
    if (FAST_PLUG.has(key) || /^ipconfig\d+$/.test(key)) return true;
    const hp = String(vm.config.hotplug ?? 'network,disk,usb');
    const feats = hp === '1' ? ['network', 'disk', 'usb'] : hp === '0' ? [] : hp.split(',');
    if (/^net\d+$/.test(key)) return feats.includes('network');
    if (DRIVE_RE.test(key) || /^unused\d+$/.test(key)) return feats.includes('disk');
    if (/^usb\d+$/.test(key)) return feats.includes('usb');
    if (['cores', 'sockets', 'vcpus'].includes(key)) return feats.includes('cpu');
    if (key === 'memory' || key === 'balloon') return feats.includes('memory');
    return false;
  }

  function removeFromBootOrder(vm: SimVm, key: string): void {
    const boot = vm.config.boot;
    if (typeof boot !== 'string') return;
    const m = /(^|,)order=([^,]*)/.exec(boot);
    if (!m) return;
    const order = m[2]!.split(';').filter((x) => x && x !== key);
    vm.config.boot = boot.replace(/(^|,)order=[^,]*/, `$1order=${order.join(';')}`);
  }
  function addCdromToBootOrder(vm: SimVm, key: string): void {
    const boot = vm.config.boot;
    if (typeof boot !== 'string') return;
    const m = /(^|,)order=([^,]*)/.exec(boot);
    if (!m || m[2]!.split(';').includes(key)) return;
    vm.config.boot = boot.replace(/(^|,)order=[^,]*/, `$1order=${[...m[2]!.split(';').filter(Boolean), key].join(';')}`);
  }

  /** Deletes one option from the current config (vmconfig_delete_or_detach_drive & co). */
  function deleteOption(vm: SimVm, opt: string, force: boolean, log: (l: string) => void, warn: (l: string) => void): void {
    const val = vm.config[opt];
    if (val === undefined) return;
    if (/^unused\d+$/.test(opt)) {
      const d = parseDriveValue(opt, String(val));
      const stillUsed = volumeUsers(d.file, vm.node).some((u) => u.vmid === vm.vmid && u.key !== opt);
      if (!stillUsed) freeVolume(d.file, vm.node, log, warn);
      delete vm.config[opt];
    } else if (DRIVE_RE.test(opt)) {
      const d = parseDriveValue(opt, String(val));
      delete vm.config[opt];
      removeFromBootOrder(vm, opt);
      if (isCloudinit(d)) freeVolume(d.file, vm.node, log, warn);
      else if (!isCdrom(d) && d.file && d.file !== 'none' && !d.file.startsWith('/')) {
        if (force) freeVolume(d.file, vm.node, log, warn);
        else vm.config[nextUnused(vm.config)] = d.file;
      }
    } else {
      delete vm.config[opt];
    }
  }

  /** Applies one option value to the current config. */
  function setOption(vm: SimVm, key: string, value: string, log: (l: string) => void, vollist: string[]): void {
    if (DRIVE_RE.test(key)) {
      const old = vm.config[key];
      const created = createDisks(vm, { [key]: value }, undefined, log, vollist);
      if (old !== undefined) {
        const od = parseDriveValue(key, String(old));
        const nd = parseDriveValue(key, created[key]!);
        if (od.file !== nd.file && !isCdrom(od) && !isCloudinit(od) && od.file && od.file !== 'none' && !od.file.startsWith('/')) {
          vm.config[nextUnused(vm.config)] = od.file;
        }
      }
      vm.config[key] = created[key]!;
      if (isCdrom(parseDriveValue(key, created[key]!))) addCdromToBootOrder(vm, key);
    } else if (/^net\d+$/.test(key)) {
      vm.config[key] = printNet(value);
    } else if (key === 'tags') {
      vm.config[key] = [...new Set(splitList(value))].sort().join(';');
    } else if (key === 'vmgenid' && value === '1') {
      vm.config[key] = uuid();
    } else {
      vm.config[key] = value;
    }
  }

  /** The update part of update_vm_api (POST/PUT config, unlink) once the checks passed. */
  function applyUpdate(
    vm: SimVm,
    changes: Record<string, string>,
    deletes: string[],
    force: boolean,
    log: (l: string) => void,
    warn: (l: string) => void,
  ): void {
    const vollist: string[] = [];
    try {
      for (const opt of deletes) {
        const cur = vm.config[opt] ?? vm.pending?.[opt];
        if (cur === undefined) {
          warn(`cannot delete '${opt}' - not set in current configuration!`);
          continue;
        }
        if (vm.pending && opt in vm.pending) delete vm.pending[opt];
        if (vm.config[opt] === undefined) continue;
        if (!hotpluggable(vm, opt)) {
          (vm.pendingDelete ??= []).push(force ? `!${opt}` : opt);
          continue;
        }
        deleteOption(vm, opt, force, log, warn);
      }
      for (const key of Object.keys(changes)) {
        if (!hotpluggable(vm, key)) {
          (vm.pending ??= {})[key] = /^net\d+$/.test(key) ? printNet(changes[key]!) : changes[key]!;
          continue;
        }
        setOption(vm, key, changes[key]!, log, vollist);
      }
    } catch (e) {
      for (const volid of vollist) removeVolume(volid, vm.node);
      throw e;
    }
    syncVm(vm);
  }
  function applyPending(vm: SimVm): void {
    const noop = () => {};
    for (const d of vm.pendingDelete ?? []) deleteOption(vm, d.replace(/^!/, ''), d.startsWith('!'), noop, noop);
    for (const [k, v] of Object.entries(vm.pending ?? {})) {
      try {
        setOption(vm, k, v, noop, []);
      } catch {
        /* keep going, like vmconfig_apply_pending warns */
      }
    }
    delete vm.pending;
    delete vm.pendingDelete;
    syncVm(vm);
  }

  function digestOf(vm: SimVm): string {
    const cfg = Object.keys(vm.config)
      .sort()
      .map((k) => `${k}: ${vm.config[k]}`)
      .join('\n');
    const pend = Object.keys(vm.pending ?? {})
      .sort()
      .map((k) => `${k}: ${vm.pending![k]}`)
      .join('\n');
    return createHash('sha1')
      .update(`${cfg}\n[PENDING]\n${pend}\n${(vm.pendingDelete ?? []).join(',')}\n${vm.lock ?? ''}`)
      .digest('hex');
  }
  function typedConfig(cfg: Record<string, string | number>): Record<string, string | number> {
    const out: Record<string, string | number> = {};
    for (const [k, v] of Object.entries(cfg)) {
      const prop = schema.returnProperty('GET', CONFIG_T, k);
      out[k] = prop && ['integer', 'number', 'boolean'].includes(prop.type ?? '') && v !== '' && !Number.isNaN(Number(v)) ? Number(v) : String(v);
    }
    return out;
  }
  function sshKeysCheck(value: unknown): void {
    if (value === undefined) return;
    let text: string;
    try {
      text = decodeURIComponent(String(value));
    } catch {
      return die('SSH public key validation error');
    }
    for (const line of text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'))) {
      if (!/^(?:\S+\s+)?(ssh-(rsa|dss|ed25519)|ecdsa-sha2-nistp\d+|sk-\S+)\s+[A-Za-z0-9+/]+=*(\s.*)?$/.test(line)) die('SSH public key validation error');
    }
  }
  function defaultBoot(cfg: Record<string, string | number>): string {
    const order: string[] = [];
    const drives = drivesOf(cfg);
    const disk =
      typeof cfg.bootdisk === 'string' && cfg[cfg.bootdisk] !== undefined
        ? cfg.bootdisk
        : drives.find((k) => {
            const d = parseDriveValue(k, String(cfg[k]));
            return !isCdrom(d) && k !== 'efidisk0' && k !== 'tpmstate0';
          });
    if (disk) order.push(disk);
    for (const k of drives) {
      const d = parseDriveValue(k, String(cfg[k]));
      if (isCdrom(d) && !isCloudinit(d)) order.push(k);
    }
    const net = Object.keys(cfg)
      .filter((k) => /^net\d+$/.test(k))
      .sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)))[0];
    if (net) order.push(net);
    return `order=${order.join(';')}`;
  }

  // ---------------------------------------------------------------------------------------------
  // VM operations shared by handlers and seedVm
  function startVm(vm: SimVm, ctx: { log(l: string): void }): void {
    if (vm.template) die("you can't start a vm if it's a template");
    if (vm.status === 'running') die(`VM ${vm.vmid} already running`);
    applyPending(vm);
    for (const k of Object.keys(vm.config).filter((x) => /^net\d+$/.test(x))) {
      const bridge = /(?:^|,)bridge=([^,]+)/.exec(String(vm.config[k]))?.[1];
      if (bridge && !bridges.has(bridge)) die(`bridge '${bridge}' does not exist`);
    }
    for (const k of drivesOf(vm.config)) {
      const d = parseDriveValue(k, String(vm.config[k]));
      if (!d.file || d.file === 'none' || d.file === 'cdrom' || d.file.startsWith('/')) continue;
      if (!findVolume(d.file, vm.node))
        die(isCdrom(d) && !isCloudinit(d) ? `volume '${d.file}' does not exist` : `start failed: volume '${d.file}' does not exist`);
      if (isCloudinit(d)) ctx.log('generating cloud-init ISO');
    }
    vm.status = 'running';
    vm.startedAt = Date.now();
  }
  function stopVm(vm: SimVm): void {
    vm.status = 'stopped';
    delete vm.startedAt;
    applyPending(vm);
  }
  function agentEnabled(vm: SimVm): boolean {
    const a = vm.config.agent;
    return a !== undefined && /^(1|enabled=1)(,|$)/.test(String(a));
  }

  // ---------------------------------------------------------------------------------------------
  // Handlers
  interface Ctx {
    node: string;
    p: Record<string, unknown>;
    user: string;
    upload?: { filename: string; data: Buffer };
  }
  type Result = { data: unknown; total?: number };
  const handlers = new Map<string, (c: Ctx) => Promise<Result> | Result>();
  const on = (key: string, fn: (c: Ctx) => Promise<Result> | Result) => handlers.set(key, fn);
  const ok = (data: unknown): Result => ({ data });
  const vmidOf = (c: Ctx) => Number(c.p.vmid);

  on('GET /version', () => ok({ version: '9.0.3', release: '9.0', repoid: '025a3d2c', console: 'html5' }));

  on('GET /cluster/nextid', (c) => {
    if (c.p.vmid !== undefined) {
      if (vms.has(Number(c.p.vmid))) paramExc({ vmid: `VM ${c.p.vmid} already exists` });
      return ok(String(c.p.vmid));
    }
    for (let i = 100; i < 1_000_000; i++) if (!vms.has(i)) return ok(String(i));
    return die('unable to get any free VMID in range [100, 1000000)');
  });

  function vmResource(vm: SimVm): Record<string, unknown> {
    const disks = drivesOf(vm.config)
      .map((k) => parseDriveValue(k, String(vm.config[k])))
      .filter((d) => !isCdrom(d));
    const maxdisk = disks.map((d) => parseSize(d.size ?? '') ?? 0)[0] ?? 0;
    const mem = Number(/^(?:current=)?(\d+)/.exec(String(vm.config.memory ?? '512'))?.[1] ?? 512) * 1024 * 1024;
    const cpus = Number(vm.config.cores ?? 1) * Number(vm.config.sockets ?? 1);
    const up = vm.status === 'running' && vm.startedAt ? Math.floor((Date.now() - vm.startedAt) / 1000) : 0;
    const r: Record<string, unknown> = {
      vmid: vm.vmid,
      name: vm.name,
      status: vm.status,
      maxmem: mem,
      maxdisk,
      cpus,
      uptime: up,
      mem: vm.status === 'running' ? Math.floor(mem / 4) : 0,
      cpu: vm.status === 'running' ? 0.01 : 0,
      disk: 0,
      netin: 0,
      netout: 0,
      diskread: 0,
      diskwrite: 0,
    };
    if (vm.template) r.template = 1;
    if (vm.config.tags !== undefined) r.tags = String(vm.config.tags);
    if (vm.lock) r.lock = vm.lock;
    if (vm.status === 'running') r.pid = 10000 + vm.vmid;
    return r;
  }

  on('GET /cluster/resources', (c) => {
    const type = c.p.type as string | undefined;
    const out: Record<string, unknown>[] = [];
    if (!type || type === 'vm') {
      for (const vm of [...vms.values()].sort((a, b) => a.vmid - b.vmid)) {
        const r = vmResource(vm);
        out.push({ id: `qemu/${vm.vmid}`, type: 'qemu', node: vm.node, ...r, template: vm.template ? 1 : 0, maxcpu: r.cpus, hastate: undefined });
        delete out[out.length - 1]!.cpus;
        delete out[out.length - 1]!.hastate;
      }
    }
    if (!type || type === 'storage') {
      for (const n of nodes)
        for (const def of storageDefs.values()) {
          const used = (storage.get(def.id) ?? []).filter((v) => def.shared || v.node === n).reduce((a, v) => a + v.size, 0);
          out.push({
            id: `storage/${n}/${def.id}`,
            type: 'storage',
            storage: def.id,
            node: n,
            status: 'available',
            plugintype: def.type,
            content: def.content.join(','),
            shared: def.shared ? 1 : 0,
            maxdisk: def.total,
            disk: used,
          });
        }
    }
    if (!type || type === 'node') {
      for (const n of nodes)
        out.push({
          id: `node/${n}`,
          type: 'node',
          node: n,
          status: 'online',
          level: '',
          maxcpu: 16,
          maxmem: 64 * GiB,
          mem: 8 * GiB,
          cpu: 0.02,
          uptime: now() - bootTime,
          maxdisk: 100 * GiB,
          disk: 10 * GiB,
        });
    }
    return ok(out);
  });

  on('GET /nodes', () =>
    ok(
      nodes.map((n) => ({
        node: n,
        status: 'online',
        type: 'node',
        id: `node/${n}`,
        level: '',
        maxcpu: 16,
        cpu: 0.02,
        maxmem: 64 * GiB,
        mem: 8 * GiB,
        uptime: now() - bootTime,
        ssl_fingerprint: fingerprint256,
      })),
    ),
  );

  on('GET /nodes/{node}/qemu', (c) =>
    ok(
      [...vms.values()]
        .filter((vm) => vm.node === c.node)
        .sort((a, b) => a.vmid - b.vmid)
        .map(vmResource),
    ),
  );

  on('GET /nodes/{node}/qemu/{vmid}', () =>
    ok(
      [
        'config',
        'cloudinit',
        'pending',
        'status',
        'unlink',
        'vncproxy',
        'termproxy',
        'migrate',
        'resize',
        'move',
        'rrd',
        'rrddata',
        'monitor',
        'agent',
        'snapshot',
        'spiceproxy',
        'sendkey',
        'firewall',
        'mtunnel',
        'remote_migrate',
      ].map((subdir) => ({ subdir })),
    ),
  );

  // ---- create ------------------------------------------------------------------------------
  const CREATE_EXTRACT = [
    'node',
    'vmid',
    'archive',
    'bwlimit',
    'force',
    'pool',
    'start',
    'ha-managed',
    'storage',
    'unique',
    'live-restore',
    'import-working-storage',
  ];
  on('POST /nodes/{node}/qemu', (c) => {
    const vmid = vmidOf(c);
    const p = { ...c.p };
    if (p.archive !== undefined) die(`unable to restore VM ${vmid} - restore from backup archives is not implemented by the simulator`);
    sshKeysCheck(p.sshkeys);
    if (p.pool !== undefined && !pools.has(String(p.pool))) die(`pool '${p.pool}' does not exist`);
    if (p.storage !== undefined) storageDef(String(p.storage));
    const settings: Record<string, string> = {};
    for (const [k, v] of Object.entries(p)) if (!CREATE_EXTRACT.includes(k)) settings[k] = String(v);
    if (settings.cdrom !== undefined) {
      settings.ide2 = /media=/.test(settings.cdrom) ? settings.cdrom : `${settings.cdrom},media=cdrom`;
      delete settings.cdrom;
    }
    checkDriveParams(settings, c.node, p.storage as string | undefined);
    for (const k of Object.keys(settings)) if (/^net\d+$/.test(k)) settings[k] = printNet(settings[k]!);
    const existing = vms.get(vmid);
    if (existing) die(`unable to create VM ${vmid} - VM ${vmid} already exists on node '${existing.node}'`);
    // create_and_lock_config: the config exists (locked 'create') from now on.
    const vm: SimVm = { vmid, node: c.node, name: `VM ${vmid}`, template: false, status: 'stopped', config: {}, lock: 'create' };
    vms.set(vmid, vm);
    const startAfter = p.start === 1;
    return ok(
      startTask(c.node, 'qmcreate', String(vmid), c.user, async (t) => {
        try {
          const release = await lockConfig(vmid, lockWaitMs, 'exclusive', t.signal);
          try {
            await t.work();
            vm.template = settings.template === '1';
            const vollist: string[] = [];
            const disks = createDisks(vm, settings, p.storage as string | undefined, t.log, vollist);
            const cfg: Record<string, string | number> = { ...settings, ...disks };
            if (cfg.tags !== undefined) cfg.tags = [...new Set(splitList(String(cfg.tags)))].sort().join(';');
            cfg.meta = `creation-qemu=9.2.0,ctime=${now()}`;
            if (!cfg.boot) cfg.boot = defaultBoot(cfg);
            if (!cfg.smbios1) cfg.smbios1 = `uuid=${uuid()}`;
            if (cfg.vmgenid === undefined || cfg.vmgenid === '1') cfg.vmgenid = uuid();
            vm.config = cfg;
            delete vm.lock;
            syncVm(vm);
          } finally {
            release();
          }
        } catch (e) {
          if (vms.get(vmid) === vm) vms.delete(vmid);
          throw wrapError(e, `unable to create VM ${vmid} - `);
        }
        if (startAfter) {
          t.log('Execute autostart');
          try {
            startVm(vm, t);
          } catch (e) {
            t.warn(errText(e));
          }
        }
      }),
    );
  });

  // ---- config --------------------------------------------------------------------------------
  on('GET /nodes/{node}/qemu/{vmid}/config', (c) => {
    const vm = loadVm(c.node, vmidOf(c));
    if (c.p.snapshot) die(`snapshot '${c.p.snapshot}' does not exist`);
    const cfg: Record<string, string | number> = { ...vm.config };
    if (c.p.current !== 1) {
      Object.assign(cfg, vm.pending ?? {});
      for (const d of vm.pendingDelete ?? []) delete cfg[d.replace(/^!/, '')];
    }
    if (vm.lock) cfg.lock = vm.lock;
    if (cfg.cipassword !== undefined) cfg.cipassword = '**********';
    return ok({ ...typedConfig(cfg), digest: digestOf(vm) });
  });

  on('GET /nodes/{node}/qemu/{vmid}/pending', (c) => {
    const vm = loadVm(c.node, vmidOf(c));
    const keys = new Set([...Object.keys(vm.config), ...Object.keys(vm.pending ?? {})]);
    const dels = new Map((vm.pendingDelete ?? []).map((d) => [d.replace(/^!/, ''), d.startsWith('!') ? 2 : 1]));
    return ok(
      [...keys].sort().map((key) => {
        const e: Record<string, unknown> = { key };
        if (vm.config[key] !== undefined) e.value = key === 'cipassword' ? '**********' : vm.config[key];
        if (vm.pending?.[key] !== undefined) e.pending = vm.pending[key];
        if (dels.has(key)) e.delete = dels.get(key);
        return e;
      }),
    );
  });

  /** update_vm_api: checks and lock in the handler; applied inline (PUT/unlink) or in a qmconfig task (POST). */
  async function updateVm(c: Ctx, sync: boolean): Promise<Result> {
    const vmid = vmidOf(c);
    const p = { ...c.p };
    const changes: Record<string, string> = {};
    for (const [k, v] of Object.entries(p))
      if (!['node', 'vmid', 'skiplock', 'delete', 'revert', 'force', 'digest', 'background_delay', 'import-working-storage'].includes(k))
        changes[k] = String(v);
    const deleteStr = p.delete === undefined ? '' : String(p.delete);
    const revertStr = p.revert === undefined ? '' : String(p.revert);
    if (!deleteStr && !revertStr && !Object.keys(changes).length) die('no options specified');
    sshKeysCheck(changes.sshkeys);
    if (changes.cdrom !== undefined) {
      changes.ide2 = /media=/.test(changes.cdrom) ? changes.cdrom : `${changes.cdrom},media=cdrom`;
      delete changes.cdrom;
    }
    const deletes: string[] = [];
    for (let opt of splitList(deleteStr)) {
      if (opt === 'cdrom') opt = 'ide2';
      if (changes[opt] !== undefined) paramExc({ delete: `you can't use '-${opt}' and -delete ${opt}' at the same time` });
      if (!schema.property('PUT', CONFIG_T, opt) || ['node', 'vmid', 'skiplock', 'delete', 'revert', 'force', 'digest'].includes(opt))
        paramExc({ delete: `unknown option '${opt}'` });
      deletes.push(opt);
    }
    const reverts = splitList(revertStr);
    for (const opt of reverts) if (!schema.property('PUT', CONFIG_T, opt)) paramExc({ revert: `unknown option '${opt}'` });
    loadVm(c.node, vmid);
    checkDriveParams(changes, c.node);
    const release = await lockConfig(vmid, lockWaitMs);
    let handedOff = false;
    try {
      const vm = loadVm(c.node, vmid);
      if (p.digest !== undefined && p.digest !== digestOf(vm)) die('checksum mismatch (file change by other user?)');
      checkLock(vm, p.skiplock);
      for (const opt of reverts) {
        if (vm.pending) delete vm.pending[opt];
        if (vm.pendingDelete) vm.pendingDelete = vm.pendingDelete.filter((d) => d.replace(/^!/, '') !== opt);
      }
      const paramarr = [
        ...(deletes.length ? [`--delete ${deletes.join(',')}`] : []),
        ...Object.entries(changes).map(([k, v]) => `--${k} ${k === 'cipassword' ? '<hidden>' : v}`),
      ];
      if (sync) {
        applyUpdate(
          vm,
          changes,
          deletes,
          p.force === 1,
          () => {},
          () => {},
        );
        return ok(null);
      }
      handedOff = true;
      return ok(
        startTask(c.node, 'qmconfig', String(vmid), c.user, async (t) => {
          try {
            t.log(`update VM ${vmid}: ${paramarr.join(' ')}`);
            await t.work();
            if (vms.get(vmid) !== vm) die(`Configuration file 'nodes/${c.node}/qemu-server/${vmid}.conf' does not exist`);
            applyUpdate(vm, changes, deletes, p.force === 1, t.log, t.warn);
          } finally {
            release();
          }
        }),
      );
    } finally {
      if (!handedOff) release();
    }
  }
  on('POST /nodes/{node}/qemu/{vmid}/config', (c) => updateVm(c, false));
  on('PUT /nodes/{node}/qemu/{vmid}/config', (c) => updateVm(c, true));
  on('PUT /nodes/{node}/qemu/{vmid}/unlink', (c) => {
    const p: Record<string, unknown> = { node: c.p.node, vmid: c.p.vmid, delete: c.p.idlist };
    if (c.p.force !== undefined) p.force = c.p.force;
    return updateVm({ ...c, p }, true);
  });

  on('PUT /nodes/{node}/qemu/{vmid}/cloudinit', (c) => {
    const vm = loadVm(c.node, vmidOf(c));
    void vm;
    return ok(null);
  });

  // ---- resize / template -----------------------------------------------------------------------
  on('PUT /nodes/{node}/qemu/{vmid}/resize', (c) => {
    const vmid = vmidOf(c);
    const vm0 = loadVm(c.node, vmid);
    void vm0;
    const disk = String(c.p.disk);
    const sizeArg = String(c.p.size);
    return ok(
      startTask(
        c.node,
        'resize',
        String(vmid),
        c.user,
        withVmLock(vmid, async (t) => {
          const vm = loadVm(c.node, vmid);
          if (c.p.digest !== undefined && c.p.digest !== digestOf(vm)) die('checksum mismatch (file change by other user?)');
          checkLock(vm, c.p.skiplock);
          const value = vm.config[disk];
          if (value === undefined) die(`disk '${disk}' does not exist`);
          const d = parseDriveValue(disk, String(value));
          if (isCloudinit(d)) die("you can't resize a cloud-init drive");
          if (isCdrom(d)) die("you can't resize a cdrom");
          const vol = findVolume(d.file, vm.node);
          if (!vol) die(`volume '${d.file}' does not exist`);
          const m = /^(\+)?(\d+(\.\d+)?)([KMGT])?$/.exec(sizeArg)!;
          const delta = parseSize(`${m[2]}${m[4] ?? ''}`)!;
          const newsize = m[1] ? vol!.size + delta : delta;
          if (newsize < vol!.size) die('shrinking disks is not supported');
          await t.work();
          if (newsize === vol!.size) {
            t.log(`VM ${vmid}: skipping resize, size unchanged`);
            return;
          }
          if (storageDef(splitVolid(d.file).sid).type === 'lvmthin') {
            t.log(
              `  Size of logical volume pve/${parseVolname(storageDef(splitVolid(d.file).sid), splitVolid(d.file).volname).name} changed from ${human(vol!.size)} to ${human(newsize)}.`,
            );
          } else {
            t.log(`Image resized.`);
          }
          vol!.size = newsize;
          d.size = formatSize(newsize);
          vm.config[disk] = printDrive(d);
        }),
      ),
    );
  });

  on('POST /nodes/{node}/qemu/{vmid}/template', (c) => {
    const vmid = vmidOf(c);
    loadVm(c.node, vmid);
    return ok(
      startTask(
        c.node,
        'qmtemplate',
        String(vmid),
        c.user,
        withVmLock(vmid, async (t) => {
          const vm = loadVm(c.node, vmid);
          checkLock(vm);
          if (vm.template && c.p.disk === undefined) die("you can't convert a template to a template");
          if (vm.status === 'running') die("you can't convert a VM to template if VM is running");
          await t.work();
          for (const k of drivesOf(vm.config)) {
            if (c.p.disk !== undefined && k !== c.p.disk) continue;
            const d = parseDriveValue(k, String(vm.config[k]));
            if (isCdrom(d) || isCloudinit(d) || !d.file || d.file === 'none' || d.file.startsWith('/')) continue;
            const before = d.file;
            d.file = createBase(d.file, vm.node);
            if (before !== d.file && storageDef(splitVolid(d.file).sid).type === 'lvmthin') {
              t.log(`  Renamed "${splitVolid(before).volname}" to "${splitVolid(d.file).volname}" in volume group "pve"`);
            }
            vm.config[k] = printDrive(d);
          }
          vm.config.template = '1';
          syncVm(vm);
        }),
      ),
    );
  });

  // ---- clone ---------------------------------------------------------------------------------
  on('POST /nodes/{node}/qemu/{vmid}/clone', (c) => {
    const vmid = vmidOf(c);
    const newid = Number(c.p.newid);
    const p = c.p;
    const target = p.target !== undefined && p.target !== c.node && p.target !== 'localhost' ? resolveNode(String(p.target)) : undefined;
    const runningAtStart = loadVm(c.node, vmid).status === 'running';
    const loadAndCheck = () => {
      if (p.pool !== undefined && !pools.has(String(p.pool))) die(`pool '${p.pool}' does not exist`);
      if (p.storage !== undefined) {
        const def = storageDef(String(p.storage));
        if (target && !def.shared) die(`can't clone to non-shared storage '${p.storage}'`);
      }
      const src = loadVm(c.node, vmid);
      checkLock(src);
      if ((src.status === 'running') !== runningAtStart) die('unexpected state change');
      if (p.snapname !== undefined) die(`snapshot '${p.snapname}' does not exist`);
      const full = p.full !== undefined ? p.full === 1 : !src.template;
      if (p.storage !== undefined && !full) die("parameter 'storage' not allowed for linked clones");
      if (p.format !== undefined && !full) die("parameter 'format' not allowed for linked clones");
      let shared = true;
      for (const k of drivesOf(src.config)) {
        const d = parseDriveValue(k, String(src.config[k]));
        if (!d.file || d.file === 'none' || d.file === 'cdrom' || d.file.startsWith('/')) continue;
        const def = storageDef(splitVolid(d.file).sid);
        if (!def.shared) shared = false;
        if (isCdrom(d) && !isCloudinit(d)) continue;
        if (!full && !isCloudinit(d) && !parseVolname(def, splitVolid(d.file).volname).isBase) die(`Linked clone feature is not supported for drive '${k}'`);
      }
      if (target && !shared) die(`can't clone VM to node '${target}' (VM uses local storage)`);
      if (vms.has(newid)) die(`unable to create VM ${newid}: config file already exists`);
      return { src, full };
    };
    loadAndCheck();
    return ok(
      startTask(c.node, 'qmclone', String(vmid), c.user, async (t) => {
        const srcMode = runningAtStart ? 'exclusive' : (opts.cloneSourceLock ?? 'exclusive');
        const releaseSrc = await lockConfig(vmid, lockWaitMs, srcMode, t.signal);
        try {
          const releaseTarget = await lockConfig(newid, lockWaitMs, 'exclusive', t.signal);
          try {
            const { src, full } = loadAndCheck();
            const node = target ?? c.node;
            const newvm: SimVm = { vmid: newid, node: c.node, name: '', template: false, status: 'stopped', config: {}, lock: 'clone' };
            vms.set(newid, newvm);
            const newvols: string[] = [];
            try {
              await t.work();
              const cfg: Record<string, string | number> = {};
              for (const [k, v] of Object.entries(src.config)) {
                if (/^unused\d+$/.test(k) || ['snapshots', 'parent', 'snaptime', 'vmstate', 'snapstate', 'template'].includes(k)) continue;
                if (/^net\d+$/.test(k)) {
                  const mac = macOf(String(v));
                  cfg[k] = mac ? String(v).replace(mac, randomMac()) : printNet(String(v));
                } else if (DRIVE_RE.test(k)) {
                  const d = parseDriveValue(k, String(v));
                  if (isCdrom(d) && !isCloudinit(d)) {
                    cfg[k] = String(v);
                    continue;
                  }
                  if (!d.file || d.file === 'none' || d.file.startsWith('/')) {
                    cfg[k] = String(v);
                    continue;
                  }
                  const srcVol = findVolume(d.file, c.node);
                  if (!srcVol) die(`volume '${d.file}' does not exist`);
                  let nv: SimVolume;
                  if (isCloudinit(d)) {
                    const sid = p.storage !== undefined && full ? String(p.storage) : splitVolid(d.file).sid;
                    nv = allocDisk(sid, c.node, newid, CLOUDINIT_SIZE, undefined, `vm-${newid}-cloudinit`);
                  } else if (full) {
                    const sid = p.storage !== undefined ? String(p.storage) : splitVolid(d.file).sid;
                    t.log(`create full clone of drive ${k} (${d.file})`);
                    nv = allocDisk(sid, c.node, newid, srcVol!.size, p.format as string | undefined);
                    if (storageDef(sid).type === 'lvmthin') t.log(`  Logical volume "${splitVolid(nv.volid).volname}" created.`);
                    t.log(`transferred ${human(srcVol!.size)} of ${human(srcVol!.size)} (100.00%)`);
                  } else {
                    t.log(`create linked clone of drive ${k} (${d.file})`);
                    nv = cloneImage(d.file, c.node, newid);
                    if (storageDef(splitVolid(nv.volid).sid).type === 'lvmthin') t.log(`  Logical volume "${splitVolid(nv.volid).volname}" created.`);
                  }
                  newvols.push(nv.volid);
                  d.file = nv.volid;
                  if (!isCloudinit(d)) d.size = formatSize(nv.size);
                  cfg[k] = printDrive(d);
                } else {
                  cfg[k] = v;
                }
              }
              const smbios = String(cfg.smbios1 ?? '');
              cfg.smbios1 = /uuid=/.test(smbios) ? smbios.replace(/uuid=[^,]*/, `uuid=${uuid()}`) : [smbios, `uuid=${uuid()}`].filter(Boolean).join(',');
              if (cfg.vmgenid) cfg.vmgenid = uuid();
              cfg.name = p.name !== undefined ? String(p.name) : `Copy-of-VM-${src.config.name ?? vmid}`;
              if (p.description !== undefined && p.description !== '') cfg.description = String(p.description);
              if (src.pending && Object.keys(src.pending).length)
                t.warn(`found pending changes for '${Object.keys(src.pending).join(',')}', discarding for clone`);
              newvm.config = cfg;
              newvm.node = node;
              delete newvm.lock;
              syncVm(newvm);
            } catch (e) {
              for (const volid of newvols) removeVolume(volid, c.node);
              if (vms.get(newid) === newvm) vms.delete(newid);
              throw wrapError(e, 'clone failed: ');
            }
          } finally {
            releaseTarget();
          }
        } finally {
          releaseSrc();
        }
      }),
    );
  });

  // ---- status ----------------------------------------------------------------------------------
  on('GET /nodes/{node}/qemu/{vmid}/status/current', (c) => {
    const vm = loadVm(c.node, vmidOf(c));
    const r = vmResource(vm);
    const out: Record<string, unknown> = { ...r, qmpstatus: vm.status, ha: { managed: 0 } };
    if (agentEnabled(vm)) out.agent = 1;
    if (vm.status === 'running') {
      out['running-machine'] = 'pc-i440fx-9.2+pve1';
      out['running-qemu'] = '9.2.0';
    }
    return ok(out);
  });

  on('POST /nodes/{node}/qemu/{vmid}/status/start', (c) => {
    const vmid = vmidOf(c);
    loadVm(c.node, vmid);
    return ok(
      startTask(
        c.node,
        'qmstart',
        String(vmid),
        c.user,
        withVmLock(vmid, async (t) => {
          const vm = loadVm(c.node, vmid);
          checkLock(vm, c.p.skiplock);
          if (vm.template) die("you can't start a vm if it's a template");
          if (vm.status === 'running') die(`VM ${vmid} already running`);
          await t.work();
          startVm(vm, t);
        }),
      ),
    );
  });

  on('POST /nodes/{node}/qemu/{vmid}/status/stop', (c) => {
    const vmid = vmidOf(c);
    loadVm(c.node, vmid);
    return ok(
      startTask(
        c.node,
        'qmstop',
        String(vmid),
        c.user,
        withVmLock(vmid, async (t) => {
          const vm = loadVm(c.node, vmid);
          checkLock(vm, c.p.skiplock);
          if (vm.status !== 'running') return;
          await t.work();
          stopVm(vm);
        }),
      ),
    );
  });

  /** Shutdown/reboot of a guest that ignores ACPI waits `timeout` PVE-seconds, then gives up. */
  function ignoresAcpi(vm: SimVm): boolean {
    return vm.ignoreAcpi === true || String(vm.config.acpi ?? '1') === '0';
  }
  on('POST /nodes/{node}/qemu/{vmid}/status/shutdown', (c) => {
    const vmid = vmidOf(c);
    loadVm(c.node, vmid);
    return ok(
      startTask(
        c.node,
        'qmshutdown',
        String(vmid),
        c.user,
        withVmLock(vmid, async (t) => {
          const vm = loadVm(c.node, vmid);
          checkLock(vm, c.p.skiplock);
          if (vm.status !== 'running') return;
          if (ignoresAcpi(vm)) {
            await t.sleep((c.p.timeout !== undefined ? Number(c.p.timeout) : 60) * secondMs);
            if (c.p.forceStop !== 1) die('VM quit/powerdown failed - got timeout');
            t.log('VM quit/powerdown failed - terminating now with SIGTERM');
          }
          await t.work();
          stopVm(vm);
        }),
      ),
    );
  });

  on('POST /nodes/{node}/qemu/{vmid}/status/reboot', (c) => {
    const vmid = vmidOf(c);
    loadVm(c.node, vmid);
    return ok(
      startTask(
        c.node,
        'qmreboot',
        String(vmid),
        c.user,
        withVmLock(vmid, async (t) => {
          const vm = loadVm(c.node, vmid);
          checkLock(vm);
          if (vm.status !== 'running') die(`VM ${vmid} not running`);
          if (ignoresAcpi(vm)) {
            await t.sleep((c.p.timeout !== undefined ? Number(c.p.timeout) : 60) * secondMs);
            die('VM quit/powerdown failed - got timeout');
          }
          await t.work();
          stopVm(vm);
          startVm(vm, t);
        }),
      ),
    );
  });

  on('GET /nodes/{node}/qemu/{vmid}/agent/network-get-interfaces', (c) => {
    const vm = loadVm(c.node, vmidOf(c));
    if (vm.status !== 'running') die(`VM ${vm.vmid} is not running`);
    if (!agentEnabled(vm)) die('No QEMU guest agent configured');
    const booted = vm.startedAt !== undefined && Date.now() - vm.startedAt >= guestBootMs;
    if (vm.guestAgent === false || (vm.guestAgent !== true && !booted)) die('QEMU guest agent is not running');
    const ifaces: Record<string, unknown>[] = [
      {
        name: 'lo',
        'hardware-address': '00:00:00:00:00:00',
        'ip-addresses': [
          { 'ip-address': '127.0.0.1', 'ip-address-type': 'ipv4', prefix: 8 },
          { 'ip-address': '::1', 'ip-address-type': 'ipv6', prefix: 128 },
        ],
      },
    ];
    for (const k of Object.keys(vm.config)
      .filter((x) => /^net\d+$/.test(x))
      .sort()) {
      const n = Number(k.slice(3));
      const ipcfg = String(vm.config[`ipconfig${n}`] ?? '');
      const ip = /(?:^|,)ip=(\d+\.\d+\.\d+\.\d+)\/(\d+)/.exec(ipcfg);
      const addr = ip ? ip[1]! : `10.${n}.${(vm.vmid >> 8) & 255}.${vm.vmid & 255}`;
      ifaces.push({
        name: `eth${n}`,
        'hardware-address': (macOf(String(vm.config[k])) ?? '').toLowerCase(),
        'ip-addresses': [{ 'ip-address': addr, 'ip-address-type': 'ipv4', prefix: ip ? Number(ip[2]) : 24 }],
      });
    }
    return ok({ result: ifaces });
  });

  // ---- destroy -------------------------------------------------------------------------------
  on('DELETE /nodes/{node}/qemu/{vmid}', (c) => {
    const vmid = vmidOf(c);
    if (c.p.skiplock !== undefined && !c.user.startsWith('root@pam')) paramExc({ skiplock: 'Only root may use this option.' });
    const early = () => {
      const vm = loadVm(c.node, vmid);
      if (String(vm.config.protection ?? '0') === '1') die(`can't remove VM ${vmid} - protection mode enabled`);
      if (vm.status === 'running') die(`VM ${vmid} is running - destroy failed`);
      return vm;
    };
    early();
    return ok(
      startTask(
        c.node,
        'qmdestroy',
        String(vmid),
        c.user,
        withVmLock(vmid, async (t) => {
          const vm = early();
          checkLock(vm, c.p.skiplock);
          if (vm.template) {
            for (const k of [...drivesOf(vm.config), ...Object.keys(vm.config).filter((x) => /^unused\d+$/.test(x))]) {
              const d = parseDriveValue(k, String(vm.config[k]));
              if (isCdrom(d) || !d.file || d.file.startsWith('/')) continue;
              if (baseInUse(d.file)) die(`base volume '${d.file}' is still in use by linked cloned`);
            }
          }
          await t.work();
          vm.lock = 'destroyed';
          const seen = new Set<string>();
          for (const k of [...drivesOf(vm.config), ...Object.keys(vm.config).filter((x) => /^unused\d+$/.test(x))]) {
            const d = parseDriveValue(k, String(vm.config[k]));
            if ((isCdrom(d) && !isCloudinit(d)) || !d.file || d.file === 'none' || d.file.startsWith('/') || seen.has(d.file)) continue;
            const { sid, volname } = splitVolid(d.file);
            if (parseVolname(storageDef(sid), volname).owner !== vmid) continue;
            seen.add(d.file);
            try {
              freeVolume(d.file, vm.node, t.log, t.warn);
            } catch (e) {
              t.warn(`Could not remove disk '${d.file}', check manually: ${errText(e)}`);
            }
          }
          if (c.p['destroy-unreferenced-disks'] === 1) {
            for (const [sid, list] of storage) {
              const def = storageDefs.get(sid)!;
              for (const v of [...list]) {
                if (v.content !== 'images' || v.vmid !== vmid || (!def.shared && v.node !== vm.node) || seen.has(v.volid)) continue;
                try {
                  freeVolume(v.volid, vm.node, t.log, t.warn);
                } catch (e) {
                  t.warn(`Could not remove disk '${v.volid}', check manually: ${errText(e)}`);
                }
              }
            }
          }
          if (c.p.purge === 1) t.log(`purging VM ${vmid} from related configurations..`);
          vms.delete(vmid);
        }),
      ),
    );
  });

  // ---- storage ---------------------------------------------------------------------------------
  function storageStatus(def: StorageDef, node: string): Record<string, unknown> {
    const used = (storage.get(def.id) ?? []).filter((v) => def.shared || v.node === node).reduce((a, v) => a + v.size, 0);
    return {
      storage: def.id,
      type: def.type,
      content: def.content.join(','),
      active: 1,
      enabled: 1,
      shared: def.shared ? 1 : 0,
      total: def.total,
      used,
      avail: Math.max(0, def.total - used),
      used_fraction: used / def.total,
    };
  }
  on('GET /nodes/{node}/storage', (c) => {
    let defs = [...storageDefs.values()];
    if (c.p.storage !== undefined) defs = defs.filter((d) => d.id === c.p.storage);
    if (c.p.content !== undefined) {
      const want = splitList(String(c.p.content));
      defs = defs.filter((d) => want.some((w) => d.content.includes(w)));
    }
    return ok(defs.map((d) => storageStatus(d, c.node)));
  });

  function contentEntry(def: StorageDef, v: SimVolume): Record<string, unknown> {
    const e: Record<string, unknown> = { volid: v.volid, content: v.content, format: v.format ?? 'raw', size: v.size, ctime: v.ctime };
    if (v.vmid !== undefined) e.vmid = v.vmid;
    if (v.parent && def.type !== 'lvmthin') e.parent = splitVolid(v.parent).volname;
    if (v.notes !== undefined) e.notes = v.notes;
    if (def.type === 'dir') e.used = v.size;
    return e;
  }
  on('GET /nodes/{node}/storage/{storage}/content', (c) => {
    const def = storageDef(String(c.p.storage));
    let list = (storage.get(def.id) ?? []).filter((v) => def.shared || v.node === c.node);
    if (c.p.content !== undefined) list = list.filter((v) => v.content === c.p.content);
    if (c.p.vmid !== undefined) list = list.filter((v) => v.vmid === Number(c.p.vmid));
    return ok(list.sort((a, b) => a.volid.localeCompare(b.volid)).map((v) => contentEntry(def, v)));
  });

  /** $real_volume_id of PVE::API2::Storage::Content */
  function realVolumeId(sidParam: unknown, volume: string): string {
    if (volume.includes(':')) {
      const m = /^([a-z][a-z0-9\-_.]*[a-z0-9]):(.+)$/is.exec(volume);
      if (!m) paramExc({ volume: `unable to parse volume ID '${volume}'\n` });
      if (sidParam !== undefined && m![1] !== sidParam) paramExc({ volume: `storage ID mismatch (${m![1]} != ${sidParam})\n` });
      return volume;
    }
    if (sidParam === undefined) paramExc({ volume: 'no storage specified - incomplete volume ID' });
    return `${sidParam}:${volume}`;
  }
  on('GET /nodes/{node}/storage/{storage}/content/{volume}', (c) => {
    const volid = realVolumeId(c.p.storage, String(c.p.volume));
    const { sid, volname } = splitVolid(volid);
    const def = storageDef(sid);
    parseVolname(def, volname);
    const v = findVolume(volid, c.node);
    if (!v) die(`volume_size_info on '${volid}' failed - no format`);
    const out: Record<string, unknown> = { path: volPath(def, volname), size: v!.size, used: v!.size, format: v!.format ?? 'raw' };
    if (v!.notes !== undefined) out.notes = v!.notes;
    return ok(out);
  });

  on('DELETE /nodes/{node}/storage/{storage}/content/{volume}', async (c) => {
    const volid = realVolumeId(c.p.storage, String(c.p.volume));
    const { sid, volname } = splitVolid(volid);
    const def = storageDef(sid);
    const parsed = parseVolname(def, volname);
    const id = (parsed.owner !== undefined ? `${parsed.owner}@` : '') + sid;
    const upid = startTask(c.node, 'imgdel', id, c.user, async (t) => {
      await t.work();
      if (opts.referencedVolumeDelete !== 'allow') {
        const users = volumeUsers(volid, c.node);
        if (users.length) die(`volume '${volid}' is still in use by VM ${users[0]!.vmid} (${users[0]!.key})`);
      }
      freeVolume(volid, c.node, t.log, t.warn);
      t.log(`Removed volume '${volid}'`);
    });
    if (c.p.delay !== undefined) {
      const end = Date.now() + Number(c.p.delay) * 1000;
      const task = tasks.get(upid)!;
      while (task.status === 'running' && Date.now() < end) await sleep(Math.min(50, taskMs));
      if (task.status === 'stopped') {
        if (task.exitstatus === 'OK' || task.exitstatus?.startsWith('WARNINGS')) return ok(null);
        die(task.exitstatus ?? 'unknown error');
      }
    }
    return ok(upid);
  });

  const ISO_RE = /\.(iso|img)$/i;
  const VZTMPL_RE = /\.tar\.(gz|xz|zst|bz2)$/;
  const IMPORT_RE = /^[a-zA-Z0-9_.-]+\.(ova|ovf|qcow2|raw|vmdk)$/;
  const normalizeFilename = (f: string) => f.replace(/^.*[/\\]/, '').replace(/[^a-zA-Z0-9_.-]/g, '_');
  function checkImageFilename(content: string, filename: string, importMsg: string): string {
    if (content === 'iso') {
      if (!ISO_RE.test(filename)) paramExc({ filename: 'wrong file extension' });
      return `iso/${filename}`;
    }
    if (content === 'vztmpl') {
      if (!VZTMPL_RE.test(filename)) paramExc({ filename: 'wrong file extension' });
      return `vztmpl/${filename}`;
    }
    if (!IMPORT_RE.test(filename)) paramExc({ filename: importMsg });
    return `import/${filename}`;
  }
  const hashOf = (algo: string, data: Buffer) => createHash(algo).update(data).digest('hex');

  on('POST /nodes/{node}/storage/{storage}/upload', (c) => {
    const def = storageDef(String(c.p.storage));
    if (def.type !== 'dir') die(`can't upload to storage type '${def.type}'`);
    const content = String(c.p.content);
    if (!c.upload) die('missing temporary file name');
    const filename = normalizeFilename(String(c.p.filename));
    const volname = checkImageFilename(content, filename, 'invalid filename or wrong extension');
    if (!def.content.includes(content)) die(`storage '${def.id}' does not support '${content}' content`);
    const data = c.upload!.data;
    const tmp = `/var/tmp/pveupload-${randHex(16)}`;
    const path = volPath(def, volname);
    return ok(
      startTask(c.node, 'imgcopy', '', c.user, async (t) => {
        t.log(`starting file import from: ${tmp}`);
        if (c.p['checksum-algorithm'] !== undefined) {
          const got = hashOf(String(c.p['checksum-algorithm']), data);
          if (got.toLowerCase() !== String(c.p.checksum).toLowerCase()) die(`checksum mismatch: got '${got}' != expect '${c.p.checksum}'`);
          t.log('calculating checksum...OK, checksum verified');
        }
        if (content === 'import' && /\.qcow2$/.test(filename) && qcow2VirtualSize(data) === undefined)
          die(`qemu-img: Could not open '${tmp}': Image is not in qcow2 format`);
        if (content === 'iso' && qcow2VirtualSize(data) !== undefined) die(`file '${tmp}' has unexpected format 'qcow2', expected 'raw'`);
        t.log(`target node: ${c.node}`);
        t.log(`target file: ${path}`);
        t.log(`file size is: ${data.length}`);
        t.log(`command: cp -- ${tmp} ${path}`);
        await t.work();
        addVolume(def.id, {
          volid: `${def.id}:${volname}`,
          size: data.length,
          content,
          node: c.node,
          format: content === 'iso' ? 'iso' : content === 'import' ? /\.(\w+)$/.exec(filename)![1]! : `t${VZTMPL_RE.exec(filename)?.[1] ?? 'gz'}`,
          data: data.length <= 16 * 1024 * 1024 ? data : undefined,
          sha256: hashOf('sha256', data),
        });
        t.log('finished file import successfully');
      }),
    );
  });

  on('POST /nodes/{node}/storage/{storage}/download-url', (c) => {
    const def = storageDef(String(c.p.storage));
    if (def.type !== 'dir') die(`can't upload to storage type '${def.type}', not a file based storage!`);
    const content = String(c.p.content);
    if (!def.content.includes(content)) die(`storage '${def.id}' is not configured for content-type '${content}'`);
    const filename = normalizeFilename(String(c.p.filename));
    const volname = checkImageFilename(content, filename, 'invalid filename or wrong extension');
    if (c.p.compression !== undefined && content !== 'iso') die(`decompression not supported for ${content}`);
    const url = String(c.p.url);
    const path = volPath(def, volname);
    const algo = c.p['checksum-algorithm'] as string | undefined;
    const want = c.p.checksum as string | undefined;
    return ok(
      startTask(
        c.node,
        'download',
        filename.replace(/[^a-zA-Z0-9_.-]/g, (ch) => `\\x${ch.charCodeAt(0).toString(16)}`),
        c.user,
        async (t) => {
          t.log(`downloading ${url} to ${path}`);
          const existing = findVolume(`${def.id}:${volname}`, c.node);
          if (existing) {
            if (algo && want) {
              t.log('calculating checksum of existing file...');
              const got = existing.data ? hashOf(algo, existing.data) : existing.sha256 && algo === 'sha256' ? existing.sha256 : undefined;
              if (got === undefined || got.toLowerCase() === want.toLowerCase()) {
                t.log('OK, got correct file already, no need to download');
                return;
              }
              die(`checksum mismatch: got '${got}' != expect '${want}', aborting`);
            }
            die(`refusing to override existing file '${path}'`);
          }
          const remote = opts.downloads?.[url];
          await t.work();
          if (remote?.error) die(`download failed: ${remote.error}`);
          const data = remote?.data;
          const size = data?.length ?? remote?.size ?? GiB;
          if (algo && want) {
            t.log('calculating checksum...');
            if (data) {
              const got = hashOf(algo, data);
              if (got.toLowerCase() !== want.toLowerCase()) die(`checksum mismatch: got '${got}' != expect '${want}'`);
            }
            t.log('OK, checksum verified');
          }
          addVolume(def.id, {
            volid: `${def.id}:${volname}`,
            size,
            content,
            node: c.node,
            format: content === 'iso' ? 'iso' : content === 'import' ? /\.(\w+)$/.exec(filename)![1]! : 'tgz',
            data: data && data.length <= 16 * 1024 * 1024 ? data : undefined,
            sha256: data ? hashOf('sha256', data) : algo === 'sha256' ? want : undefined,
          });
          t.log(`download of '${url}' to '${path}' finished`);
        },
      ),
    );
  });

  // ---- tasks -----------------------------------------------------------------------------------
  function findTask(node: string, upid: string): SimTask {
    if (!/^UPID:[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?:[0-9A-F]{8}:[0-9A-F]{8,9}:[0-9A-F]{8}:[^:\s]+:[^:\s]*:[^:\s]+:$/.test(upid))
      paramExc({ upid: 'unable to parse worker upid' });
    const t = tasks.get(upid);
    if (!t || t.node !== node) paramExc({ upid: 'no such task' });
    return t!;
  }
  const taskStatus = (t: SimTask) => {
    const [user, tokenid] = t.user.split('!');
    const out: Record<string, unknown> = {
      upid: t.upid,
      node: t.node,
      pid: t.pid,
      pstart: t.pstart,
      starttime: t.starttime,
      type: t.type,
      id: t.id,
      user,
      status: t.status,
    };
    if (tokenid) out.tokenid = tokenid;
    if (t.status === 'stopped') out.exitstatus = t.exitstatus;
    return out;
  };
  on('GET /nodes/{node}/tasks/{upid}/status', (c) => ok(taskStatus(findTask(c.node, String(c.p.upid)))));
  on('GET /nodes/{node}/tasks/{upid}/log', (c) => {
    const t = findTask(c.node, String(c.p.upid));
    const start = c.p.start !== undefined ? Number(c.p.start) : 0;
    const limit = c.p.limit !== undefined ? Number(c.p.limit) : 50;
    const lines = t.log.length ? t.log : ['no content'];
    const data = lines.slice(start, limit === 0 ? undefined : start + limit).map((line, i) => ({ n: start + i + 1, t: line }));
    return { data, total: lines.length };
  });
  on('DELETE /nodes/{node}/tasks/{upid}', (c) => {
    const t = findTask(c.node, String(c.p.upid));
    taskAborts.get(t.upid)?.abort();
    return ok(null);
  });
  on('GET /nodes/{node}/tasks', (c) => {
    let list = [...tasks.values()].filter((t) => t.node === c.node);
    const source = String(c.p.source ?? 'archive');
    if (source === 'active') list = list.filter((t) => t.status === 'running');
    else if (source === 'archive') list = list.filter((t) => t.status === 'stopped');
    if (c.p.vmid !== undefined) list = list.filter((t) => t.id === String(c.p.vmid));
    if (c.p.typefilter !== undefined) list = list.filter((t) => t.type === c.p.typefilter);
    if (c.p.errors === 1) list = list.filter((t) => t.exitstatus !== undefined && t.exitstatus !== 'OK');
    if (c.p.userfilter !== undefined) list = list.filter((t) => t.user.includes(String(c.p.userfilter)));
    list.sort((a, b) => b.starttime - a.starttime || b.pid - a.pid);
    const start = Number(c.p.start ?? 0);
    const limit = Number(c.p.limit ?? 50);
    const total = list.length;
    return {
      data: list.slice(start, start + limit).map((t) => {
        const e: Record<string, unknown> = {
          upid: t.upid,
          node: t.node,
          pid: t.pid,
          pstart: t.pstart,
          starttime: t.starttime,
          type: t.type,
          id: t.id,
          user: t.user,
        };
        if (t.status === 'stopped') {
          e.status = t.exitstatus;
          e.endtime = t.endtime;
        }
        return e;
      }),
      total,
    };
  });

  // ---------------------------------------------------------------------------------------------
  // HTTP
  const tls = opts.tls ?? true;
  const cert = tls ? selfSignedCert() : undefined;
  const fingerprint256 = cert ? new X509Certificate(cert.cert).fingerprint256 : '';
  const MAX_POST = 64 * 1024;
  const MAX_UPLOAD = 512 * 1024 * 1024;
  const SECRET_PARAMS = new Set(['cipassword', 'password', 'secret']);

  function authenticate(header: string | undefined, cookie: string | undefined): { user?: string; error?: string } {
    const m = header ? /^PVEAPIToken(?:\s+|=)(.+)$/.exec(header.trim()) : null;
    if (!m) return { error: header || cookie?.includes('PVEAuthCookie') ? 'authentication failure' : 'No ticket' };
    const tm = /^(([^@\s!]+)@([^@\s!]+))!([A-Za-z][A-Za-z0-9._-]*)[=\s](.+)$/.exec(m[1]!);
    if (!tm) return { error: 'authentication failure' };
    const id = `${tm[1]}!${tm[4]}`;
    const tok = tokens.find((t) => t.id === id);
    if (!tok) return { error: 'authentication failure' };
    const a = Buffer.from(tok.secret);
    const b = Buffer.from(tm[5]!);
    if (a.length !== b.length || !timingSafeEqual(a, b)) return { error: 'authentication failure' };
    return { user: id };
  }

  function redact(params: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(params)) out[k] = SECRET_PARAMS.has(k) ? '**********' : v;
    return out;
  }

  function send(res: http.ServerResponse, status: number, message: string, body?: unknown): void {
    if (res.headersSent || res.destroyed) return;
    res.statusCode = status;
    res.statusMessage = (message.split('\n')[0] ?? '').replace(/[^\x20-\x7e]/g, ' ').slice(0, 200) || http.STATUS_CODES[status] || 'Error';
    res.setHeader('Server', 'pve-api-daemon/3.0');
    res.setHeader('Cache-Control', 'max-age=0');
    res.setHeader('Pragma', 'no-cache');
    res.setHeader('Expires', new Date().toUTCString());
    if (body === undefined) {
      res.end();
      return;
    }
    const text = JSON.stringify(body);
    res.setHeader('Content-Type', 'application/json;charset=UTF-8');
    res.setHeader('Content-Length', Buffer.byteLength(text));
    res.end(text);
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): Promise<void> {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'https://pve.invalid');
    const rec: RecordedRequest = { method, path: url.pathname, params: {}, status: 0, authenticated: false, at: Date.now() };
    const record = (status: number, extra: Partial<RecordedRequest> = {}) => {
      Object.assign(rec, { status }, extra);
      requests.push(rec);
    };
    const drop = (fault: RecordedRequest['fault']) => {
      record(0, { fault });
      req.socket.destroy();
    };

    const m = /^\/api2\/json(\/.*)?$/.exec(url.pathname);
    if (!m) {
      record(501);
      send(res, 501, 'no such uri');
      return;
    }
    const path = m[1] ?? '/';
    rec.path = path;

    // Pre-apply faults: nothing has been looked at yet.
    if ((faults.dropRate ?? 0) > 0 && faultRng() < faults.dropRate!) {
      drop('drop');
      return;
    }
    if ((faults.transientRate ?? 0) > 0 && faultRng() < faults.transientRate!) {
      const kind = Math.floor(faultRng() * 3);
      if (kind === 2) {
        drop('transient');
        return;
      }
      const status = kind === 0 ? 500 : 503;
      record(status, { fault: 'transient', message: 'got no worker' });
      send(res, status, 'got no worker', { data: null, message: 'got no worker\n' });
      return;
    }

    if (!['GET', 'POST', 'PUT', 'DELETE'].includes(method)) {
      record(501);
      send(res, 501, `method '${method}' not available`);
      return;
    }
    if (req.headers['transfer-encoding']) {
      const te = String(req.headers['transfer-encoding']).toLowerCase();
      const msg = te === 'chunked' ? 'chunked transfer encoding not supported' : `Unknown transfer encoding '${te}'`;
      record(501, { message: msg });
      send(res, 501, msg);
      return;
    }

    const auth = authenticate(req.headers.authorization, req.headers.cookie);
    if (auth.error) {
      record(401, { message: auth.error });
      if (authDelay > 0) await sleep(authDelay).catch(() => {});
      send(res, 401, auth.error);
      return;
    }
    rec.authenticated = true;
    const user = auth.user!;

    // Parameters: query, then body (form, JSON or multipart upload).
    const params: Record<string, unknown> = {};
    for (const [k, v] of url.searchParams) {
      if (params[k] === undefined) params[k] = v;
      else params[k] = Array.isArray(params[k]) ? [...(params[k] as unknown[]), v] : [params[k], v];
    }
    let upload: Ctx['upload'];
    const ctype = String(req.headers['content-type'] ?? '');
    const [ct, ...ctParams] = ctype.split(/\s*[;,]\s*/);
    const isUploadPath = method === 'POST' && /^\/nodes\/[^/]+\/storage\/[^/]+\/upload$/.test(path);
    if (body.length) {
      if (method !== 'POST' && method !== 'PUT') {
        record(501);
        send(res, 501, `Unexpected content for method '${method}'`);
        return;
      }
      if (isUploadPath) {
        const boundary = ctParams.map((x) => /^boundary\s*=\s*"?([^"\s]+)"?$/.exec(x)?.[1]).find(Boolean);
        if (ct !== 'multipart/form-data' || !boundary) {
          record(501);
          send(res, 501, `upload 'Content-Type '${ctype}' not implemented`);
          return;
        }
        const mp = parseMultipart(body, boundary);
        if (mp.error) {
          record(501, { message: mp.error });
          send(res, 501, mp.error);
          return;
        }
        Object.assign(params, mp.fields);
        if (mp.file) {
          params.filename = mp.file.filename;
          upload = { filename: mp.file.filename, data: mp.file.data };
        }
      } else {
        if (body.length > MAX_POST) {
          record(501);
          send(res, 501, 'for data too large');
          return;
        }
        if (!ct || ct === 'application/x-www-form-urlencoded') {
          for (const [k, v] of new URLSearchParams(body.toString('utf8'))) params[k] = v;
        } else if (ct === 'application/json') {
          let parsed: unknown;
          try {
            parsed = JSON.parse(body.toString('utf8'));
          } catch (e) {
            record(400, { message: 'invalid JSON' });
            send(res, 400, 'Parameter verification failed.', { data: null, message: `malformed JSON string: ${errText(e)}\n` });
            return;
          }
          if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) Object.assign(params, parsed);
        } else {
          record(506);
          send(res, 506, `upload 'Content-Type '${ctype}' not implemented`);
          return;
        }
      }
    }
    rec.params = redact(params);
    if (upload) rec.params.filename = `${upload.filename} (${upload.data.length} bytes)`;

    const v = schema.validate(method, path, params);
    if (!v.ok) {
      if (v.status === 501) {
        record(501, { message: v.message });
        send(res, 501, v.message, { data: null, message: `${v.message}\n` });
        return;
      }
      record(400, { template: v.template, schemaErrors: v.errors, message: v.message });
      send(res, 400, v.message, { data: null, message: `${v.message}\n`, errors: v.errors });
      return;
    }
    rec.template = v.template;
    const key = `${method} ${v.template}`;
    const reject = faults.rejectEndpoint?.[key] ?? faults.rejectEndpoint?.[`${method} ${path}`];
    if (reject !== undefined) {
      const sm = /^([1-5]\d\d)\s+([\s\S]*)$/.exec(reject);
      const status = sm ? Number(sm[1]) : 500;
      const msg = sm ? sm[2]! : reject;
      record(status, { message: msg });
      send(res, status, msg, { data: null, message: `${msg}\n` });
      return;
    }
    const handler = handlers.get(key);
    if (!handler) {
      const msg = `Method '${method} ${path}' not implemented`;
      record(501, { message: msg });
      send(res, 501, msg, { data: null, message: `${msg}\n` });
      return;
    }

    let result: Result;
    try {
      const node = v.params.node !== undefined ? resolveNode(String(v.params.node)) : '';
      if (faults.lockTimeouts && method !== 'GET' && v.params.vmid !== undefined && isLocked(Number(v.params.vmid))) {
        die(`can't lock file '/var/lock/qemu-server/lock-${v.params.vmid}.conf' - got timeout`);
      }
      result = await handler({ node, p: v.params, user, upload });
    } catch (e) {
      const err = e instanceof PveError ? e : new PveError(500, `${errText(e)}\n`);
      record(err.status, { message: err.message.replace(/\n+$/, ''), ...(err.errors ? { schemaErrors: err.errors } : {}) });
      const bodyOut: Record<string, unknown> = { data: null, message: err.message };
      if (err.errors) bodyOut.errors = err.errors;
      send(res, err.status, err.message, bodyOut);
      return;
    }
    if ((faults.dropAfterApplyRate ?? 0) > 0 && faultRng() < faults.dropAfterApplyRate!) {
      drop('drop-after-apply');
      return;
    }
    record(200);
    const out: Record<string, unknown> = { data: result.data ?? null };
    if (result.total !== undefined) out.total = result.total;
    send(res, 200, 'OK', out);
  }

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_UPLOAD) {
        tooBig = true;
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (tooBig) {
        send(res, 413, 'Request Entity Too Large');
        return;
      }
      handle(req, res, Buffer.concat(chunks)).catch((e) => send(res, 500, errText(e), { data: null, message: `${errText(e)}\n` }));
    });
    req.on('error', () => {});
  };
  const server = cert ? https.createServer({ key: cert.key, cert: cert.cert }, onRequest) : http.createServer(onRequest);
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', rej);
      res();
    });
  });
  const addr = server.address() as AddressInfo;
  const hostForUrl = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;

  // ---------------------------------------------------------------------------------------------
  const sim: ProxmoxSimulator = {
    url: `${tls ? 'https' : 'http'}://${hostForUrl}:${addr.port}`,
    caPem: cert?.cert ?? '',
    fingerprint256,
    vms,
    storage,
    tasks,
    requests,
    token: { id: tokens[0]!.id, secret: tokens[0]!.secret, header: `PVEAPIToken=${tokens[0]!.id}=${tokens[0]!.secret}` },
    get faults() {
      return faults;
    },
    set faults(f: ProxmoxFaults) {
      faults = { ...f };
    },
    setFaults(f: ProxmoxFaults) {
      faults = { ...f };
    },
    leftovers(marker: string) {
      const hit = (s: unknown) => s !== undefined && String(s).includes(marker);
      const vmsHit = [...vms.values()].filter((vm) => hit(vm.name) || hit(vm.config.description) || hit(vm.config.tags));
      const ids = new Set(vmsHit.map((vm) => vm.vmid));
      const volumes = [...storage.values()].flat().filter((v) => hit(v.volid) || hit(v.notes) || (v.vmid !== undefined && ids.has(v.vmid)));
      return { vms: vmsHit, volumes };
    },
    seedVm(spec) {
      const node = spec.node ?? nodes[0]!;
      if (vms.has(spec.vmid)) throw new Error(`VM ${spec.vmid} already exists`);
      const vm: SimVm = { vmid: spec.vmid, node, name: '', template: false, status: 'stopped', config: {} };
      vms.set(spec.vmid, vm);
      try {
        const settings: Record<string, string> = {};
        for (const [k, v] of Object.entries(spec.config ?? {})) settings[k] = /^net\d+$/.test(k) ? printNet(String(v)) : String(v);
        if (spec.name !== undefined) settings.name = spec.name;
        vm.template = spec.template === true || settings.template === '1';
        const disks = createDisks(vm, settings, undefined, () => {}, []);
        vm.config = { ...settings, ...disks };
        if (vm.template) vm.config.template = '1';
        if (!vm.config.boot) vm.config.boot = defaultBoot(vm.config);
        if (!vm.config.smbios1) vm.config.smbios1 = `uuid=${uuid()}`;
        if (!vm.config.vmgenid) vm.config.vmgenid = uuid();
        vm.config.meta = vm.config.meta ?? `creation-qemu=9.2.0,ctime=${now()}`;
        if (spec.ignoreAcpi) vm.ignoreAcpi = true;
        syncVm(vm);
        if (spec.status === 'running') {
          vm.status = 'running';
          vm.startedAt = Date.now() - guestBootMs;
        }
      } catch (e) {
        vms.delete(spec.vmid);
        throw e;
      }
      return vm;
    },
    seedVolume(sid, volname, size, o = {}) {
      const def = storageDef(sid);
      const p = parseVolname(def, volname);
      return addVolume(sid, {
        volid: `${sid}:${volname}`,
        size,
        content: p.vtype,
        format: p.format,
        node: o.node ?? nodes[0]!,
        vmid: p.owner,
        data: o.data,
        notes: o.notes,
        sha256: o.data ? hashOf('sha256', o.data) : undefined,
      });
    },
    outOfBand: {
      destroyVm(vmid) {
        const vm = vms.get(vmid);
        if (!vm) throw new Error(`VM ${vmid} does not exist`);
        for (const [sid, list] of storage) {
          const def = storageDefs.get(sid)!;
          storage.set(
            sid,
            list.filter((v) => v.vmid !== vmid || (!def.shared && v.node !== vm.node)),
          );
        }
        vms.delete(vmid);
      },
      setConfig(vmid, changes) {
        const vm = vms.get(vmid);
        if (!vm) throw new Error(`VM ${vmid} does not exist`);
        for (const [k, v] of Object.entries(changes)) {
          if (v === null) delete vm.config[k];
          else vm.config[k] = /^net\d+$/.test(k) ? printNet(String(v)) : v;
        }
        syncVm(vm);
        return vm;
      },
    },
    async idle() {
      while (running.size) await Promise.allSettled([...running]);
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const a of taskAborts.values()) a.abort();
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const l of locks.values()) for (const w of [...l.waiters]) w();
      await Promise.allSettled([...running]);
      server.closeAllConnections();
      await new Promise<void>((res) => server.close(() => res()));
    },
  };
  return sim;
}

// =============================================================================================
// Standalone: node test/fakes/proxmox/simulator.ts [--port 8006] [--host 127.0.0.1] [--no-tls]
//   [--seed N] [--nodes pve1,pve2] [--task-ms 150] [--token 'user@realm!id=secret']
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const arg = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const tokenArg = arg('--token');
  const tm = tokenArg ? /^(.+![^=]+)=(.+)$/.exec(tokenArg) : null;
  const sim = await startProxmoxSimulator({
    port: Number(arg('--port') ?? 8006),
    host: arg('--host') ?? '127.0.0.1',
    tls: !args.includes('--no-tls'),
    seed: arg('--seed') !== undefined ? Number(arg('--seed')) : undefined,
    nodes: arg('--nodes')?.split(','),
    taskDurationMs: arg('--task-ms') !== undefined ? Number(arg('--task-ms')) : undefined,
    tokens: tm ? [{ id: tm[1]!, secret: tm[2]! }] : undefined,
    authFailureDelayMs: args.includes('--fast-auth-failure') ? 0 : undefined,
  });
  process.stdout.write(
    [
      `url:          ${sim.url}   (API base ${sim.url}/api2/json)`,
      `fingerprint:  ${sim.fingerprint256 || '(no TLS)'}`,
      `token:        ${sim.token.id}=${sim.token.secret}`,
      `header:       Authorization: ${sim.token.header}`,
      '',
    ].join('\n'),
  );
  const stop = () => {
    void sim.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
