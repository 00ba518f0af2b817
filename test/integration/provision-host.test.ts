// provisionHost and deprovisionHost end to end: the real API, a real worker (in-process, and as
// child processes for the SIGKILL case), PostgreSQL, Temporal and sushy-tools (OpenStack's Redfish
// emulator, fake systems driver, HTTP basic auth; TLS with a self-signed certificate for the full
// run). Every effect on the hardware is checked through the emulator's own Redfish API
// (redfishGet), never through Hangar. Failures are injected by a small proxy in front of the
// emulator that answers one chosen BMC request with an error (or holds it, for the SIGKILL case).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import proto from '@temporalio/proto';
import type { RunningWorker } from '../../workers/worker.ts';
import { Host, Machine } from '../../db/entities/index.ts';
import {
  capturingLogger,
  createToken,
  http as request,
  startApi,
  startInProcessWorker,
  testConfig,
  testEnv,
  waitFor,
  waitForOperation,
  type TestApi,
} from '../support/harness.ts';
import { spawnHangar, type HangarProcess } from '../support/processes.ts';
import { redfishGet, serveImage, startSushy, type ImageServer, type SushyEmulator } from '../support/sushy.ts';
import { unique } from '../support/api-fixture.ts';
import { recordHistory } from '../support/histories.ts';
import { hostInspectWorkflowId } from '../../workflows/contracts.ts';

// ---------------------------------------------------------------------------------------------
// A fault-injecting proxy in front of the emulator

interface FaultRule {
  method: string;
  path: RegExp;
  body?: (body: Record<string, any>) => boolean;
  /** Answer with this status (and a Redfish error body) instead of forwarding. */
  status?: number;
  /** Hold the request this long, then forward it. */
  holdMs?: number;
  times: number;
  onHit?: () => void;
  /** Called when the BMC has answered the forwarded request. */
  onForwarded?: () => void;
}

interface ProxyHit {
  method: string;
  path: string;
  body: any;
  faulted: boolean;
}

async function startFaultProxy(target: string): Promise<{ url: string; rules: FaultRule[]; hits: ProxyHit[]; close: () => Promise<void> }> {
  const rules: FaultRule[] = [];
  const hits: ProxyHit[] = [];
  const upstream = new URL(target);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      let body: any = null;
      try {
        body = raw.length ? JSON.parse(raw.toString('utf8')) : null;
      } catch {
        body = null;
      }
      const method = req.method ?? 'GET';
      const path = (req.url ?? '/').split('?')[0]!;
      const rule = rules.find((r) => r.times > 0 && r.method === method && r.path.test(path) && (!r.body || r.body(body ?? {})));
      if (rule) rule.times -= 1;
      hits.push({ method, path, body, faulted: !!rule?.status });
      rule?.onHit?.();
      if (rule?.status) {
        res.writeHead(rule.status, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            error: {
              code: 'Base.1.8.GeneralError',
              message: 'injected',
              '@Message.ExtendedInfo': [{ MessageId: 'Base.1.8.GeneralError', Message: `injected failure of ${method} ${path}` }],
            },
          }),
        );
        return;
      }
      const forward = () => {
        const up = http.request(
          {
            host: upstream.hostname,
            port: upstream.port,
            method,
            path: req.url,
            headers: { ...req.headers, host: upstream.host, 'content-length': String(raw.length) },
          },
          (r) => {
            r.on('end', () => rule?.onForwarded?.());
            res.on('error', () => undefined);
            try {
              res.writeHead(r.statusCode ?? 502, r.headers);
            } catch {
              /* client gone */
            }
            r.pipe(res);
          },
        );
        up.on('error', () => {
          try {
            res.writeHead(502);
            res.end();
          } catch {
            /* client gone */
          }
        });
        up.end(raw);
      };
      if (rule?.holdMs) setTimeout(forward, rule.holdMs);
      else forward();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    rules,
    hits,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

// ---------------------------------------------------------------------------------------------

const captured = capturingLogger('debug');
const env = testEnv({ HANGAR_LOG_LEVEL: 'debug', HANGAR_REDFISH_POLL_INTERVAL_MS: '200', HANGAR_SHUTDOWN_TIMEOUT_SEC: '5' });
let api: TestApi;
let worker: RunningWorker;
let operator: string;
let admin: string;
let tlsBmc: SushyEmulator;
let bmc: SushyEmulator;
let images: ImageServer;
let proxy: Awaited<ReturnType<typeof startFaultProxy>>;
const childOutput: string[] = [];

