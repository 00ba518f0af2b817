// The Proxmox provider against the Proxmox VE simulator (test/fakes/proxmox): templates,
// the VM lifecycle in both cloud-init modes, disks, TLS modes, lost replies, VMID collisions,
// auth and task failures. Every request the provider sends must pass the simulator's schema
// validation (checked once for the whole file at the end).
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import { HangarError } from '../../domain/errors.ts';
import { ProxmoxClient, type Params, type ProxmoxConnectionOptions, type ProviderLogger } from '../../providers/proxmox/client.ts';
import { ProxmoxProvider, type ProxmoxProviderOptions } from '../../providers/proxmox/provider.ts';
import { cidataHash, cidataIsoName, isCidataIsoOf } from '../../providers/proxmox/markers.ts';
import type { VmSpec } from '../../providers/hypervisor.ts';
import { startProxmoxSimulator, type ProxmoxSimulator } from '../fakes/proxmox/simulator.ts';
import { writeQcow2 } from '../support/proxmox-sim.ts';

const TOKEN = { id: 'hangar@pve!ci', secret: randomUUID() };
const NODE = 'pve1';

let sim: ProxmoxSimulator;
let dir: string;
let image: string;
let templateRef: string;
let waits = 0;

interface LogLine {
  level: string;
  obj: object;
  msg?: string;
}
function memoryLogger(lines: LogLine[]): ProviderLogger {
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj, msg });
  return { warn: at('warn'), info: at('info'), debug: at('debug') };
}

function connection(extra: Partial<ProxmoxConnectionOptions> = {}): ProxmoxConnectionOptions {
  return {
    url: sim.url,
    tokenId: TOKEN.id,
    tokenSecret: TOKEN.secret,
    caPem: sim.caPem,
    taskPollInitialMs: 20,
    taskPollMaxMs: 200,
    getRetryDelayMs: 5,
    timeoutMs: 10_000,
    ...extra,
  };
}

const opened: ProxmoxProvider[] = [];
function provider(extra: Partial<ProxmoxProviderOptions> = {}, conn: Partial<ProxmoxConnectionOptions> = {}): ProxmoxProvider {
  const p = new ProxmoxProvider({
    connection: connection(conn),
    node: NODE,
    hooks: { onWait: () => void waits++ },
    pollInitialMs: 20,
    pollMaxMs: 200,
    ...extra,
  });
  opened.push(p);
  return p;
}

function spec(extra: Partial<VmSpec> = {}): VmSpec {
  const machineId = randomUUID();
  return {
    machineId,
    name: `vm-${machineId.slice(0, 8)}`,
    cpu: 2,
    memoryMb: 2048,
    diskGb: 10,
    template: templateRef,
    ...extra,
  };
}

/** Retries retryable HangarErrors, as Temporal's activity retry policy would. */
async function retrying<T>(fn: () => Promise<T>, attempts = 40): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof HangarError) || !err.retryable || attempt >= attempts) throw err;
    }
  }
}

async function failure(p: Promise<unknown>): Promise<HangarError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof HangarError) return err;
    throw err;
  }
  throw new Error('expected a HangarError');
}

/** Everything an error could reveal when logged or serialised. */
function errorText(err: unknown): string {
  const e = err as Error & Record<string, unknown>;
  return [String(e), e.message, e.stack, JSON.stringify(e), JSON.stringify(Object.entries(e)), JSON.stringify(e.cause ?? null)].join('\n');
}

const vmsWithMarker = (marker: string) => [...sim.vms.values()].filter((v) => String(v.config.description ?? '').includes(marker));
const allVolumes = () => [...sim.storage.values()].flat();

