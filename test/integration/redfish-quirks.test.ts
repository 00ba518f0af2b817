// The Redfish client against the quirk fixture (test/fakes/redfish): each documented vendor
// deviation the fixture can play, and the client's handling of it.
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { inspect } from 'node:util';
import { HangarError } from '../../domain/errors.ts';
import { createLogger } from '../../logging/logger.ts';
import { RedfishClient, RedfishHttpError, type RedfishClientOptions } from '../../providers/redfish/index.ts';
import { startRedfishFixture, type RedfishFixture, type RedfishFixtureOptions } from '../fakes/redfish/server.ts';

const PASSWORD = 'Quirky-Pa55word!';
const logLines: string[] = [];
const errors: unknown[] = [];
const clients: RedfishClient[] = [];
const fixtures: RedfishFixture[] = [];
const logger = createLogger('debug', 'redfish-quirks-test', {
  write: (line: string) => {
    logLines.push(line);
  },
});

async function fixture(opts: RedfishFixtureOptions = {}): Promise<RedfishFixture> {
  const f = await startRedfishFixture({ username: 'admin', password: PASSWORD, ...opts });
  fixtures.push(f);
  return f;
}

function client(f: RedfishFixture, extra: Partial<RedfishClientOptions> = {}): RedfishClient & { sleeps: number[] } {
  const sleeps: number[] = [];
  const c = new RedfishClient({
    endpoint: f.url,
    username: 'admin',
    password: PASSWORD,
    logger,
    retry: { initialMs: 10, maxMs: 50 },
    pollIntervalMs: 10,
    // Fast, but records what the client asked for (Retry-After, backoff).
    sleep: async (ms) => {
      sleeps.push(ms);
      await new Promise((r) => setTimeout(r, Math.min(ms, 10)));
    },
    ...extra,
  });
  clients.push(c);
  return Object.assign(c, { sleeps });
}

async function failure(p: Promise<unknown>): Promise<HangarError> {
  try {
    await p;
  } catch (err) {
    errors.push(err);
    if (err instanceof HangarError) return err;
    throw err;
  }
  throw new Error('expected a HangarError');
}

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const f of fixtures.splice(0)) await f.close();
});

afterAll(() => {
  // The password never leaves the client: not in errors (any rendering), logs, or the client objects.
  const rendered = [...errors.flatMap((e) => [String(e), JSON.stringify(e), inspect(e, { depth: 5 }), (e as Error).stack ?? '']), ...logLines].join('\n');
  expect(logLines.length).toBeGreaterThan(10);
  expect(errors.length).toBeGreaterThan(5);
  expect(rendered).not.toContain(PASSWORD);
});

describe('vendor identity selects the quirks profile (f)', () => {
  it.each([
    ['generic', 'generic'],
    ['dell', 'dell-idrac'],
    ['hpe', 'hpe-ilo'],
    ['supermicro', 'supermicro'],
  ] as const)('%s BMC → %s profile', async (vendor, profile) => {
    const f = await fixture({ vendor, virtualMedia: 'both' });
    const inv = await client(f).inspect();
    expect(inv.quirks.profile).toBe(profile);
    expect(inv.system.manufacturer).toBe(f.vendor.manufacturer);
    expect(inv.system.path).toBe('/redfish/v1/Systems/1');
    expect(inv.service.sessionService).toBe(true);
    expect(inv.auth).toBe('session');
    expect(inv.system.resetTypes).toContain('ForceRestart');
    expect(inv.system.boot.allowableTargets).toContain('Cd');
    expect(inv.virtualMediaSupported).toBe(true);
    expect(inv.virtualMedia.filter((s) => s.cdCapable)).toHaveLength(2); // one per location
    expect(inv.managers[0]!.id).toBe(f.vendor.managerId);
  });

  it('an explicit profile overrides detection', async () => {
    const f = await fixture({ vendor: 'dell' });
    const inv = await client(f, { quirks: 'generic' }).inspect();
    expect(inv.quirks.profile).toBe('generic');
  });
});