beforeAll(async () => {
  [tlsBmc, bmc, images] = await Promise.all([
    startSushy({ tls: true, systems: 1 }),
    startSushy({
      systems: [
        ...Array.from({ length: 7 }, (_, i) => ({ name: `fault-${i + 1}`, powerState: 'On' as const })),
        { name: 'kill-1' },
        { name: 'cancel-1' },
        { name: 'template-1' },
        { name: 'cancel-2' },
      ],
    }),
    serveImage(),
  ]);
  proxy = await startFaultProxy(bmc.url);
  const config = testConfig(env);
  api = await startApi(config, captured.logger);
  worker = await startInProcessWorker(config, captured.logger);
  operator = await createToken(api.orm, 'operator');
  admin = await createToken(api.orm, 'admin');
}, 120_000);

afterAll(async () => {
  await worker?.shutdown();
  await api?.close();
  await Promise.all([tlsBmc?.stop(), bmc?.stop(), images?.close(), proxy?.close()]);
});

const post = (path: string, body: unknown, token = operator) => request(api.url, 'POST', path, { token, body });
const get = (path: string) => request(api.url, 'GET', path, { token: operator });

async function registerHost(name: string, address: string, creds: { username: string; password: string }, extra: Record<string, unknown> = {}) {
  const res = await post('/api/v1/hosts', { name, bmc_address: address, username: creds.username, password: creds.password, ...extra });
  expect(res.status).toBe(202);
  const op = await waitForOperation(api, operator, res.body.operation.id);
  expect(op.status).toBe('completed');
  return (await get(`/api/v1/hosts/${res.body.host.id}`)).body;
}

async function phoneHome(machineId: string, token: string, hostname: string) {
  const res = await fetch(`${api.url}/cloud-init/${machineId}/${token}/phone-home`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ instance_id: `hangar-${machineId}`, hostname, fqdn: hostname }).toString(),
  });
  expect(res.status).toBe(200);
}

/** The hardware as the emulator itself reports it. */
async function hardware(emu: SushyEmulator, systemPath: string) {
  const sys = await redfishGet(emu, systemPath);
  const cd = await redfishGet(emu, `${systemPath}/VirtualMedia/Cd`);
  const boot = sys.Boot as Record<string, unknown>;
  return { power: sys.PowerState, inserted: cd.Inserted, image: cd.Image, bootTarget: boot.BootSourceOverrideTarget };
}

const stepStatus = (op: any, name: string) => op.progress?.steps.find((s: { name: string }) => s.name === name)?.status;

