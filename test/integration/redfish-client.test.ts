// The Redfish client against a real Redfish service: sushy-tools with its fake systems driver,
// over TLS with a self-signed certificate. Every effect is checked through the emulator's own
// Redfish API with a plain basic-auth GET (redfishGet), not through the client under test.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { inspect } from 'node:util';
import { HangarError } from '../../domain/errors.ts';
import { createLogger } from '../../logging/logger.ts';
import { RedfishClient, type RedfishClientOptions } from '../../providers/redfish/index.ts';
import { redfishGet, serveImage, startSushy, type ImageServer, type SushyEmulator } from '../support/sushy.ts';

let multi: SushyEmulator; // three systems: the client must be told which
let single: SushyEmulator; // one system: discovered
let images: ImageServer;
const logLines: string[] = [];
const errors: unknown[] = [];
const clients: RedfishClient[] = [];
const logger = createLogger('debug', 'redfish-client-test', {
  write: (line: string) => {
    logLines.push(line);
  },
});

function client(bmc: SushyEmulator, extra: Partial<RedfishClientOptions> = {}): RedfishClient {
  const c = new RedfishClient({
    endpoint: bmc.url,
    username: bmc.username,
    password: bmc.password,
    tls: { caPem: bmc.caPem! },
    logger,
    pollIntervalMs: 250,
    retry: { initialMs: 100, maxMs: 1000 },
    ...extra,
  });
  clients.push(c);
  return c;
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

const powerOf = async (bmc: SushyEmulator, path: string) => (await redfishGet(bmc, path)).PowerState;

beforeAll(async () => {
  [multi, single, images] = await Promise.all([
    startSushy({
      tls: true,
      systems: [
        { name: 'node-a', powerState: 'Off' },
        { name: 'node-b', powerState: 'On' },
        { name: 'node-c', powerState: 'On' },
      ],
    }),
    startSushy({ tls: true, systems: 1 }),
    serveImage(),
  ]);
}, 300_000);

afterAll(async () => {
  for (const c of clients) await c.close();
  await Promise.all([multi?.stop(), single?.stop(), images?.close()]);
  const passwords = [multi?.password, single?.password].filter((p): p is string => !!p);
  const rendered = [
    ...errors.flatMap((e) => [String(e), JSON.stringify(e), inspect(e, { depth: 5 }), (e as Error).stack ?? '']),
    ...logLines,
    ...clients.flatMap((c) => [inspect(c, { depth: 5, showHidden: true }), JSON.stringify(c)]),
  ].join('\n');
  expect(errors.length).toBeGreaterThanOrEqual(4);
  expect(logLines.length).toBeGreaterThan(10);
  for (const p of passwords) expect(rendered).not.toContain(p);
});

describe('discovery and inspection', () => {
  it('discovers the only system and inspects service, system, manager and virtual media', async () => {
    const inv = await client(single).inspect();
    const [sys] = single.systems;
    expect(inv.system.path).toBe(sys!.path);
    expect(inv.system.name).toBe(sys!.name);
    expect(inv.system.manufacturer).toBe('Sushy Emulator');
    expect(inv.system.powerState).toBe('Off');
    expect(inv.system.resetTypes).toEqual(expect.arrayContaining(['On', 'ForceOff', 'GracefulShutdown', 'ForceRestart']));
    expect(inv.system.boot.allowableTargets).toEqual(expect.arrayContaining(['Pxe', 'Cd', 'Hdd']));
    expect(inv.service.redfishVersion).toMatch(/^1\./);
    expect(inv.service.sessionService).toBe(false);
    expect(inv.auth).toBe('basic');
    expect(inv.quirks.profile).toBe('sushy-emulator');
    expect(inv.managers).toHaveLength(1);
    expect(inv.virtualMediaSupported).toBe(true);
    const cd = inv.virtualMedia.find((s) => s.cdCapable)!;
    expect(cd).toMatchObject({ id: 'Cd', insertAction: true, ejectAction: true, inserted: false });
    expect(cd.mediaTypes).toEqual(expect.arrayContaining(['CD', 'DVD']));
  });

  it('refuses to guess among several systems', async () => {
    const err = await failure(client(multi).inspect());
    expect(err.code).toBe('validation_failed');
    expect(err.message).toContain('3 systems');
    expect(err.fields).toEqual({ systemPath: 'ambiguous' });
  });
});

describe('power (verified through the emulator)', () => {
  it('powers on, gracefully off and reboots, waiting for the emulator to apply each', async () => {
    const [a, b, c] = multi.systems;
    const [on, off, reboot] = await Promise.all([
      client(multi, { systemPath: a!.path }).powerOn({ timeoutSec: 30 }),
      client(multi, { systemPath: b!.path }).powerOff({ graceful: true, timeoutSec: 30 }),
      client(multi, { systemPath: c!.path }).reboot({ timeoutSec: 30 }),
    ]);
    expect(on).toMatchObject({ changed: true, resetTypes: ['On'], powerState: 'On' });
    expect(off).toMatchObject({ changed: true, resetTypes: ['GracefulShutdown'], powerState: 'Off' });
    expect(reboot).toMatchObject({ changed: true, resetTypes: ['ForceRestart'], powerState: 'On' });
    expect(await powerOf(multi, a!.path)).toBe('On');
    expect(await powerOf(multi, b!.path)).toBe('Off');
    expect(await powerOf(multi, c!.path)).toBe('On');
    // Already there: nothing posted, nothing waited for.
    await expect(client(multi, { systemPath: b!.path }).powerOff()).resolves.toMatchObject({ changed: false, resetTypes: [] });
  }, 60_000);
});

describe('virtual media (verified through the emulator)', () => {
  it('inserts the image (the emulator downloads it), is idempotent, and ejects', async () => {
    const sys = multi.systems[0]!;
    const c = client(multi, { systemPath: sys.path });
    const url = images.url('hangar-boot.iso');
    await expect(c.insertMedia(url)).resolves.toEqual({ changed: true, writes: 1 });
    let cd = await redfishGet(multi, `${sys.path}/VirtualMedia/Cd`);
    expect(cd).toMatchObject({ Inserted: true, Image: url, WriteProtected: true, ImageName: 'hangar-boot.iso' });
    expect(images.requests).toContain('/images/hangar-boot.iso');
    await expect(c.insertMedia(url)).resolves.toEqual({ changed: false, writes: 0 });
    // A different image replaces the first (eject, insert).
    const other = images.url('other.iso');
    await c.insertMedia(other);
    cd = await redfishGet(multi, `${sys.path}/VirtualMedia/Cd`);
    expect(cd).toMatchObject({ Inserted: true, Image: other });
    await expect(c.ejectMedia()).resolves.toMatchObject({ changed: true });
    cd = await redfishGet(multi, `${sys.path}/VirtualMedia/Cd`);
    expect(cd).toMatchObject({ Inserted: false, Image: '' });
    await expect(c.ejectMedia()).resolves.toEqual({ changed: false, writes: 0 });
  });

  it('an image the emulator cannot fetch is a provider_rejected with its message', async () => {
    const c = client(multi, { systemPath: multi.systems[1]!.path });
    const err = await failure(c.insertMedia('http://127.0.0.1:9/nothing-here.iso'));
    expect(['provider_rejected', 'provider_error']).toContain(err.code);
    expect(err.message).toMatch(/InsertMedia/);
  });
});

describe('boot override (verified through the emulator)', () => {
  it('sets Cd once in UEFI mode, reads it back, and clears it', async () => {
    const sys = multi.systems[2]!;
    const c = client(multi, { systemPath: sys.path });
    await expect(c.setBootOverride({ target: 'Cd', enabled: 'Once', mode: 'UEFI' })).resolves.toEqual({ changed: true, writes: 1 });
    let boot = (await redfishGet(multi, sys.path)).Boot as Record<string, unknown>;
    expect(boot).toMatchObject({ BootSourceOverrideTarget: 'Cd', BootSourceOverrideMode: 'UEFI' });
    await expect(c.setBootOverride({ target: 'Cd', enabled: 'Once', mode: 'UEFI' })).resolves.toEqual({ changed: false, writes: 0 });
    await expect(c.bootFromVirtualMedia()).resolves.toEqual({ changed: false, writes: 0 });
    await expect(c.setBootOverride({ target: 'Pxe' })).resolves.toMatchObject({ changed: true });
    boot = (await redfishGet(multi, sys.path)).Boot as Record<string, unknown>;
    expect(boot.BootSourceOverrideTarget).toBe('Pxe');
    await expect(c.clearBootOverride()).resolves.toMatchObject({ changed: true });
    boot = (await redfishGet(multi, sys.path)).Boot as Record<string, unknown>;
    expect(boot.BootSourceOverrideTarget).toBe('None');
    await expect(c.clearBootOverride()).resolves.toEqual({ changed: false, writes: 0 });
  });
});

describe('credentials and TLS', () => {
  it('bad credentials → provider_auth_failed', async () => {
    const c = client(single, { password: `${single.password}-not` });
    const err = await failure(c.inspect());
    expect(err.code).toBe('provider_auth_failed');
    expect(err.retryable).toBe(false);
    expect(inspect(err)).not.toContain(`${single.password}-not`);
  });

  it('verifies the self-signed certificate by CA and by pinned fingerprint', async () => {
    await expect(client(single, { tls: { caPem: single.caPem! } }).powerState()).resolves.toBe('Off');
    await expect(client(single, { tls: { fingerprint: single.fingerprint256! } }).powerState()).resolves.toBe('Off');
    await expect(client(single, { tls: { fingerprint: `sha256:${single.fingerprint256!.replace(/:/g, '').toLowerCase()}` } }).powerState()).resolves.toBe(
      'Off',
    );
  });

  it('refuses a wrong fingerprint, and an unknown CA, before sending credentials', async () => {
    const wrong = multi.fingerprint256!; // another emulator's certificate
    let err = await failure(client(single, { tls: { fingerprint: wrong } }).powerState());
    expect(err.code).toBe('tls_verification_failed');
    expect(err.message).toContain('fingerprint');
    err = await failure(client(single, { tls: {} }).powerState());
    expect(err.code).toBe('tls_verification_failed');
    err = await failure(client(single, { tls: { caPem: multi.caPem! } }).powerState());
    expect(err.code).toBe('tls_verification_failed');
  });

  it('verify: false is an explicit, logged opt-in', async () => {
    const before = logLines.length;
    await expect(client(single, { tls: { verify: false } }).powerState()).resolves.toBe('Off');
    expect(logLines.slice(before).join('\n')).toMatch(/TLS verification of the BMC is DISABLED/);
  });
});
