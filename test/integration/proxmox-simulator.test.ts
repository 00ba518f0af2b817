// The Proxmox VE simulator (test/fakes/proxmox) behaves like PVE where the provider depends on it:
// schema validation, token auth over verified TLS, tasks, clone locks, disk lifecycle, faults.
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { existsSync } from 'node:fs';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { startProxmoxSimulator, type ProxmoxSimulator } from '../fakes/proxmox/simulator.ts';
import { DEFAULT_SOURCE, ENDPOINTS, trimSchema } from '../fakes/proxmox/trim-schema.ts';
import { loadTrimmedSchema } from '../fakes/proxmox/schema.ts';

interface Reply {
  status: number;
  message: string;
  body: any;
  fingerprint?: string;
}
type Params = Record<string, string | number>;
const form = (params: Params) => new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]));

/** A minimal PVE client: form-encoded (or JSON) bodies, CA-verified TLS, one connection per call. */
function client(sim: ProxmoxSimulator) {
  const call = (
    method: string,
    path: string,
    params: Params = {},
    o: { auth?: string | null; json?: boolean; raw?: { body: Buffer; type: string } } = {},
  ): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const inQuery = method === 'GET' || method === 'DELETE';
      const qs = inQuery && Object.keys(params).length ? `?${form(params)}` : '';
      let body: Buffer | undefined;
      let type = '';
      if (o.raw) {
        body = o.raw.body;
        type = o.raw.type;
      } else if (!inQuery && Object.keys(params).length) {
        body = Buffer.from(o.json ? JSON.stringify(params) : form(params).toString());
        type = o.json ? 'application/json' : 'application/x-www-form-urlencoded';
      }
      const headers: Record<string, string | number> = {};
      const auth = o.auth === undefined ? sim.token.header : o.auth;
      if (auth !== null) headers.Authorization = auth;
      if (body) {
        headers['Content-Type'] = type;
        headers['Content-Length'] = body.length;
      }
      const req = https.request(`${sim.url}/api2/json${path}${qs}`, { method, ca: sim.caPem, agent: false, headers }, (res) => {
        const fingerprint = (res.socket as TLSSocket).getPeerCertificate?.().fingerprint256;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, message: res.statusMessage ?? '', body: text ? JSON.parse(text) : undefined, fingerprint });
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  const waitTask = async (upid: string, node = 'pve1') => {
    for (;;) {
      const r = await call('GET', `/nodes/${node}/tasks/${encodeURIComponent(upid)}/status`);
      expect(r.status).toBe(200);
      if (r.body.data.status === 'stopped') return r.body.data as { exitstatus: string; type: string; upid: string };
      await new Promise((res) => setTimeout(res, 20));
    }
  };
  return { call, waitTask };
}

const UPID_RE = /^UPID:pve1:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:qmclone:9000:hangar@pve!ci:$/;
const LOCK_TIMEOUT = "can't lock file '/var/lock/qemu-server/lock-9000.conf' - got timeout";