describe('provisionHost and deprovisionHost against sushy-tools (TLS)', () => {
  it('registers and inspects, provisions (phone-home through the metadata service), joins a cluster, deprovisions', async () => {
    const sys = tlsBmc.systems[0]!;
    const nic = ((await redfishGet(tlsBmc, `${sys.path}/EthernetInterfaces`)).Members as { '@odata.id': string }[])[0]!['@odata.id'].split('/').pop()!;
    const host = await registerHost(unique('bm'), `redfish+https://127.0.0.1:${new URL(tlsBmc.url).port}${sys.path}`, tlsBmc, {
      ca_pem: tlsBmc.caPem,
      boot_mac: nic,
      tags: ['tls', 'full'],
    });
    expect(host).toMatchObject({ state: 'available', vendor: 'Sushy Emulator', power_state: 'Off', virtual_media_supported: true, verify_tls: true });
    expect(host.boot_modes).toEqual(expect.arrayContaining(['UEFI']));
    expect(host.conditions.find((c: { type: string }) => c.type === 'bmc_reachable')).toMatchObject({ status: 'True', reason: 'Reachable' });
    expect(JSON.stringify(host)).not.toContain(tlsBmc.password);

    const net = await post('/api/v1/networks', { name: unique('bmnet'), cidr: '10.91.0.0/24', gateway: '10.91.0.1', dns_servers: ['10.91.0.53'] });
    expect(net.status).toBe(201);
    const name = unique('metal').slice(0, 40);
    const created = await post('/api/v1/hosts/provision', {
      name,
      host: host.name,
      image_url: images.url('installer.iso'),
      network_id: net.body.id,
      boot_mode: 'UEFI',
    });
    expect(created.status).toBe(202);
    expect(created.body.host).toMatchObject({ id: host.id, state: 'claimed', claimed_by: created.body.machine.id });
    expect(created.body.machine).toMatchObject({ kind: 'baremetal', provider: 'redfish', provider_id: host.id });
    const machineId: string = created.body.machine.id;
    expect(created.body.operation.workflow_id).toBe(`provision-vm/${machineId}`);

    // The installer is booting: powered on, image in the virtual CD, one-time boot from it.
    await waitFor(
      'the workflow to wait for phone-home',
      async () => stepStatus((await get(`/api/v1/operations/${created.body.operation.id}`)).body, 'wait-phone-home') === 'running',
      60_000,
    );
    expect(await hardware(tlsBmc, sys.path)).toMatchObject({ power: 'On', inserted: true, image: images.url('installer.iso'), bootTarget: 'Cd' });
    expect(images.requests).toContain('/images/installer.iso');
    expect((await get(`/api/v1/hosts/${host.id}`)).body.state).toBe('provisioning');

    // The installed system's cloud-init reads its seed from the metadata service and phones home.
    const seed = `${api.url}/cloud-init/${machineId}/${created.body.metadata_token}/`;
    expect(created.body.seed_url).toBe(`${api.config.api.publicUrl}/cloud-init/${machineId}/${created.body.metadata_token}/`);
    const userData = await (await fetch(`${seed}user-data`)).text();
    expect(userData).toMatch(/^#cloud-config/);
    expect(userData).toContain(`/cloud-init/${machineId}/`);
    const netCfg = await (await fetch(`${seed}network-config`)).text();
    expect(netCfg).toContain('10.91.0.2');
    // The same seed as an ISO a BMC can mount.
    expect(created.body.cidata_url).toBe(`${created.body.seed_url}cidata.iso`);
    const iso = await fetch(`${seed}cidata.iso`);
    expect([iso.status, iso.headers.get('content-type')]).toEqual([200, 'application/x-iso9660-image']);
    expect(
      Buffer.from(await iso.arrayBuffer())
        .subarray(0x8001, 0x8006)
        .toString('latin1'),
    ).toBe('CD001');
    await phoneHome(machineId, created.body.metadata_token, name);

    const op = await waitForOperation(api, operator, created.body.operation.id);
    expect(op.status).toBe('completed');
    expect(op.progress.steps.map((s: { name: string; status: string }) => `${s.name}:${s.status}`)).toEqual([
      'mark-provisioning:completed',
      'reserve-lease:completed',
      'power-off:completed',
      'insert-media:completed',
      'boot-override:completed',
      'power-on:completed',
      'wait-phone-home:completed',
      'eject-media:completed',
      'clear-override:completed',
      'mark-provisioned:completed',
    ]);
    expect(await hardware(tlsBmc, sys.path)).toMatchObject({ power: 'On', inserted: false, bootTarget: 'None' });
    const provisioned = (await get(`/api/v1/hosts/${host.id}`)).body;
    expect(provisioned).toMatchObject({ state: 'provisioned', claimed_by: machineId, machine: { id: machineId, state: 'ready' } });
    expect(provisioned.conditions.find((c: { type: string }) => c.type === 'provisioned')).toMatchObject({ status: 'True', reason: 'Provisioned' });
    const machine = (await get(`/api/v1/machines/${machineId}`)).body;
    expect(machine).toMatchObject({
      kind: 'baremetal',
      provider: 'redfish',
      state: 'ready',
      addresses: [{ network_id: net.body.id, address: '10.91.0.2', state: 'active' }],
    });

    // A cluster with this machine as its control plane: the endpoint is derived from its address.
    const cluster = await post('/api/v1/clusters', { name: unique('cl'), machines: [{ machine_id: machineId, role: 'control-plane' }] });
    expect(cluster.status).toBe(201);
    expect(cluster.body).toMatchObject({
      ready: true,
      control_plane_endpoint: { host: '10.91.0.2', port: 6443, url: 'https://10.91.0.2:6443', source: 'machine', machine_id: machineId },
    });
    expect(cluster.body.conditions[0]).toMatchObject({ type: 'ready', status: 'True' });
    const vip = await request(api.url, 'PATCH', `/api/v1/clusters/${cluster.body.id}`, { token: operator, body: { control_plane_vip: '10.91.0.100' } });
    expect(vip.body.control_plane_endpoint).toMatchObject({ host: '10.91.0.100', source: 'vip' });

    // Busy or provisioned hosts refuse what does not fit their state, naming it.
    const again = await post('/api/v1/hosts/provision', { name: unique('m2'), host: host.name, image_url: images.url() });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ error: 'no_host_available' });
    expect(again.body.detail).toContain('provisioned');
    const del = await request(api.url, 'DELETE', `/api/v1/hosts/${host.id}`, { token: operator });
    expect(del.status).toBe(409);
    expect(del.body).toMatchObject({ error: 'invalid_state', detail: expect.stringContaining('provisioned') });

    // Deprovision: power off, eject, clear; the host is available again, the machine and its lease gone.
    const dep = await post(`/api/v1/hosts/${host.id}/actions/deprovision`, {});
    expect(dep.status).toBe(202);
    const depOp = await waitForOperation(api, operator, dep.body.operation.id);
    expect(depOp.status).toBe('completed');
    expect(await hardware(tlsBmc, sys.path)).toMatchObject({ power: 'Off', inserted: false, bootTarget: 'None' });
    const after = (await get(`/api/v1/hosts/${host.id}`)).body;
    expect(after).toMatchObject({ state: 'available', claimed_by: null, machine: null, power_state: 'Off' });
    expect(after.conditions.find((c: { type: string }) => c.type === 'claimed')).toMatchObject({ status: 'False', reason: 'Deprovisioned' });
    expect((await get(`/api/v1/machines/${machineId}`)).status).toBe(404);
    const emptied = (await get(`/api/v1/clusters/${cluster.body.id}`)).body;
    expect(emptied).toMatchObject({ machines: [], ready: false });

    // An available host can be powered on by hand (hostPower), and the BMC says so.
    const on = await post(`/api/v1/hosts/${host.id}/actions/power-on`, {});
    expect(on.status).toBe(202);
    expect((await waitForOperation(api, operator, on.body.operation.id)).status).toBe('completed');
    expect((await hardware(tlsBmc, sys.path)).power).toBe('On');

    recordHistory(api.config.temporal, hostInspectWorkflowId(host.id), 'inspect-host-completed');
    recordHistory(api.config.temporal, created.body.operation.workflow_id, 'provision-host-completed');
    recordHistory(api.config.temporal, dep.body.operation.workflow_id, 'deprovision-host-completed');
    recordHistory(api.config.temporal, on.body.operation.workflow_id, 'host-power-completed');
  }, 180_000);
});