describe('virtual media location (a)', () => {
  it('finds VirtualMedia only under Systems and inserts/ejects there, verified and idempotent', async () => {
    const f = await fixture({ vendor: 'dell', virtualMedia: 'systems' });
    const c = client(f);
    const inv = await c.inspect();
    expect(inv.managers[0]!.virtualMedia).toBeNull();
    expect(inv.virtualMedia.find((s) => s.cdCapable)!.path).toBe('/redfish/v1/Systems/1/VirtualMedia/CD');
    await expect(c.insertMedia('http://images.example/boot.iso')).resolves.toEqual({ changed: true, writes: 1 });
    expect(f.cdSlot).toMatchObject({ inserted: true, image: 'http://images.example/boot.iso' });
    expect(f.requests('POST', '/redfish/v1/Systems/1/VirtualMedia/CD/Actions/VirtualMedia.InsertMedia')).toHaveLength(1);
    expect(f.requests('POST', '/redfish/v1/Managers/*')).toHaveLength(0);
    // Same image again: no write.
    await expect(c.insertMedia('http://images.example/boot.iso')).resolves.toEqual({ changed: false, writes: 0 });
    expect(f.requests('POST', '*').filter((r) => r.path.includes('InsertMedia'))).toHaveLength(1);
    await expect(c.ejectMedia()).resolves.toMatchObject({ changed: true });
    await expect(c.ejectMedia()).resolves.toEqual({ changed: false, writes: 0 });
    expect(f.requests('POST', '/redfish/v1/Systems/1/VirtualMedia/CD/Actions/VirtualMedia.EjectMedia')).toHaveLength(1);
    expect(f.cdSlot.inserted).toBe(false);
  });

  it('uses the Manager CD slot (not the USB one) on HPE, ejecting a different image first', async () => {
    const f = await fixture({ vendor: 'hpe', virtualMedia: 'managers' });
    f.cdSlot.image = 'http://old.example/old.iso';
    f.cdSlot.inserted = true;
    f.cdSlot.connectedVia = 'URI';
    const c = client(f);
    await c.insertMedia('http://images.example/new.iso');
    expect(f.requests('POST', '/redfish/v1/Managers/1/VirtualMedia/2/Actions/VirtualMedia.EjectMedia')).toHaveLength(1);
    expect(f.requests('POST', '/redfish/v1/Managers/1/VirtualMedia/2/Actions/VirtualMedia.InsertMedia')).toHaveLength(1);
    expect(f.cdSlot.image).toBe('http://images.example/new.iso');
    expect(f.slots[0]!.inserted).toBe(false);
  });

  it('Supermicro: InsertMedia with Image + TransferProtocolType only; an Image with ConnectedVia=NotConnected is empty', async () => {
    const f = await fixture({ vendor: 'supermicro', insertMediaStrict: true });
    f.cdSlot.image = 'http://stale.example/left-over.iso'; // still reported after an eject
    const c = client(f);
    expect((await c.virtualMedia()).inserted).toBe(false);
    await c.insertMedia('https://images.example/boot.iso');
    const posts = f.requests('POST', '/redfish/v1/Managers/1/VirtualMedia/CD1/Actions/VirtualMedia.InsertMedia');
    expect(posts).toHaveLength(1);
    expect(posts[0]!.body).toEqual({ Image: 'https://images.example/boot.iso', TransferProtocolType: 'HTTPS' });
  });

  it('a generic profile adapts to a BMC that refuses the optional parameters and needs TransferProtocolType', async () => {
    const f = await fixture({ vendor: 'generic', insertMediaStrict: true });
    const c = client(f);
    await c.insertMedia('http://images.example/boot.iso');
    const bodies = f
      .requests('POST', '*')
      .filter((r) => r.path.endsWith('InsertMedia'))
      .map((r) => r.body);
    expect(bodies).toEqual([
      { Image: 'http://images.example/boot.iso', Inserted: true, WriteProtected: true },
      { Image: 'http://images.example/boot.iso' },
      { Image: 'http://images.example/boot.iso', TransferProtocolType: 'HTTP' },
    ]);
    expect(f.cdSlot.inserted).toBe(true);
  });

  it('falls back to PATCH {Image, Inserted} when the slot has no actions', async () => {
    const f = await fixture({ virtualMediaActions: false });
    const c = client(f);
    await c.insertMedia('http://images.example/boot.iso');
    await c.ejectMedia();
    const patches = f.requests('PATCH', '/redfish/v1/Managers/1/VirtualMedia/CD');
    expect(patches.map((r) => r.body)).toEqual([
      { Image: 'http://images.example/boot.iso', Inserted: true, WriteProtected: true },
      { Image: null, Inserted: false },
    ]);
  });

  it('reports no CD virtual media as provider_rejected, and inspect says unsupported', async () => {
    const f = await fixture({ virtualMedia: 'none' });
    const c = client(f);
    expect((await c.inspect()).virtualMediaSupported).toBe(false);
    const err = await failure(c.insertMedia('http://images.example/boot.iso'));
    expect(err.code).toBe('provider_rejected');
    expect(err.message).toMatch(/no CD\/DVD virtual media/);
  });
});