const IMAGE_URL = 'https://images.example.test/tiny-cloud.qcow2';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hangar-pve-test-'));
  image = join(dir, 'tiny.qcow2');
  writeQcow2(image, 2 * 1024 ** 3);
  sim = await startProxmoxSimulator({
    nodes: [NODE, 'pve2'],
    tokens: [TOKEN],
    taskDurationMs: 30,
    authFailureDelayMs: 20,
    seed: Number(process.env.HANGAR_PVE_SIM_SEED ?? 7),
    downloads: { [IMAGE_URL]: { data: readFileSync(image) } },
  });
  const p = provider();
  const t = await p.importTemplate({ templateId: `tpl-${randomUUID().slice(0, 8)}`, name: 'tiny-cloud', image, memoryMb: 1024, cpu: 1 });
  templateRef = t.ref;
});

afterAll(async () => {
  for (const p of opened) p.close();
  await sim?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('templates', () => {
  it('imports a qcow2 as a template once (re-import returns it)', async () => {
    const p = provider();
    const templateId = `tpl-${randomUUID().slice(0, 8)}`;
    const first = await p.importTemplate({ templateId, name: 'Ubuntu 24.04', image });
    expect(first.created).toBe(true);
    const vm = sim.vms.get(Number(first.ref));
    expect(vm?.template).toBe(true);
    expect(String(vm?.config.description)).toContain(`hangar-template=${templateId}`);
    expect(String(vm?.config.tags)).toContain('hangar');
    expect(String(vm?.config.scsi0)).toMatch(/^local-lvm:/);
    expect(allVolumes().some((v) => v.volid.includes(`hangar-template-${templateId}`))).toBe(true);

    const again = await p.importTemplate({ templateId, name: 'Ubuntu 24.04', image });
    expect(again).toEqual({ ref: first.ref, created: false });

    await expect(p.deleteTemplate(templateId)).resolves.toEqual({ deleted: true });
    expect(sim.vms.has(Number(first.ref))).toBe(false);
    expect(allVolumes().some((v) => v.volid.includes(`hangar-template-${templateId}`))).toBe(false);
    await expect(p.deleteTemplate(templateId)).resolves.toEqual({ deleted: false });
  });

  it('imports from a URL with download-url, checksum verified by Proxmox', async () => {
    const p = provider();
    const templateId = `tpl-${randomUUID().slice(0, 8)}`;
    const sum = createHash('sha256').update(readFileSync(image)).digest('hex');
    const t = await p.importTemplate({ templateId, name: 'from-url', image: IMAGE_URL, checksum: `sha256:${sum}` });
    expect(t.created).toBe(true);
    expect(sim.requests.some((r) => r.method === 'POST' && r.path.endsWith('/download-url') && r.params.checksum === sum)).toBe(true);
    expect(sim.vms.get(Number(t.ref))?.template).toBe(true);
    await expect(p.deleteTemplate(templateId)).resolves.toEqual({ deleted: true });
    expect(sim.leftovers(templateId)).toEqual({ vms: [], volumes: [] });
  });

  it('finishes a half-made template, and redoes one whose import never happened', async () => {
    const p = provider();
    // Import done, conversion missing: completed in place.
    const half = `tpl-${randomUUID().slice(0, 8)}`;
    const vmidA = 7100;
    sim.seedVm({ vmid: vmidA, node: NODE, name: 'half', config: { description: `hangar-template=${half}`, tags: 'hangar;template', scsi0: 'local-lvm:2' } });
    await expect(p.importTemplate({ templateId: half, name: 'half', image })).resolves.toEqual({ ref: String(vmidA), created: true });
    expect(sim.vms.get(vmidA)?.template).toBe(true);
    // No disk at all: removed and made again.
    const empty = `tpl-${randomUUID().slice(0, 8)}`;
    const vmidB = 7101;
    sim.seedVm({ vmid: vmidB, node: NODE, name: 'empty', config: { description: `hangar-template=${empty}`, tags: 'hangar;template' } });
    const redone = await p.importTemplate({ templateId: empty, name: 'empty', image });
    expect(redone.created).toBe(true);
    expect(sim.vms.has(vmidB)).toBe(false);
    expect(sim.vms.get(Number(redone.ref))?.template).toBe(true);
    await p.deleteTemplate(half);
    await p.deleteTemplate(empty);
    expect(sim.leftovers(half)).toEqual({ vms: [], volumes: [] });
    expect(sim.leftovers(empty)).toEqual({ vms: [], volumes: [] });
  });

  it('refuses an image whose checksum does not match', async () => {
    const p = provider();
    const err = await failure(p.importTemplate({ templateId: 'bad-sum', name: 'bad', image, checksum: `sha256:${'0'.repeat(64)}` }));
    expect(err.code).toBe('provider_rejected');
  });
});

describe('VM lifecycle', () => {
  it('clones, configures natively, starts, shuts down and deletes without leftovers', async () => {
    const p = provider();
    const s = spec({
      nics: [{ bridge: 'vmbr0', vlan: 20, mac: '52:54:00:12:34:56' }],
      cloudInit: {
        mode: 'native',
        metaData: '',
        userData: '',
        seedUrl: 'http://10.0.0.1:8080/cloud-init/m/tok/',
        native: {
          user: 'ops',
          sshKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHh0 ops@example', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHh1 two@example'],
          ipconfig0: 'ip=10.0.0.5/24,gw=10.0.0.1',
          nameservers: ['10.0.0.53', '1.1.1.1'],
          searchDomains: ['lab.example'],
        },
      },
    });
    const before = waits;
    const { providerId, created } = await p.create(s);
    expect(created).toBe(true);
    expect(waits).toBeGreaterThan(before);
    await p.configure(providerId, s);

    const vm = sim.vms.get(Number(providerId))!;
    expect(vm.name).toBe(s.name);
    expect(Number(vm.config.cores)).toBe(2);
    expect(Number(String(vm.config.memory).replace('current=', ''))).toBe(2048);
    expect(String(vm.config.net0).toLowerCase()).toContain('virtio=52:54:00:12:34:56');
    expect(String(vm.config.net0)).toContain('bridge=vmbr0');
    expect(String(vm.config.net0)).toContain('tag=20');
    expect(vm.config.ciuser).toBe('ops');
    expect(decodeURIComponent(String(vm.config.sshkeys))).toBe(s.cloudInit!.native!.sshKeys.join('\n'));
    expect(vm.config.ipconfig0).toBe('ip=10.0.0.5/24,gw=10.0.0.1');
    expect(String(vm.config.nameserver)).toContain('10.0.0.53');
    expect(Object.values(vm.config).some((v) => String(v).includes('cloudinit'))).toBe(true);
    const serial = /serial=([^,]+)/.exec(String(vm.config.smbios1))?.[1] ?? '';
    expect(Buffer.from(serial, 'base64').toString()).toBe('ds=nocloud;s=http://10.0.0.1:8080/cloud-init/m/tok/');
    expect(String(vm.config.scsi0)).toContain('size=10G');

    // Re-applying changes nothing.
    const writes = sim.requests.length;
    await p.configure(providerId, s);
    const rewrites = sim.requests.slice(writes).filter((r) => r.method !== 'GET');
    expect(rewrites).toEqual([]);

    await p.start(providerId);
    await expect(p.status(s.machineId)).resolves.toEqual({ providerId, powerState: 'running' });
    await p.start(providerId); // idempotent
    await p.shutdown(providerId, 5);
    await expect(p.status(s.machineId)).resolves.toEqual({ providerId, powerState: 'stopped' });
    await p.stop(providerId); // stopping a stopped VM succeeds

    const listed = await p.list();
    expect(listed).toContainEqual({ providerId, machineId: s.machineId, name: s.name, powerState: 'stopped' });

    await p.start(providerId);
    await expect(p.delete(s.machineId)).resolves.toEqual({ deleted: true });
    expect(sim.vms.has(Number(providerId))).toBe(false);
    expect(allVolumes().filter((v) => v.volid.includes(`vm-${providerId}-`))).toEqual([]);
    await expect(p.status(s.machineId)).resolves.toEqual({ providerId: null, powerState: 'absent' });
    await expect(p.delete(s.machineId)).resolves.toEqual({ deleted: false });
    expect(sim.leftovers(s.machineId)).toEqual({ vms: [], volumes: [] });
  });

  it('builds, uploads and attaches a cidata ISO, and removes it with the VM', async () => {
    const p = provider();
    const s = spec({
      cloneMode: 'full',
      diskGb: 4,
      cloudInit: {
        mode: 'iso',
        metaData: 'instance-id: i-1\nlocal-hostname: vm1\n',
        userData: '#cloud-config\nhostname: vm1\n',
        networkConfig: 'version: 2\nethernets: {}\n',
      },
    });
    const { providerId } = await p.create(s);
    await p.configure(providerId, s);
    const isos = () => allVolumes().filter((v) => isCidataIsoOf(s.machineId, v.volid));
    const name = cidataIsoName(s.machineId, cidataHash(s.cloudInit!));
    expect(isos().map((v) => v.volid)).toEqual([`local:iso/${name}`]);
    const iso = isos()[0]!;
    expect(iso.size).toBeGreaterThan(0);
    const vm = sim.vms.get(Number(providerId))!;
    expect(String(vm.config.ide2)).toMatch(new RegExp(`^local:iso/${name},media=cdrom(,|$)`));
    expect(Object.values(vm.config).some((v) => String(v).includes('cloudinit'))).toBe(false);

    // The same seed again: no second upload, no config write.
    const mark = sim.requests.length;
    await p.configure(providerId, s);
    expect(sim.requests.slice(mark).filter((r) => r.method !== 'GET')).toEqual([]);

    // A changed seed (same size or not) gets a new image in the same drive; the old one is deleted.
    const changed = { ...s, cloudInit: { ...s.cloudInit!, userData: '#cloud-config\nhostname: vm2\n' } };
    await p.configure(providerId, changed);
    const newName = cidataIsoName(s.machineId, cidataHash(changed.cloudInit));
    expect(newName).not.toBe(name);
    const after = isos();
    expect(after.map((v) => v.volid)).toEqual([`local:iso/${newName}`]);
    expect(after[0]!.sha256).not.toBe(iso.sha256);
    expect(String(sim.vms.get(Number(providerId))!.config.ide2)).toMatch(new RegExp(`^local:iso/${newName},media=cdrom(,|$)`));

    await p.start(providerId);
    await p.shutdown(providerId, 1);
    await expect(p.delete(s.machineId)).resolves.toEqual({ deleted: true });
    expect(sim.vms.has(Number(providerId))).toBe(false);
    expect(isos()).toEqual([]);
    expect(allVolumes().filter((v) => v.volid.includes(`vm-${providerId}-`))).toEqual([]);
    expect(sim.leftovers(s.machineId)).toEqual({ vms: [], volumes: [] });
  });

  it('stops a guest that ignores the ACPI shutdown after the timeout', async () => {
    const p = provider();
    const s = spec();
    const { providerId } = await p.create(s);
    await p.configure(providerId, s);
    await p.start(providerId);
    sim.vms.get(Number(providerId))!.ignoreAcpi = true;
    await p.shutdown(providerId, 2);
    await expect(p.status(s.machineId)).resolves.toEqual({ providerId, powerState: 'stopped' });
    const types = [...sim.tasks.values()].filter((t) => t.id === providerId).map((t) => `${t.type}:${t.exitstatus}`);
    expect(types).toContain('qmshutdown:VM quit/powerdown failed - got timeout');
    expect(types).toContain('qmstop:OK');
    await p.delete(s.machineId);
  });

  it('attaches and detaches disks idempotently', async () => {
    const p = provider();
    const s = spec();
    const { providerId } = await p.create(s);
    await p.configure(providerId, s);
    const d1 = await p.attachDisk(providerId, { diskId: 'disk-a', sizeGb: 5 });
    expect(d1.slot).toBe('scsi1');
    expect(d1.volume).toMatch(/^local-lvm:/);
    await expect(p.attachDisk(providerId, { diskId: 'disk-a', sizeGb: 5 })).resolves.toEqual(d1);
    const d2 = await p.attachDisk(providerId, { diskId: 'disk-b', sizeGb: 1 });
    expect(d2.slot).toBe('scsi2');
    expect(allVolumes().some((v) => v.volid === d1.volume)).toBe(true);

    await expect(p.detachDisk(providerId, 'disk-a')).resolves.toEqual({ detached: true });
    const vm = sim.vms.get(Number(providerId))!;
    expect(vm.config.scsi1).toBeUndefined();
    expect(String(vm.config.description)).not.toContain('hangar-disk=disk-a');
    expect(String(vm.config.description)).toContain('hangar-disk=disk-b:scsi2');
    expect(allVolumes().some((v) => v.volid === d1.volume)).toBe(false);
    await expect(p.detachDisk(providerId, 'disk-a')).resolves.toEqual({ detached: false });

    await p.delete(s.machineId);
    expect(allVolumes().some((v) => v.volid === d2.volume)).toBe(false);
  });
});

describe('cancellation', () => {
  it('a cancelled create stops watching its clone; delete then waits for the clone and removes it', async () => {
    const p = provider();
    const s = spec();
    sim.setFaults({ taskDelayMs: { qmclone: 1500 } });
    try {
      const abort = new AbortController();
      const reason = new Error('activity cancelled');
      const cloneStarted = () => [...sim.tasks.values()].some((t) => t.type === 'qmclone' && t.status === 'running');
      const creating = p.create(s, { signal: abort.signal });
      while (!cloneStarted()) await new Promise((r) => setTimeout(r, 10));
      abort.abort(reason);
      await expect(creating).rejects.toBe(reason);
      // The clone runs on in Proxmox: its target exists, locked, without the machine's marker yet.
      expect(cloneStarted()).toBe(true);
      expect(sim.leftovers(s.machineId).vms).toEqual([]);
      expect(await p.delete(s.machineId)).toEqual({ deleted: true });
      expect(cloneStarted()).toBe(false);
      expect(sim.leftovers(s.machineId)).toEqual({ vms: [], volumes: [] });
    } finally {
      sim.setFaults({});
    }
  });
});

describe('TLS', () => {
  const plain = async (p: ProxmoxProvider) => p.list();

  it('verifies against the configured CA', async () => {
    await expect(plain(provider())).resolves.toBeInstanceOf(Array);
  });

  it('accepts the pinned fingerprint in any spelling', async () => {
    const fp = sim.fingerprint256.replace(/:/g, '').toLowerCase();
    await expect(plain(provider({}, { caPem: undefined, fingerprint: fp }))).resolves.toBeInstanceOf(Array);
  });

  it('refuses a wrong fingerprint before sending anything', async () => {
    const wrong = `${'AB:'.repeat(31)}AB`;
    const before = sim.requests.length;
    const err = await failure(plain(provider({}, { caPem: undefined, fingerprint: wrong })));
    expect(err.code).toBe('tls_verification_failed');
    expect(err.message).toContain(wrong);
    expect(err.message).toContain(sim.fingerprint256);
    expect(sim.requests.length).toBe(before);
    expect(errorText(err)).not.toContain(TOKEN.secret);
  });

  it('refuses a self-signed server with the system store', async () => {
    const err = await failure(plain(provider({}, { caPem: undefined })));
    expect(err.code).toBe('tls_verification_failed');
    expect(errorText(err)).not.toContain(TOKEN.secret);
  });

  it('works insecurely only when asked, and warns', async () => {
    const lines: LogLine[] = [];
    const p = provider({ logger: memoryLogger(lines) }, { caPem: undefined, insecure: true });
    expect(lines.some((l) => l.level === 'warn' && /verification is DISABLED/.test(l.msg ?? ''))).toBe(true);
    await expect(plain(p)).resolves.toBeInstanceOf(Array);
    expect(JSON.stringify(lines)).not.toContain(TOKEN.secret);
  });
});

describe('failures', () => {
  it('maps a bad token to provider_auth_failed without revealing the secret', async () => {
    const wrongSecret = randomUUID();
    const p = provider({}, { tokenSecret: wrongSecret });
    const err = await failure(p.list());
    expect(err.code).toBe('provider_auth_failed');
    expect(err.retryable).toBe(false);
    expect(errorText(err)).not.toContain(wrongSecret);
    expect(errorText(err)).not.toContain(TOKEN.secret);
  });

  it('finds the VM after a lost clone reply instead of cloning twice', async () => {
    // Lose exactly the clone's reply: Proxmox starts the clone, the answer never arrives.
    class LosesCloneReply extends ProxmoxClient {
      override post<T = unknown>(path: string, params?: Params): Promise<T> {
        if (!path.endsWith('/clone')) return super.post<T>(path, params);
        sim.setFaults({ dropAfterApplyRate: 1 });
        return super.post<T>(path, params).finally(() => sim.setFaults({}));
      }
    }
    const client = new LosesCloneReply(connection());
    const lossy = new ProxmoxProvider({ client, node: NODE, pollInitialMs: 20, pollMaxMs: 200 });
    const s = spec();
    const err = await failure(lossy.create(s));
    client.close();
    expect(err.code).toBe('provider_error');
    expect(sim.requests.some((r) => r.fault === 'drop-after-apply' && r.path.endsWith('/clone'))).toBe(true);

    // The retry (as Temporal would run it) finds the clone by its marker.
    const clonesBefore = sim.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/clone')).length;
    const again = await provider().create(s);
    expect(again.created).toBe(false);
    expect(sim.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/clone')).length).toBe(clonesBefore);
    expect(vmsWithMarker(`hangar-machine=${s.machineId}`)).toHaveLength(1);
    await provider().delete(s.machineId);
  });

  it('picks another VMID when the one from nextid is taken', async () => {
    // Hand out a VMID that another VM already holds, as a racing client would have seen it.
    const taken = [...sim.vms.keys()].find((id) => id !== Number(templateRef)) ?? Number(templateRef);
    let calls = 0;
    class StaleNextId extends ProxmoxClient {
      override get<T = unknown>(path: string, params?: Params): Promise<T> {
        if (path === '/cluster/nextid' && calls++ === 0) return Promise.resolve(taken as T);
        return super.get<T>(path, params);
      }
    }
    const client = new StaleNextId(connection());
    const p = new ProxmoxProvider({ client, node: NODE, pollInitialMs: 20, pollMaxMs: 200 });
    const s = spec();
    const { providerId, created } = await p.create(s);
    client.close();
    expect(created).toBe(true);
    expect(Number(providerId)).not.toBe(taken);
    expect(calls).toBeGreaterThanOrEqual(2);
    await provider().delete(s.machineId);
  });

  it('resolves VMID races between providers', async () => {
    const specs = [spec(), spec(), spec()];
    // Clones of one template contend for its lock; a lock timeout is retryable (Temporal retries it).
    const results = await Promise.all(
      specs.map((s) => {
        const p = provider();
        return retrying(() => p.create(s));
      }),
    );
    const ids = new Set(results.map((r) => r.providerId));
    expect(ids.size).toBe(3);
    for (const s of specs) expect(vmsWithMarker(`hangar-machine=${s.machineId}`)).toHaveLength(1);
    const p = provider();
    for (const s of specs) await p.delete(s.machineId);
  });

  it('refuses a requested VMID that another VM holds', async () => {
    const err = await failure(provider().create(spec({ vmid: Number(templateRef) })));
    expect(err.code).toBe('already_exists');
  });

  it('reports a failed task with its exit status and log', async () => {
    const p = provider();
    sim.setFaults({ failTask: { qmclone: 'clone failed: simulated storage error' } });
    try {
      const err = await failure(p.create(spec()));
      expect(err.code).toBe('provider_task_failed');
      expect(err.message).toContain('clone failed: simulated storage error');
      expect(err.message).toContain('TASK ERROR: clone failed: simulated storage error');
      expect(err.message.split('\n').length).toBeGreaterThan(1);
    } finally {
      sim.setFaults({});
    }
  });

  it('surfaces a lock timeout as a retryable provider_error', async () => {
    const p = provider();
    // Something else holds the template's lock (a slow config task) while we clone from it.
    sim.setFaults({ lockTimeouts: true, taskDelayMs: { qmconfig: 400 } });
    try {
      const upid = await p.client.post(`/nodes/${NODE}/qemu/${templateRef}/config`, { tags: 'hangar;template' });
      expect(String(upid)).toMatch(/^UPID:/);
      const err = await failure(p.create(spec()));
      expect(err.code).toBe('provider_error');
      expect(err.retryable).toBe(true);
      expect(err.message).toMatch(/got timeout/);
    } finally {
      sim.setFaults({});
      await sim.idle();
    }
  });

  it('survives a flaky API (dropped requests, lost replies, transient 5xx) with Temporal-style retries', async () => {
    const p = provider();
    const templateId = `tpl-${randomUUID().slice(0, 8)}`;
    const s0 = spec();
    const s = { ...s0, cloudInit: { mode: 'iso' as const, metaData: 'instance-id: x\n', userData: '#cloud-config\n' } };
    const faultsBefore = sim.requests.filter((r) => r.fault).length;
    sim.setFaults({ transientRate: 0.15, dropRate: 0.05, dropAfterApplyRate: 0.15 });
    try {
      const t = await retrying(() => p.importTemplate({ templateId, name: 'flaky', image }));
      expect(vmsWithMarker(`hangar-template=${templateId}`)).toHaveLength(1);
      const { providerId } = await retrying(() => p.create({ ...s, template: t.ref }));
      expect(vmsWithMarker(`hangar-machine=${s.machineId}`)).toHaveLength(1);
      await retrying(() => p.configure(providerId, { ...s, template: t.ref }));
      await retrying(() => p.start(providerId));
      const d = await retrying(() => p.attachDisk(providerId, { diskId: 'flaky-disk', sizeGb: 2 }));
      await retrying(() => p.detachDisk(providerId, 'flaky-disk'));
      expect(allVolumes().some((v) => v.volid === d.volume)).toBe(false);
      await retrying(() => p.shutdown(providerId, 1));
      await retrying(() => p.delete(s.machineId));
      await retrying(() => p.deleteTemplate(templateId));
    } finally {
      sim.setFaults({});
      await sim.idle();
    }
    // Faults of every kind hit the run. Whether a whole call had to be repeated (the outer retry)
    // or the client absorbed them (quick retries, polling on) varies with the seed's luck.
    const hit = sim.requests.filter((r) => r.fault).slice(faultsBefore);
    expect(hit.length).toBeGreaterThan(5);
    expect(new Set(hit.map((r) => r.fault))).toEqual(new Set(['transient', 'drop', 'drop-after-apply']));
    const left = sim.leftovers(s.machineId);
    expect({ vms: left.vms.length, volumes: left.volumes.map((v) => v.volid) }).toEqual({ vms: 0, volumes: [] });
    const leftT = sim.leftovers(templateId);
    expect({ vms: leftT.vms.length, volumes: leftT.volumes.map((v) => v.volid) }).toEqual({ vms: 0, volumes: [] });
    // No disk of any VM that no longer exists was left behind.
    expect(allVolumes().filter((v) => v.content === 'images' && v.vmid !== undefined && !sim.vms.has(v.vmid))).toEqual([]);
  });

  it('every request the provider sent passed schema validation', () => {
    const bad = sim.requests.filter((r) => r.schemaErrors || r.status === 400 || r.status === 501);
    expect(bad).toEqual([]);
    expect(sim.requests.length).toBeGreaterThan(50);
  });
});