describe('provisioning from a redfish template', () => {
  const sha256 = async (url: string) =>
    `sha256:${createHash('sha256')
      .update(Buffer.from(await (await fetch(url)).arrayBuffer()))
      .digest('hex')}`;
  const createTemplate = async (body: Record<string, unknown>) => {
    const res = await post('/api/v1/templates', { provider: 'redfish', ...body });
    expect(res.status).toBe(202);
    const op = await waitForOperation(api, operator, res.body.operation.id);
    return { op, template: (await get(`/api/v1/templates/${res.body.template.id}`)).body };
  };

  it('checks the image (and its checksum) once, then installs hosts from it by name', async () => {
    const url = images.url('template.iso');
    const { op, template } = await createTemplate({ name: unique('tpl'), image: url, checksum: await sha256(url) });
    expect(op.status).toBe('completed');
    expect(template).toMatchObject({ provider: 'redfish', state: 'ready', image: url, provider_ref: url });

    // A wrong checksum or an image that is not there fails the template, naming what was found.
    const bad = await createTemplate({ name: unique('tpl-bad'), image: url, checksum: `sha256:${'0'.repeat(64)}` });
    expect(bad.op.status).toBe('failed');
    expect(bad.template).toMatchObject({ state: 'failed', last_error: expect.stringContaining('has checksum sha256:') });
    const missing = await createTemplate({ name: unique('tpl-404'), image: `${url.replace('/images/', '/missing/')}` });
    expect(missing.template).toMatchObject({ state: 'failed', last_error: expect.stringContaining('HTTP 404') });

    // Credentials in an image URL never come back out of the API.
    const secretUrl = url.replace('http://', 'http://reader:s3cret-pass@');
    const withCreds = await post('/api/v1/templates', { provider: 'redfish', name: unique('tpl-cred'), image: secretUrl });
    expect(withCreds.status).toBe(202);
    expect(JSON.stringify(withCreds.body)).not.toContain('s3cret-pass');
    expect((await waitForOperation(api, operator, withCreds.body.operation.id)).status).toBe('completed');
    expect(JSON.stringify((await get(`/api/v1/templates/${withCreds.body.template.id}`)).body)).not.toContain('s3cret-pass');

    // Requests that cannot work are refused before anything is claimed.
    const host = await registerHost(unique('tplhost'), `redfish+http://${new URL(proxy.url).host}${bmc.systems[9]!.path}`, bmc);
    const base = { provider: 'redfish', host: host.name, wait_for_phone_home: false };
    const both = await post('/api/v1/machines', { ...base, name: unique('t-both'), template: template.name, image_url: url });
    expect(both.status).toBe(400);
    expect(both.body.detail).toContain('either image_url or template');
    const neither = await post('/api/v1/machines', { ...base, name: unique('t-none') });
    expect(neither.status).toBe(400);
    const unknown = await post('/api/v1/machines', { ...base, name: unique('t-unknown'), template: 'no-such-template' });
    expect(unknown).toMatchObject({ status: 422, body: { error: 'unprocessable', fields: { template: 'not found' } } });
    const failed = await post('/api/v1/machines', { ...base, name: unique('t-failed'), template: bad.template.name });
    expect(failed).toMatchObject({ status: 422, body: { fields: { template: 'is failed' } } });
    const vmTpl = await post('/api/v1/templates', { provider: 'dryrun', name: unique('tpl-vm'), image: '/srv/images/x.qcow2' });
    expect(vmTpl.status).toBe(202);
    const wrongKind = await post('/api/v1/machines', { ...base, name: unique('t-vm'), template: vmTpl.body.template.name });
    expect(wrongKind).toMatchObject({ status: 422, body: { fields: { template: 'not a redfish template' } } });
    expect((await get(`/api/v1/hosts/${host.id}`)).body).toMatchObject({ state: 'available', claimed_by: null });

    // By name: the BMC is told to mount the template's image.
    const mark = proxy.hits.length;
    const created = await post('/api/v1/machines', { ...base, name: unique('t-ok'), template: template.name });
    expect(created.status).toBe(202);
    const done = await waitForOperation(api, operator, created.body.operation.id, 90_000);
    expect(done.status).toBe('completed');
    const inserts = proxy.hits.slice(mark).filter((h) => h.path.endsWith('VirtualMedia.InsertMedia') && h.path.includes(bmc.systems[9]!.id));
    expect(inserts.map((h) => h.body.Image)).toEqual([url]);
    expect((await get(`/api/v1/machines/${created.body.machine.id}`)).body).toMatchObject({ kind: 'baremetal', state: 'ready', template: template.name });

    // A template in use cannot be deleted; once the host is given back it can.
    const inUse = await request(api.url, 'DELETE', `/api/v1/templates/${template.id}`, { token: operator });
    expect(inUse).toMatchObject({ status: 409, body: { error: 'has_dependents' } });
    const dep = await request(api.url, 'DELETE', `/api/v1/machines/${created.body.machine.id}`, { token: operator });
    expect(dep.status).toBe(202);
    expect((await waitForOperation(api, operator, dep.body.operation.id, 90_000)).status).toBe('completed');
    const gone = await request(api.url, 'DELETE', `/api/v1/templates/${template.id}`, { token: operator });
    expect(gone.status).toBe(202);
    expect((await waitForOperation(api, operator, gone.body.operation.id)).status).toBe('completed');
    expect((await get(`/api/v1/templates/${template.id}`)).status).toBe(404);
  }, 180_000);
});