describe('boot override persistence (b, c)', () => {
  it('(b) re-applies a write the BMC accepted but did not persist, then verifies', async () => {
    const f = await fixture({ boot: 'first-write-lost' });
    const c = client(f);
    await expect(c.setBootOverride({ target: 'Cd', enabled: 'Once', mode: 'UEFI' })).resolves.toEqual({ changed: true, writes: 2 });
    expect(f.requests('PATCH', '/redfish/v1/Systems/1')).toHaveLength(2);
    expect(f.boot).toMatchObject({ enabled: 'Once', target: 'Cd', mode: 'UEFI' });
    // Already set: no write.
    await expect(c.setBootOverride({ target: 'Cd', enabled: 'Once', mode: 'UEFI' })).resolves.toEqual({ changed: false, writes: 0 });
    expect(f.requests('PATCH', '/redfish/v1/Systems/1')).toHaveLength(2);
  });

  it('(c) gives up with bmc_write_not_persisted naming what the BMC reported', async () => {
    const f = await fixture({ boot: 'never-persists' });
    const c = client(f);
    const err = await failure(c.setBootOverride({ target: 'Pxe', enabled: 'Continuous' }));
    expect(err.code).toBe('bmc_write_not_persisted');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('BootSourceOverrideEnabled=Disabled');
    expect(err.message).toContain('BootSourceOverrideTarget=None');
    expect(err.message).toContain('wanted BootSourceOverrideEnabled=Continuous, BootSourceOverrideTarget=Pxe');
    expect(err.fields).toMatchObject({ BootSourceOverrideEnabled: 'Disabled', BootSourceOverrideTarget: 'None' });
    expect(f.requests('PATCH', '/redfish/v1/Systems/1')).toHaveLength(3);
  });

  it('clears the override and verifies; clearing a cleared override writes nothing', async () => {
    const f = await fixture();
    const c = client(f);
    await c.setBootOverride({ target: 'Pxe' });
    await expect(c.clearBootOverride()).resolves.toMatchObject({ changed: true, writes: 1 });
    expect(f.boot.enabled).toBe('Disabled');
    expect(f.requests('PATCH', '/redfish/v1/Systems/1').at(-1)!.body).toEqual({ Boot: { BootSourceOverrideEnabled: 'Disabled' } });
    await expect(c.clearBootOverride()).resolves.toEqual({ changed: false, writes: 0 });
  });

  it('refuses a target the BMC does not allow before writing', async () => {
    const f = await fixture();
    const err = await failure(client(f).setBootOverride({ target: 'RemoteDrive' }));
    expect(err.code).toBe('provider_rejected');
    expect(err.message).toMatch(/allowable: None, Pxe, Cd/);
    expect(f.requests('PATCH', '*')).toHaveLength(0);
  });
});

describe('ETags (d)', () => {
  it('sends If-Match with the ETag of the last GET when the BMC requires it', async () => {
    const f = await fixture({ etag: 'required' });
    const c = client(f);
    await c.setBootOverride({ target: 'Cd' });
    const [patch] = f.requests('PATCH', '/redfish/v1/Systems/1');
    expect(patch!.headers['if-match']).toBe('"sys-1"');
    expect(patch!.status).toBe(204);
    expect(f.boot.target).toBe('Cd');
  });

  it('re-reads and retries on 412 when the resource changed underneath', async () => {
    const f = await fixture({ etag: 'required' });
    f.beforePatch = (fx) => {
      fx.systemVersion += 1;
    }; // someone else wrote in between
    const c = client(f);
    await c.setBootOverride({ target: 'Pxe' });
    const patches = f.requests('PATCH', '/redfish/v1/Systems/1');
    expect(patches.map((p) => [p.headers['if-match'], p.status])).toEqual([
      ['"sys-1"', 412],
      ['"sys-2"', 204],
    ]);
    expect(f.boot.target).toBe('Pxe');
  });

  it('uses @odata.etag (weak, iLO-style) when there is no ETag header', async () => {
    const f = await fixture({ vendor: 'hpe', etag: 'required', weakEtag: true, etagInBodyOnly: true });
    const c = client(f);
    await c.bootFromVirtualMedia();
    const [patch] = f.requests('PATCH', '/redfish/v1/Systems/1');
    expect(patch!.headers['if-match']).toBe('W/"sys-1"');
    expect(patch!.body).toEqual({ Boot: { BootSourceOverrideEnabled: 'Once', BootSourceOverrideTarget: 'Cd' } });
  });
});