describe('Proxmox simulator', () => {
  let sim: ProxmoxSimulator;
  let api: ReturnType<typeof client>;

  beforeAll(async () => {
    sim = await startProxmoxSimulator({ seed: 7, taskDurationMs: 100, authFailureDelayMs: 0 });
    api = client(sim);
    sim.seedVm({
      vmid: 9000,
      name: 'ubuntu-tmpl',
      template: true,
      config: { scsi0: 'local-lvm:4', ide2: 'local-lvm:cloudinit', net0: 'virtio,bridge=vmbr0', memory: '2048', cores: 2, agent: '1' },
    });
  });
  afterAll(async () => {
    await sim.close();
  });

  it('rejects unknown parameters and malformed values with 400 and per-parameter errors', async () => {
    const unknown = await api.call('POST', '/nodes/pve1/qemu/9000/clone', { newid: 150, color: 'blue' });
    expect(unknown.status).toBe(400);
    expect(unknown.message).toBe('Parameter verification failed.');
    expect(unknown.body).toEqual({
      data: null,
      message: 'Parameter verification failed.\n',
      errors: { color: 'property is not defined in schema and the schema does not allow additional properties' },
    });
    const bad = await api.call('POST', '/nodes/pve1/qemu/9000/clone', { newid: 99, full: 'yes', name: 'not_a_dns_name' }, { json: true });
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual({
      newid: 'invalid format - value does not look like a valid VM ID\n',
      full: "type check ('boolean') failed - got 'yes'",
      name: 'invalid format - value does not look like a valid DNS name\n',
    });
    const missing = await api.call('POST', '/nodes/pve1/qemu/9000/clone', {});
    expect(missing.body.errors).toEqual({ newid: 'property is missing and it is not optional' });
    const propString = await api.call('POST', '/nodes/pve1/qemu/9000/config', {
      net1: 'virtio,bridge=vmbr0,tag=5000',
      ipconfig1: 'ip=10.0.0.5/24,gateway=10.0.0.1',
    });
    expect(propString.body.errors).toEqual({
      net1: 'invalid format - format error\nnet1.tag: value must have a maximum value of 4094\n',
      ipconfig1: 'invalid format - invalid key in comma-separated list property: gateway\n',
    });
    const notImplemented = await api.call('GET', '/nodes/pve1/qemu/9000/snapshot');
    expect(notImplemented.status).toBe(501);
    expect(notImplemented.message).toBe("Method 'GET /nodes/pve1/qemu/9000/snapshot' not implemented");
    // Nothing reached the handlers; the schema errors are recorded.
    expect(sim.vms.has(150)).toBe(false);
    const rec = sim.requests.find((r) => r.params.color === 'blue')!;
    expect(rec).toMatchObject({ status: 400, authenticated: true, schemaErrors: { color: expect.any(String) } });
  });

  it('refuses calls without a token or with a wrong one, over a certificate clients can verify', async () => {
    const none = await api.call('GET', '/version', {}, { auth: null });
    expect([none.status, none.message]).toEqual([401, 'No ticket']);
    const wrong = await api.call('GET', '/version', {}, { auth: `PVEAPIToken=${sim.token.id}=not-the-secret` });
    expect([wrong.status, wrong.message]).toEqual([401, 'authentication failure']);
    const otherToken = await api.call('GET', '/version', {}, { auth: `PVEAPIToken=root@pam!x=${sim.token.secret}` });
    expect(otherToken.status).toBe(401);
    const good = await api.call('GET', '/version');
    expect(good.status).toBe(200);
    expect(good.body.data).toMatchObject({ release: expect.stringMatching(/^\d+\.\d+$/) });
    expect(good.fingerprint).toBe(sim.fingerprint256);
    expect(sim.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const logged = sim.requests.filter((r) => r.status === 401);
    expect(logged.length).toBeGreaterThanOrEqual(3);
    expect(JSON.stringify(sim.requests)).not.toContain(sim.token.secret);
  });

  it('clones a template in a task that runs, then stops OK, and the VM appears with a linked disk', async () => {
    const r = await api.call('POST', '/nodes/pve1/qemu/9000/clone', { newid: 101, name: 'web-1', description: 'marker-abc' });
    expect(r.status).toBe(200);
    expect(r.body.data).toMatch(UPID_RE);
    while (!sim.vms.has(101)) await new Promise((res) => setTimeout(res, 5));
    const during = await api.call('GET', '/nodes/pve1/qemu/101/config');
    expect(during.body.data.lock).toBe('clone');
    const first = await api.call('GET', `/nodes/pve1/tasks/${encodeURIComponent(r.body.data)}/status`);
    expect(first.body.data.status).toBe('running');
    const done = await api.waitTask(r.body.data);
    expect(done.exitstatus).toBe('OK');
    const cfg = (await api.call('GET', '/nodes/pve1/qemu/101/config')).body.data;
    expect(cfg).toMatchObject({
      name: 'web-1',
      description: 'marker-abc',
      scsi0: 'local-lvm:vm-101-disk-0,size=4G',
      ide2: 'local-lvm:vm-101-cloudinit,media=cdrom',
      cores: 2,
    });
    expect(cfg.lock).toBeUndefined();
    expect(cfg.template).toBeUndefined();
    expect(cfg.net0).toMatch(/^virtio=BC:24:11:[0-9A-F:]{8},bridge=vmbr0$/);
    expect(cfg.net0).not.toBe((await api.call('GET', '/nodes/pve1/qemu/9000/config')).body.data.net0);
    const list = (await api.call('GET', '/nodes/pve1/qemu')).body.data;
    expect(list.map((v: { vmid: number }) => v.vmid)).toEqual([101, 9000]);
    const vol = sim.storage.get('local-lvm')!.find((v) => v.volid === 'local-lvm:vm-101-disk-0');
    expect(vol?.parent).toBe('local-lvm:base-9000-disk-0');
    const log = await api.call('GET', `/nodes/pve1/tasks/${encodeURIComponent(r.body.data)}/log`);
    expect(log.body.data[0]).toEqual({ n: 1, t: 'create linked clone of drive scsi0 (local-lvm:base-9000-disk-0)' });
    expect(log.body.data.at(-1).t).toBe('TASK OK');
    expect(sim.leftovers('marker-abc').vms.map((v) => v.vmid)).toEqual([101]);
    // An existing target is refused before any task starts.
    const again = await api.call('POST', '/nodes/pve1/qemu/9000/clone', { newid: 101 });
    expect([again.status, again.body.message]).toEqual([500, 'unable to create VM 101: config file already exists\n']);
  });

  it('concurrent clones of one template collide on its lock; sequential clones do not', async () => {
    const ids = [201, 202, 203, 204, 205, 206];
    const started = await Promise.all(ids.map((newid) => api.call('POST', '/nodes/pve1/qemu/9000/clone', { newid, name: `par-${newid}` })));
    expect(started.map((s) => s.status)).toEqual(ids.map(() => 200));
    const results = await Promise.all(started.map((s) => api.waitTask(s.body.data)));
    const failed = results.filter((t) => t.exitstatus !== 'OK');
    expect(failed.length).toBeGreaterThanOrEqual(1);
    expect(failed.every((t) => t.exitstatus === LOCK_TIMEOUT)).toBe(true);
    expect(results.some((t) => t.exitstatus === 'OK')).toBe(true);
    // Failed clones left nothing behind.
    const made = ids.filter((id) => sim.vms.has(id));
    expect(made.length).toBe(results.length - failed.length);
    for (const id of ids.filter((i) => !made.includes(i))) {
      expect(sim.storage.get('local-lvm')!.some((v) => v.vmid === id)).toBe(false);
    }

    for (const newid of [301, 302, 303]) {
      const s = await api.call('POST', '/nodes/pve1/qemu/9000/clone', { newid });
      expect((await api.waitTask(s.body.data)).exitstatus).toBe('OK');
    }
    expect([301, 302, 303].every((id) => sim.vms.get(id)?.status === 'stopped')).toBe(true);
  });

  it('deleting a VM removes its disks; unreferenced ones only when asked; running VMs refuse', async () => {
    sim.seedVm({ vmid: 401, name: 'del-a', config: { scsi0: 'local-lvm:2', scsi1: 'local-lvm:1', ide2: 'local-lvm:cloudinit' } });
    sim.seedVolume('local-lvm', 'vm-401-disk-7', 1024 ** 3);
    const owned = () =>
      sim.storage
        .get('local-lvm')!
        .filter((v) => v.vmid === 401)
        .map((v) => v.volid)
        .sort();
    expect(owned()).toEqual(['local-lvm:vm-401-cloudinit', 'local-lvm:vm-401-disk-0', 'local-lvm:vm-401-disk-1', 'local-lvm:vm-401-disk-7']);
    // Detach scsi1: it becomes unused0 and is still destroyed with the VM.
    expect((await api.call('PUT', '/nodes/pve1/qemu/401/unlink', { idlist: 'scsi1' })).status).toBe(200);
    expect(sim.vms.get(401)!.config.unused0).toBe('local-lvm:vm-401-disk-1');
    const del = await api.call('DELETE', '/nodes/pve1/qemu/401', { purge: 1 });
    expect((await api.waitTask(del.body.data)).exitstatus).toBe('OK');
    expect(sim.vms.has(401)).toBe(false);
    expect(owned()).toEqual(['local-lvm:vm-401-disk-7']);

    sim.seedVm({ vmid: 402, name: 'del-b', status: 'running', config: { scsi0: 'local-lvm:2' } });
    sim.seedVolume('local-lvm', 'vm-402-disk-3', 1024 ** 3);
    const busy = await api.call('DELETE', '/nodes/pve1/qemu/402');
    expect([busy.status, busy.message]).toEqual([500, 'VM 402 is running - destroy failed']);
    expect((await api.waitTask((await api.call('POST', '/nodes/pve1/qemu/402/status/stop')).body.data)).exitstatus).toBe('OK');
    const del2 = await api.call('DELETE', '/nodes/pve1/qemu/402', { 'destroy-unreferenced-disks': 1 });
    expect((await api.waitTask(del2.body.data)).exitstatus).toBe('OK');
    expect(sim.storage.get('local-lvm')!.filter((v) => v.vmid === 402)).toEqual([]);

    // A template with linked clones cannot go.
    const tmpl = await api.call('DELETE', '/nodes/pve1/qemu/9000');
    expect((await api.waitTask(tmpl.body.data)).exitstatus).toBe("base volume 'local-lvm:base-9000-disk-0' is still in use by linked cloned");
    expect(sim.vms.has(9000)).toBe(true);
  });

  it('uploads an ISO by multipart form, attaches it, and refuses to delete it while attached', async () => {
    const boundary = 'sim-boundary-1234';
    const iso = Buffer.alloc(4096, 7);
    const multipart = (filename: string) =>
      Buffer.concat([
        Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="content"\r\n\r\niso\r\n`),
        Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="filename"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
        ),
        iso,
        Buffer.from(`\r\n--${boundary}--\r\n`),
      ]);
    const type = `multipart/form-data; boundary=${boundary}`;
    const wrongExt = await api.call('POST', '/nodes/pve1/storage/local/upload', {}, { raw: { body: multipart('seed.txt'), type } });
    expect([wrongExt.status, wrongExt.body.errors]).toEqual([400, { filename: 'wrong file extension' }]);
    const up = await api.call('POST', '/nodes/pve1/storage/local/upload', {}, { raw: { body: multipart('cidata-101.iso'), type } });
    expect(up.status).toBe(200);
    expect((await api.waitTask(up.body.data)).exitstatus).toBe('OK');
    const vol = sim.storage.get('local')!.find((v) => v.volid === 'local:iso/cidata-101.iso')!;
    expect(vol.size).toBe(4096);
    expect(vol.data?.equals(iso)).toBe(true);

    const noMedia = await api.call('PUT', '/nodes/pve1/qemu/101/config', { ide3: 'local:iso/cidata-101.iso' });
    expect(noMedia.body.errors).toEqual({ ide3: "explicit 'media=cdrom' is required for iso images" });
    expect((await api.call('PUT', '/nodes/pve1/qemu/101/config', { ide3: 'local:iso/cidata-101.iso,media=cdrom' })).status).toBe(200);
    expect(sim.vms.get(101)!.config.ide3).toBe('local:iso/cidata-101.iso,media=cdrom,size=4K');
    const refused = await api.call('DELETE', `/nodes/pve1/storage/local/content/${encodeURIComponent('local:iso/cidata-101.iso')}`);
    expect((await api.waitTask(refused.body.data)).exitstatus).toBe("volume 'local:iso/cidata-101.iso' is still in use by VM 101 (ide3)");
    expect((await api.call('PUT', '/nodes/pve1/qemu/101/config', { delete: 'ide3' })).status).toBe(200);
    const removed = await api.call('DELETE', `/nodes/pve1/storage/local/content/${encodeURIComponent('local:iso/cidata-101.iso')}`);
    expect((await api.waitTask(removed.body.data)).exitstatus).toBe('OK');
    expect(sim.storage.get('local')!.some((v) => v.volid === 'local:iso/cidata-101.iso')).toBe(false);
  });

  it('resizes by delta or absolute size, refuses to shrink, and fails tasks and shutdowns as told', async () => {
    const grow = await api.call('PUT', '/nodes/pve1/qemu/101/resize', { disk: 'scsi0', size: '+2G' });
    expect((await api.waitTask(grow.body.data)).exitstatus).toBe('OK');
    expect(sim.vms.get(101)!.config.scsi0).toBe('local-lvm:vm-101-disk-0,size=6G');
    const shrink = await api.call('PUT', '/nodes/pve1/qemu/101/resize', { disk: 'scsi0', size: '5G' });
    expect((await api.waitTask(shrink.body.data)).exitstatus).toBe('shrinking disks is not supported');

    sim.setFaults({ failTask: { qmstart: 'start failed: QEMU exited with code 1' } });
    const start = await api.call('POST', '/nodes/pve1/qemu/101/status/start');
    expect((await api.waitTask(start.body.data)).exitstatus).toBe('start failed: QEMU exited with code 1');
    expect(sim.vms.get(101)!.status).toBe('stopped');
    sim.setFaults({});
    expect((await api.waitTask((await api.call('POST', '/nodes/pve1/qemu/101/status/start')).body.data)).exitstatus).toBe('OK');

    sim.vms.get(101)!.ignoreAcpi = true;
    const shut = await api.call('POST', '/nodes/pve1/qemu/101/status/shutdown', { timeout: 5 });
    expect((await api.waitTask(shut.body.data)).exitstatus).toBe('VM quit/powerdown failed - got timeout');
    expect(sim.vms.get(101)!.status).toBe('running');
    const forced = await api.call('POST', '/nodes/pve1/qemu/101/status/shutdown', { timeout: 5, forceStop: 1 });
    expect((await api.waitTask(forced.body.data)).exitstatus).toBe('OK');
    expect(sim.vms.get(101)!.status).toBe('stopped');
  });

  it('keeps the trimmed schema in step with the published one', () => {
    const trimmed = loadTrimmedSchema();
    expect(trimmed.source.endpoints).toEqual([...ENDPOINTS]);
    expect(trimmed.source.sha256).toMatch(/^[0-9a-f]{64}$/);
    if (!existsSync(DEFAULT_SOURCE)) return; // the shared reference is not checked out here
    const fresh = trimSchema(DEFAULT_SOURCE);
    expect(fresh.source.file).toBe(trimmed.source.file);
    expect(fresh.endpoints).toEqual(trimmed.endpoints);
  });
});

describe('Proxmox simulator faults', () => {
  it('answers transient failures at roughly the configured rate, replayably per seed, before any state change', async () => {
    const statuses = async (seed: number) => {
      const sim = await startProxmoxSimulator({ seed, faults: { transientRate: 0.3 }, authFailureDelayMs: 0 });
      const api = client(sim);
      const out: number[] = [];
      try {
        for (let i = 0; i < 100; i++)
          out.push(
            await api.call('GET', '/version').then(
              (r) => r.status,
              () => 0,
            ),
          );
        // With every call failing, a create never creates anything.
        sim.setFaults({ transientRate: 1 });
        for (let i = 0; i < 5; i++) await api.call('POST', '/nodes/pve1/qemu', { vmid: 700, name: 'never' }).catch(() => undefined);
        expect(sim.vms.has(700)).toBe(false);
        expect(sim.requests.slice(-5).every((r) => r.fault !== undefined)).toBe(true);
        // A lost reply after the change: the VM config did change.
        sim.setFaults({ dropAfterApplyRate: 1 });
        sim.seedVm({ vmid: 701, name: 'before' });
        await expect(api.call('PUT', '/nodes/pve1/qemu/701/config', { name: 'after' })).rejects.toThrow();
        expect(sim.vms.get(701)!.name).toBe('after');
      } finally {
        await sim.close();
      }
      return out;
    };
    const a = await statuses(42);
    const failures = a.filter((s) => s !== 200);
    expect(failures.length).toBeGreaterThanOrEqual(15);
    expect(failures.length).toBeLessThanOrEqual(45);
    expect(new Set(failures)).toEqual(new Set([0, 500, 503]));
    expect(await statuses(42)).toEqual(a);
  });

  it('answers lock timeouts at once on a VM busy with a task when lockTimeouts is set', async () => {
    const sim = await startProxmoxSimulator({ taskDurationMs: 300, authFailureDelayMs: 0, faults: { lockTimeouts: true } });
    const api = client(sim);
    try {
      sim.seedVm({ vmid: 100, name: 'busy', config: { scsi0: 'local-lvm:1' } });
      const start = await api.call('POST', '/nodes/pve1/qemu/100/status/start');
      while (!sim.tasks.get(start.body.data) || sim.tasks.get(start.body.data)!.status !== 'running') await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 20));
      const blocked = await api.call('PUT', '/nodes/pve1/qemu/100/config', { name: 'renamed' });
      expect([blocked.status, blocked.body.message]).toEqual([500, "can't lock file '/var/lock/qemu-server/lock-100.conf' - got timeout\n"]);
      expect(sim.vms.get(100)!.name).toBe('busy');
      expect((await api.waitTask(start.body.data)).exitstatus).toBe('OK');
      expect((await api.call('PUT', '/nodes/pve1/qemu/100/config', { name: 'renamed' })).status).toBe(200);
    } finally {
      await sim.close();
    }
  });
});