describe('compensation after a failure at each step', () => {
  // One host per case, all behind the fault proxy; each case fails one BMC call once.
  const sysPath = (i: number) => bmc.systems[i]!.path;
  const id = (i: number) => bmc.systems[i]!.id;
  const cases: { step: string; system: number; rule?: (i: number) => FaultRule; phoneHome?: boolean; timeout?: string; code: string }[] = [
    {
      step: 'power-off',
      system: 0,
      rule: (i) => ({
        method: 'POST',
        path: new RegExp(`${id(i)}/Actions/ComputerSystem.Reset$`),
        body: (b) => b.ResetType === 'ForceOff',
        status: 400,
        times: 1,
      }),
      code: 'provider_rejected',
    },
    {
      step: 'insert-media',
      system: 1,
      rule: (i) => ({ method: 'POST', path: new RegExp(`${id(i)}/VirtualMedia/Cd/Actions/VirtualMedia.InsertMedia$`), status: 400, times: 1 }),
      code: 'provider_rejected',
    },
    {
      step: 'boot-override',
      system: 2,
      rule: (i) => ({ method: 'PATCH', path: new RegExp(`Systems/${id(i)}$`), body: (b) => b.Boot?.BootSourceOverrideTarget === 'Cd', status: 400, times: 1 }),
      code: 'provider_rejected',
    },
    {
      step: 'power-on',
      system: 3,
      rule: (i) => ({ method: 'POST', path: new RegExp(`${id(i)}/Actions/ComputerSystem.Reset$`), body: (b) => b.ResetType === 'On', status: 400, times: 1 }),
      code: 'provider_rejected',
    },
    { step: 'wait-phone-home', system: 4, timeout: '3s', code: 'phone_home_timeout' },
    {
      step: 'eject-media',
      system: 5,
      phoneHome: true,
      rule: (i) => ({ method: 'POST', path: new RegExp(`${id(i)}/VirtualMedia/Cd/Actions/VirtualMedia.EjectMedia$`), status: 400, times: 1 }),
      code: 'provider_rejected',
    },
    {
      step: 'clear-override',
      system: 6,
      phoneHome: true,
      rule: (i) => ({
        method: 'PATCH',
        path: new RegExp(`Systems/${id(i)}$`),
        body: (b) => b.Boot?.BootSourceOverrideTarget === 'None',
        status: 400,
        times: 1,
      }),
      code: 'provider_rejected',
    },
  ];

  it('leaves every host powered off, media ejected, override cleared and the claim released', async () => {
    const hosts = await Promise.all(
      cases.map((c) => registerHost(unique(`f-${c.step}`), `redfish+http://${new URL(proxy.url).host}${sysPath(c.system)}`, bmc)),
    );
    for (const c of cases) if (c.rule) proxy.rules.push(c.rule(c.system));
    const results = await Promise.all(
      cases.map(async (c, i) => {
        const res = await post('/api/v1/hosts/provision', {
          name: unique(`f-${c.step}`).slice(0, 50),
          host: hosts[i].id,
          image_url: images.url(`${c.step}.iso`),
          ...(c.timeout ? { phone_home_timeout: c.timeout } : {}),
        });
        expect(res.status).toBe(202);
        if (c.phoneHome) await phoneHome(res.body.machine.id, res.body.metadata_token, 'x');
        return { c, res, op: await waitForOperation(api, operator, res.body.operation.id, 90_000), host: hosts[i] };
      }),
    );
    for (const { c, res, op, host } of results) {
      const why = `case ${c.step}`;
      expect([why, op.status]).toEqual([why, 'failed']);
      expect([why, op.error.code]).toEqual([why, c.code]);
      expect([why, stepStatus(op, c.step)]).toEqual([why, 'failed']);
      for (const undo of ['undo:power-off', 'undo:eject-media', 'undo:clear-override', 'undo:release-claim']) {
        expect([why, undo, stepStatus(op, undo)]).toEqual([why, undo, 'compensated']);
      }
      const hw = await hardware(bmc, sysPath(c.system));
      expect([why, hw.power, hw.inserted, hw.bootTarget]).toEqual([why, 'Off', false, 'None']);
      const h = (await get(`/api/v1/hosts/${host.id}`)).body;
      expect([why, h.state, h.claimed_by]).toEqual([why, 'available', null]);
      expect(h.conditions.find((x: { type: string }) => x.type === 'provisioned')).toMatchObject({ status: 'False', reason: 'ProvisioningFailed' });
      const m = (await get(`/api/v1/machines/${res.body.machine.id}`)).body;
      expect([why, m.state]).toEqual([why, 'failed']);
      expect(m.last_error).toBeTruthy();
    }
    const powerOnCase = results.find((r) => r.c.step === 'power-on')!;
    recordHistory(api.config.temporal, powerOnCase.res.body.operation.workflow_id, 'provision-host-compensated');
    // Each injected fault was hit exactly once (and not retried: 4xx is not transient).
    for (const c of cases) if (c.rule) expect(proxy.hits.filter((h) => h.faulted && h.path.includes(id(c.system)))).toHaveLength(1);
  }, 180_000);

  it('a cancelled provision compensates; force-release then finds nothing left to do', async () => {
    const i = 8;
    const host = await registerHost(unique('cancel'), `redfish+http://${new URL(proxy.url).host}${sysPath(i)}`, bmc);
    const res = await post('/api/v1/hosts/provision', { name: unique('cancel').slice(0, 50), host: host.name, image_url: images.url('c.iso') });
    expect(res.status).toBe(202);
    await waitFor(
      'the workflow to wait for phone-home',
      async () => stepStatus((await get(`/api/v1/operations/${res.body.operation.id}`)).body, 'wait-phone-home') === 'running',
      60_000,
    );
    expect(await hardware(bmc, sysPath(i))).toMatchObject({ power: 'On', inserted: true });
    // A wedged provision (no phone-home coming): an admin force-releases the host.
    const viewerTry = await post(`/api/v1/hosts/${host.id}/actions/force-release`, {}, operator);
    expect(viewerTry.status).toBe(403);
    const fr = await post(`/api/v1/hosts/${host.id}/actions/force-release`, { reason: 'installer hung' }, admin);
    expect(fr.status).toBe(202);
    const frOp = await waitForOperation(api, operator, fr.body.operation.id, 90_000);
    expect(frOp.status).toBe('completed');
    const op = await waitForOperation(api, operator, res.body.operation.id);
    expect(op.status).toBe('cancelled');
    expect(op.progress).toMatchObject({ state: 'cancelled', error: { code: 'cancelled' } });
    expect(await hardware(bmc, sysPath(i))).toMatchObject({ power: 'Off', inserted: false, bootTarget: 'None' });
    expect((await get(`/api/v1/hosts/${host.id}`)).body).toMatchObject({ state: 'available', claimed_by: null });
    expect((await get(`/api/v1/machines/${res.body.machine.id}`)).body.state).toBe('failed');
    recordHistory(api.config.temporal, res.body.operation.workflow_id, 'provision-host-cancelled');
    recordHistory(api.config.temporal, fr.body.operation.workflow_id, 'force-release-host-completed');
    // And it can be provisioned again straight away.
    const next = await post('/api/v1/hosts/provision', {
      name: unique('again').slice(0, 50),
      host: host.name,
      image_url: images.url('c.iso'),
      wait_for_phone_home: false,
    });
    expect(next.status).toBe(202);
    expect((await waitForOperation(api, operator, next.body.operation.id)).status).toBe('completed');
    expect((await get(`/api/v1/hosts/${host.id}`)).body.state).toBe('provisioned');
  }, 120_000);
});