describe('sessions (e)', () => {
  it('10 concurrent operations: one shared session, maxConcurrency requests in flight, never more than 4 sessions', async () => {
    const f = await fixture({ latencyMs: 15, sessions: { max: 4 } });
    const ops = Array.from({ length: 10 }, (_, i) => {
      const c = client(f, { maxConcurrency: 2 });
      if (i === 0) return c.setBootOverride({ target: 'Cd', enabled: 'Continuous' });
      return [() => c.inspect(), () => c.powerState(), () => c.bootOverride()][i % 3]!();
    });
    await Promise.all(ops);
    expect(f.boot.target).toBe('Cd');
    expect(f.maxInFlight).toBeLessThanOrEqual(2);
    expect(f.maxInFlight).toBe(2);
    expect(f.maxSessionsSeen).toBeLessThanOrEqual(4);
    expect(f.sessionsCreated).toBe(1);
    expect(f.log.filter((r) => r.path !== '/redfish/v1' && r.path !== '/redfish/v1/SessionService/Sessions').every((r) => r.auth === 'session')).toBe(true);
    for (const c of clients.splice(0)) await c.close();
    expect(f.sessions.size).toBe(0);
    expect(f.requests('DELETE', '/redfish/v1/SessionService/Sessions/*')).toHaveLength(1);
  });

  it('all slots taken by others: backs off (honouring Retry-After), then falls back to basic auth', async () => {
    const f = await fixture({ sessions: { max: 4 } });
    f.foreignSessions = 4;
    const c = client(f);
    const inv = await c.inspect();
    expect(inv.auth).toBe('basic');
    const posts = f.requests('POST', '/redfish/v1/SessionService/Sessions');
    expect(posts.map((p) => p.status)).toEqual([503, 503, 503]);
    expect(c.sleeps.filter((ms) => ms === 1000)).toHaveLength(2); // Retry-After: 1 between the attempts
    expect(f.openSessions).toBe(4);
    expect(f.log.filter((r) => r.path === '/redfish/v1/Systems/1').every((r) => r.auth === 'basic')).toBe(true);
  });

  it('SessionLimitExceeded as 400 is recognised too', async () => {
    const f = await fixture({ sessions: { max: 1, limitStatus: 400 } });
    f.foreignSessions = 1;
    const inv = await client(f).inspect();
    expect(inv.auth).toBe('basic');
    expect(f.requests('POST', '/redfish/v1/SessionService/Sessions').map((p) => p.status)).toEqual([400, 400, 400]);
  });

  it('re-creates an expired session once', async () => {
    const f = await fixture();
    const c = client(f);
    await c.powerState();
    f.expireSessions();
    await expect(c.powerState()).resolves.toBe('Off');
    expect(f.sessionsCreated).toBe(2);
    expect(f.requests('GET', '/redfish/v1/Systems/1').map((r) => r.status)).toEqual([200, 200, 401, 200]);
  });

  it('uses basic auth when the service has no SessionService', async () => {
    const f = await fixture({ sessions: false });
    const inv = await client(f).inspect();
    expect(inv.service.sessionService).toBe(false);
    expect(inv.auth).toBe('basic');
    expect(f.requests('POST', '/redfish/v1/SessionService/Sessions')).toHaveLength(0);
  });

  it('bad credentials → provider_auth_failed (session creation and basic auth alike)', async () => {
    for (const sessions of [undefined, false] as const) {
      const f = await fixture(sessions === false ? { sessions } : {});
      const c = new RedfishClient({ endpoint: f.url, username: 'admin', password: `${PASSWORD}-wrong`, logger, retry: { initialMs: 1, maxMs: 2 } });
      const err = await failure(c.inspect());
      expect(err.code).toBe('provider_auth_failed');
      expect(err.retryable).toBe(false);
      expect(err.message).toContain('admin');
      expect(inspect(err)).not.toContain(`${PASSWORD}-wrong`);
    }
  });
});

describe('task monitors (g)', () => {
  it('follows a 202 task monitor for a reset until Completed, then verifies the power state', async () => {
    const f = await fixture({ resetTask: { polls: 3 } });
    const c = client(f);
    await expect(c.powerOn()).resolves.toMatchObject({ changed: true, resetTypes: ['On'], powerState: 'On' });
    expect(f.requests('GET', '/redfish/v1/TaskService/TaskMonitors/1').map((r) => r.status)).toEqual([202, 202, 202, 200]);
    expect(f.powerState).toBe('On');
  });

  it('without Retry-After, watches the task with short first polls (not the 2 s poll interval)', async () => {
    const f = await fixture({ resetTask: { polls: 3, retryAfter: false } });
    const c = client(f, { pollIntervalMs: 2000 });
    await expect(c.powerOn()).resolves.toMatchObject({ changed: true, powerState: 'On' });
    expect(f.requests('GET', '/redfish/v1/TaskService/TaskMonitors/1').map((r) => r.status)).toEqual([202, 202, 202, 200]);
    // The monitor's waits: 250 ms first, then growing with the time waited, never above the interval.
    const waits = c.sleeps.slice(0, 4);
    expect(waits[0]).toBe(250);
    expect(Math.max(...waits)).toBeLessThanOrEqual(2000);
    expect(waits.every((ms) => ms < 2000)).toBe(true);
  });

  it('a task ending in Exception fails with its messages', async () => {
    const f = await fixture({ resetTask: { polls: 1, outcome: 'Exception', messages: ['Host is locked by another job.'] } });
    const err = await failure(client(f).powerOn());
    expect(err.code).toBe('provider_task_failed');
    expect(err.message).toContain('Exception');
    expect(err.message).toContain('Host is locked by another job.');
    expect(f.powerState).toBe('Off');
  });

  it('Dell: boots the virtual CD through the OEM ImportSystemConfiguration job and clears it again', async () => {
    const f = await fixture({ vendor: 'dell', virtualMedia: 'systems' });
    const c = client(f);
    await expect(c.bootFromVirtualMedia({ enabled: 'Once' })).resolves.toMatchObject({ changed: true, writes: 1 });
    expect(f.attributes).toMatchObject({ 'ServerBoot.1.BootOnce': 'Enabled', 'ServerBoot.1.FirstBootDevice': 'VCD-DVD' });
    const [post] = f.requests('POST', '/redfish/v1/Managers/iDRAC.Embedded.1/Actions/Oem/EID_674_Manager.ImportSystemConfiguration');
    expect(String((post!.body as { ImportBuffer: string }).ImportBuffer)).toContain('<Attribute Name="ServerBoot.1#FirstBootDevice">VCD-DVD</Attribute>');
    expect(f.requests('PATCH', '/redfish/v1/Systems/1')).toHaveLength(0); // Cd would boot the physical drive
    await c.bootFromVirtualMedia({ enabled: 'Once' });
    expect(f.requests('POST', '*').filter((r) => r.path.endsWith('ImportSystemConfiguration'))).toHaveLength(1);
    await c.clearBootOverride();
    expect(f.attributes).toMatchObject({ 'ServerBoot.1.BootOnce': 'Disabled', 'ServerBoot.1.FirstBootDevice': 'Normal' });
  });
});