describe('cancellation during a virtual-media insert', () => {
  it('the insert ends before the compensation runs: host powered off, media ejected, claim released', async () => {
    const i = 10;
    const sysPath = (n: number) => bmc.systems[n]!.path;
    const host = await registerHost(unique('cancel-vm'), `redfish+http://${new URL(proxy.url).host}${sysPath(i)}`, bmc);
    let hit = false;
    let answered = false;
    // A slow BMC: the insert is held, then applied (a BMC goes on fetching an image after its client left).
    proxy.rules.push({
      method: 'POST',
      path: new RegExp(`${bmc.systems[i]!.id}/VirtualMedia/Cd/Actions/VirtualMedia.InsertMedia$`),
      holdMs: 4000,
      times: 1,
      onHit: () => {
        hit = true;
      },
      onForwarded: () => {
        answered = true;
      },
    });
    const res = await post('/api/v1/hosts/provision', { name: unique('cancel-vm').slice(0, 50), host: host.name, image_url: images.url('slow.iso') });
    expect(res.status).toBe(202);
    await waitFor('the insert to reach the BMC', async () => hit, 60_000, 20);
    await api.temporal.workflow.getHandle(res.body.operation.workflow_id).cancel();
    const op = await waitForOperation(api, operator, res.body.operation.id, 90_000);
    expect(op.status).toBe('cancelled');
    // The compensation ran after the BMC had answered the insert, so its eject saw the image.
    expect(answered).toBe(true);
    expect(await hardware(bmc, sysPath(i))).toMatchObject({ power: 'Off', inserted: false, bootTarget: 'None' });
    expect((await get(`/api/v1/hosts/${host.id}`)).body).toMatchObject({ state: 'available', claimed_by: null });
    expect((await get(`/api/v1/machines/${res.body.machine.id}`)).body.state).toBe('failed');
  }, 120_000);
});

describe('durability', () => {
  const spawned: HangarProcess[] = [];
  afterAll(() => {
    for (const p of spawned) if (p.child.exitCode === null && !p.child.killed) p.child.kill('SIGKILL');
  });

  it('finishes a provision exactly once after the worker is SIGKILLed during a BMC call', async () => {
    // Its own task queue, served only by worker processes.
    const queue = `${env.HANGAR_TASK_QUEUE}-kill`;
    const procEnv = { ...env, HANGAR_TASK_QUEUE: queue, HANGAR_LOG_LEVEL: 'info' };
    const killApi = await startApi(testConfig(procEnv));
    try {
      const start = () => {
        const p = spawnHangar(['worker'], procEnv);
        spawned.push(p);
        return p;
      };
      const first = start();
      await waitFor('the first worker to poll', async () => /worker started/.test(first.output()), 60_000);
      const i = 7;
      const host = await registerHostVia(killApi, unique('kill'), `redfish+http://${new URL(proxy.url).host}${bmc.systems[i]!.path}`);
      // The insert reaches the BMC, then the worker dies before it hears back.
      let hit = false;
      proxy.rules.push({
        method: 'POST',
        path: new RegExp(`${bmc.systems[i]!.id}/VirtualMedia/Cd/Actions/VirtualMedia.InsertMedia$`),
        holdMs: 1500,
        times: 1,
        onHit: () => {
          hit = true;
        },
      });
      const res = await request(killApi.url, 'POST', '/api/v1/hosts/provision', {
        token: operator,
        body: { name: unique('kill').slice(0, 50), host: host.id, image_url: images.url('kill.iso') },
      });
      expect(res.status).toBe(202);
      await phoneHome(res.body.machine.id, res.body.metadata_token, 'kill'); // buffered until the wait
      await waitFor('the insert to reach the BMC', async () => hit, 60_000, 20);
      first.child.kill('SIGKILL');
      expect((await first.exited).signal).toBe('SIGKILL');
      await waitFor('the held insert to be applied', async () => (await redfishGet(bmc, `${bmc.systems[i]!.path}/VirtualMedia/Cd`)).Inserted === true, 10_000);

      const second = start();
      const op = await waitForOperation(killApi, operator, res.body.operation.id, 120_000);
      expect(op.status).toBe('completed');
      const machine = await killApi.orm.em.fork().findOneOrFail(Machine, { id: res.body.machine.id });
      expect(machine.state).toBe('ready');
      expect((await killApi.orm.em.fork().findOneOrFail(Host, { id: host.id })).state).toBe('provisioned');
      // The BMC saw one insert: the retried activity found the image already in and did nothing.
      expect(proxy.hits.filter((h) => h.method === 'POST' && h.path.endsWith('InsertMedia') && h.path.includes(bmc.systems[i]!.id))).toHaveLength(1);
      expect(await hardware(bmc, bmc.systems[i]!.path)).toMatchObject({ power: 'On', inserted: false, bootTarget: 'None' });
      const history = await killApi.temporal.workflow.getHandle(op.workflow_id).fetchHistory();
      const { EventType } = proto.temporal.api.enums.v1;
      const types = (history.events ?? []).map((e) => e.eventType);
      expect(types.filter((t) => t === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED)).toHaveLength(1);
      expect(types.filter((t) => t === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED)).toHaveLength(1);
      second.child.kill('SIGTERM');
      expect((await second.exited).code).toBe(0);
      childOutput.push(first.output(), second.output());
      expect(second.output()).toContain('worker stopped');
    } finally {
      await killApi.close();
    }
  }, 180_000);

  async function registerHostVia(target: TestApi, name: string, address: string) {
    const res = await request(target.url, 'POST', '/api/v1/hosts', {
      token: operator,
      body: { name, bmc_address: address, username: bmc.username, password: bmc.password },
    });
    expect(res.status).toBe(202);
    expect((await waitForOperation(target, operator, res.body.operation.id)).status).toBe('completed');
    return res.body.host;
  }
});

describe('secrets', () => {
  it('no BMC password in any log line the API and workers wrote', () => {
    const logs = [...captured.lines, ...childOutput].join('\n');
    expect(captured.lines.length).toBeGreaterThan(5);
    for (const pw of [tlsBmc.password, bmc.password]) expect(logs).not.toContain(pw);
  });
});