describe('power', () => {
  it('graceful shutdown that never completes is followed by ForceOff', async () => {
    const f = await fixture({ powerState: 'On', ignoreGracefulShutdown: true });
    const c = client(f);
    await expect(c.powerOff({ graceful: true, timeoutSec: 0.2 })).resolves.toMatchObject({ resetTypes: ['GracefulShutdown', 'ForceOff'], powerState: 'Off' });
    expect(f.requests('POST', '/redfish/v1/Systems/1/Actions/ComputerSystem.Reset').map((r) => r.body)).toEqual([
      { ResetType: 'GracefulShutdown' },
      { ResetType: 'ForceOff' },
    ]);
  });

  it('waits for a delayed power transition and is a no-op when already there', async () => {
    const f = await fixture({ powerDelayMs: 150 });
    let heartbeats = 0;
    const c = client(f, {
      hooks: {
        onWait: () => {
          heartbeats += 1;
        },
      },
    });
    await expect(c.powerOn()).resolves.toMatchObject({ changed: true, powerState: 'On' });
    expect(heartbeats).toBeGreaterThan(0); // polling the power state heartbeats
    await expect(c.powerOn()).resolves.toMatchObject({ changed: false, resetTypes: [] });
    await expect(c.reboot()).resolves.toMatchObject({ resetTypes: ['ForceRestart'], powerState: 'On' });
    expect(f.requests('POST', '/redfish/v1/Systems/1/Actions/ComputerSystem.Reset').map((r) => (r.body as { ResetType?: string }).ResetType)).toEqual([
      'On',
      'ForceRestart',
    ]);
  });

  it('a ResetType the BMC does not list is refused before posting', async () => {
    const f = await fixture();
    const err = await failure(client(f).reset('Nmi'));
    expect(err.code).toBe('provider_rejected');
    expect(err.message).toMatch(/ResetType Nmi is not allowed/);
    expect(f.requests('POST', '/redfish/v1/Systems/1/Actions/ComputerSystem.Reset')).toHaveLength(0);
  });
});

describe('error mapping', () => {
  it('retries GETs on 503 honouring Retry-After', async () => {
    const f = await fixture({ faults: [{ path: '/redfish/v1/Systems/1', status: 503, times: 2, retryAfter: 3 }] });
    const c = client(f);
    await expect(c.powerState()).resolves.toBe('Off');
    expect(c.sleeps.filter((ms) => ms === 3000)).toHaveLength(2);
  });

  it('persistent 5xx on a read → retryable provider_error after the attempts', async () => {
    const f = await fixture({ faults: [{ path: '/redfish/v1/Systems/1', status: 500, times: 99 }] });
    const c = client(f, { retry: { initialMs: 1, maxMs: 4, attempts: 3 } });
    const err = await failure(c.powerState());
    expect(err.code).toBe('provider_error');
    expect(err.retryable).toBe(true);
    expect(f.requests('GET', '/redfish/v1/Systems/1')).toHaveLength(3);
  });

  it('writes are not retried in-client; a 4xx carries the Redfish ExtendedInfo messages', async () => {
    const f = await fixture({
      faults: [
        {
          method: 'POST',
          path: '/redfish/v1/Systems/1/Actions/ComputerSystem.Reset',
          status: 400,
          times: 1,
          message: 'The request body was malformed: ResetType missing.',
        },
      ],
    });
    const err = await failure(client(f).powerOn());
    expect(err).toBeInstanceOf(RedfishHttpError);
    expect(err.code).toBe('provider_rejected');
    expect(err.message).toContain('The request body was malformed: ResetType missing.');
    expect(f.requests('POST', '/redfish/v1/Systems/1/Actions/ComputerSystem.Reset')).toHaveLength(1);
  });

  it('connection refused → retryable bmc_unreachable', async () => {
    const f = await fixture();
    const url = f.url;
    await f.close();
    fixtures.splice(fixtures.indexOf(f), 1);
    const c = new RedfishClient({ endpoint: url, username: 'admin', password: PASSWORD, logger, retry: { initialMs: 1, maxMs: 2, attempts: 2 } });
    const err = await failure(c.inspect());
    expect(err.code).toBe('bmc_unreachable');
    expect(err.retryable).toBe(true);
  });

  it('refuses more than one system without an explicit path, and bad options', async () => {
    expect(() => new RedfishClient({ endpoint: 'https://admin:pw@bmc.example', username: 'a', password: 'b' })).toThrow(/never in the endpoint/);
    expect(() => new RedfishClient({ endpoint: 'ftp://bmc.example', username: 'a', password: 'b' })).toThrow(HangarError);
    expect(() => new RedfishClient({ endpoint: 'https://bmc.example', username: 'a', password: 'b', systemPath: '/Systems/1' })).toThrow(/systemPath/);
  });
});
