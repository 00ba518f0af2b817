// Redfish client for one ComputerSystem behind a BMC: inspection, power, virtual media and boot
// override. Every write is verified by reading the resource back (verified-write.ts); reads are
// retried with backoff on transient failures (connection.ts); vendor deviations come from the
// quirks table (quirks.ts), and the one OEM path lives in oem/dell.ts. This class validates the
// options, discovers the system once, and runs each operation with errors scrubbed of secrets.
//
// No Temporal imports: long waits call hooks.onWait so activities can heartbeat, and the
// options' `signal` (the activity's cancellation) stops requests, polls and waits.
import { pino } from 'pino';
import { HangarError } from '../../domain/errors.ts';
import { isAbortError } from '../support/sleep.ts';
import { bootFromVirtualMedia, clearBootOverride, setBootOverride } from './boot-override.ts';
import { BmcConnection, RedfishHttpError } from './connection.ts';
import { link, obj, str } from './json.ts';
import { bmcLimiter } from './limiter.ts';
import * as power from './power.ts';
import { QUIRK_PROFILES, type QuirkProfile } from './quirks.ts';
import { bmcAuth } from './session.ts';
import { allowedResetTypes, bootStateOf, cdSlot, discoverSystem, managersOf, powerStateOf, virtualMediaSlots, type SystemContext } from './system.ts';
import type {
  BootOverrideRequest,
  BootOverrideState,
  PowerResult,
  RedfishClientOptions,
  RedfishInventory,
  RedfishPowerState,
  VirtualMediaSlot,
  WriteResult,
} from './types.ts';
import { checkImageUrl, ejectMedia, insertMedia, type InsertShape } from './virtual-media.ts';

export { RedfishHttpError } from './connection.ts';

export class RedfishClient {
  readonly endpoint: string;
  readonly #conn: BmcConnection;
  readonly #forcedProfile: QuirkProfile | undefined;
  readonly #configuredSystemPath: string | undefined;
  #ctx: Promise<SystemContext> | undefined;
  readonly #insertShape: { current?: InsertShape } = {};

  constructor(opts: RedfishClientOptions) {
    let url: URL;
    try {
      url = new URL(opts.endpoint);
    } catch {
      throw new HangarError('validation_failed', 'the BMC endpoint must be a URL like https://bmc.example:443', { endpoint: 'not a URL' });
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new HangarError('validation_failed', 'the BMC endpoint must use https://', { endpoint: 'unsupported scheme' });
    }
    if (url.username || url.password) {
      throw new HangarError('validation_failed', 'credentials go in username/password, never in the endpoint URL', { endpoint: 'contains credentials' });
    }
    if (!opts.username) throw new HangarError('validation_failed', 'a BMC username is required', { username: 'required' });
    if (!opts.password) throw new HangarError('validation_failed', 'a BMC password is required', { password: 'required' });
    if (opts.systemPath && !/^\/redfish\/v1\/Systems\/[^/]+\/?$/.test(opts.systemPath)) {
      throw new HangarError('validation_failed', 'systemPath must look like /redfish/v1/Systems/<id>', { systemPath: 'invalid' });
    }
    this.endpoint = url.origin;
    const tls = { verify: true, ...opts.tls };
    const log = (opts.logger ?? pino({ level: 'silent' })).child({ component: 'redfish', bmc: url.origin });
    const sleep = opts.sleep ?? opts.hooks?.sleep;
    this.#conn = new BmcConnection({
      url: new URL(url.origin),
      tls,
      auth: bmcAuth(url.origin, opts.username, opts.password),
      limiter: bmcLimiter(url.origin, opts.maxConcurrency ?? 2),
      log,
      ...(sleep ? { sleep } : {}),
      ...(opts.hooks?.onWait ? { onWait: opts.hooks.onWait } : {}),
      retry: { initialMs: opts.retry?.initialMs ?? 500, maxMs: opts.retry?.maxMs ?? 10_000, attempts: Math.max(1, opts.retry?.attempts ?? 4) },
      pollMs: opts.pollIntervalMs ?? 2_000,
      timeoutMs: opts.requestTimeoutMs ?? 30_000,
      taskTimeoutMs: (opts.taskTimeoutSec ?? 600) * 1000,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    this.#configuredSystemPath = opts.systemPath?.replace(/\/$/, '');
    this.#forcedProfile = opts.quirks ? QUIRK_PROFILES[opts.quirks] : undefined;
    if (url.protocol === 'http:') {
      log.warn('BMC endpoint uses plain HTTP: credentials travel unencrypted (test fixtures only)');
    } else if (tls.verify === false && !tls.fingerprint) {
      log.warn('TLS verification of the BMC is DISABLED by explicit opt-in: the connection can be intercepted');
    }
  }

  /** Returns the session to the BMC (when this was the last client using it). */
  close(): Promise<void> {
    return this.#conn.close();
  }

  async inspect(): Promise<RedfishInventory> {
    return this.#op('inspect', async (conn, ctx) => {
      const root = ctx.root;
      const sys = await conn.get(ctx.systemPath);
      const managers = await managersOf(conn, sys.body);
      const slots = await virtualMediaSlots(conn, ctx, sys.body, managers);
      const cd = slots.find((s) => s.cdCapable);
      const supported = !!cd && (cd.insertAction || ctx.profile.virtualMediaPatchFallback);
      return {
        endpoint: this.endpoint,
        service: {
          vendor: str(root.Vendor),
          product: str(root.Product),
          name: str(root.Name),
          redfishVersion: str(root.RedfishVersion),
          uuid: str(root.UUID),
          oemKeys: Object.keys(obj(root.Oem)),
          sessionService: (await conn.sessionsPath()) !== null,
        },
        system: {
          path: ctx.systemPath,
          id: str(sys.body.Id) ?? ctx.systemPath.split('/').pop()!,
          name: str(sys.body.Name),
          uuid: str(sys.body.UUID),
          manufacturer: str(sys.body.Manufacturer),
          model: str(sys.body.Model),
          serialNumber: str(sys.body.SerialNumber),
          powerState: powerStateOf(sys.body),
          boot: bootStateOf(sys.body),
          resetTypes: await allowedResetTypes(conn, sys.body),
        },
        managers: managers.map((m) => ({
          path: m.path,
          id: str(m.body.Id) ?? m.path.split('/').pop()!,
          model: str(m.body.Model),
          firmwareVersion: str(m.body.FirmwareVersion),
          virtualMedia: link(m.body.VirtualMedia),
        })),
        virtualMedia: slots,
        virtualMediaSupported: supported,
        quirks: { profile: ctx.profile.name, description: ctx.profile.description, notes: ctx.profile.notes },
        auth: conn.auth.mode,
      };
    });
  }

  powerState(): Promise<RedfishPowerState> {
    return this.#op('power state', async (conn, ctx) => powerStateOf((await conn.get(ctx.systemPath)).body));
  }

  /** Posts one ResetType (which must be allowable) and waits for the power state it implies. */
  reset(resetType: string, opts: { timeoutSec?: number } = {}): Promise<PowerResult> {
    return this.#op(`reset ${resetType}`, (conn, ctx) => power.reset(conn, ctx, resetType, opts.timeoutSec));
  }

  powerOn(opts: { timeoutSec?: number } = {}): Promise<PowerResult> {
    return this.#op('power on', (conn, ctx) => power.powerOn(conn, ctx, opts.timeoutSec));
  }

  /** GracefulShutdown (when `graceful`, the default, and allowable) up to `timeoutSec`, then ForceOff. */
  powerOff(opts: { graceful?: boolean; timeoutSec?: number; forceTimeoutSec?: number } = {}): Promise<PowerResult> {
    return this.#op('power off', (conn, ctx) => power.powerOff(conn, ctx, opts));
  }

  /** Restarts the system (ForceRestart, GracefulRestart, PowerCycle…, else off + on); an off system is powered on. */
  reboot(opts: { timeoutSec?: number } = {}): Promise<PowerResult> {
    return this.#op('reboot', (conn, ctx) => power.reboot(conn, ctx, opts.timeoutSec));
  }

  /** The CD/DVD slot the client would use, with its current state. */
  virtualMedia(): Promise<VirtualMediaSlot> {
    return this.#op('virtual media status', async (conn, ctx) => (await cdSlot(conn, ctx)).slot);
  }

  /** Inserts an image into the virtual CD/DVD, read back to verify; the same image already inserted is a no-op. */
  insertMedia(image: string, opts: { writeProtected?: boolean } = {}): Promise<WriteResult> {
    return this.#op(
      'insert virtual media',
      (conn, ctx) => insertMedia(conn, ctx, image, opts.writeProtected ?? true, this.#insertShape),
      () => checkImageUrl(image),
    );
  }

  /** Ejects the virtual CD/DVD, read back to verify; nothing inserted is a no-op. */
  ejectMedia(): Promise<WriteResult> {
    return this.#op('eject virtual media', (conn, ctx) => ejectMedia(conn, ctx));
  }

  bootOverride(): Promise<BootOverrideState> {
    return this.#op('read boot override', async (conn, ctx) => bootStateOf((await conn.get(ctx.systemPath)).body));
  }

  setBootOverride(req: BootOverrideRequest): Promise<WriteResult> {
    return this.#op('set boot override', (conn, ctx) => setBootOverride(conn, ctx, req));
  }

  clearBootOverride(): Promise<WriteResult> {
    return this.#op('clear boot override', (conn, ctx) => clearBootOverride(conn, ctx));
  }

  /** Next boot (or every boot) from the virtual CD, the standard way or the vendor's OEM way. */
  bootFromVirtualMedia(opts: { enabled?: 'Once' | 'Continuous'; mode?: 'UEFI' | 'Legacy' } = {}): Promise<WriteResult> {
    return this.#op('boot from virtual media', (conn, ctx) => bootFromVirtualMedia(conn, ctx, opts));
  }

  #context(): Promise<SystemContext> {
    if (!this.#ctx) {
      this.#ctx = discoverSystem(this.#conn, this.#configuredSystemPath, this.#forcedProfile);
      this.#ctx.catch(() => {
        this.#ctx = undefined;
      });
    }
    return this.#ctx;
  }

  /** Runs a public operation; errors leave with the password scrubbed and non-Hangar errors wrapped. */
  async #op<T>(what: string, fn: (conn: BmcConnection, ctx: SystemContext) => Promise<T>, before?: () => void): Promise<T> {
    const conn = this.#conn;
    try {
      before?.();
      return await fn(conn, await this.#context());
    } catch (err) {
      // The caller cancelled: that is not a BMC failure, and leaves as the cancellation.
      if (conn.signal?.aborted && (isAbortError(err) || err === conn.signal.reason)) throw err;
      if (err instanceof RedfishHttpError) {
        const scrubbed = new RedfishHttpError(
          err.code,
          conn.scrub(err.message),
          err.httpStatus,
          err.messageIds,
          err.messages.map((m) => conn.scrub(m)),
          err.fields,
        );
        conn.log.warn({ op: what, code: err.code }, conn.scrub(err.message));
        throw scrubbed;
      }
      if (err instanceof HangarError) {
        conn.log.warn({ op: what, code: err.code }, conn.scrub(err.message));
        throw new HangarError(
          err.code,
          conn.scrub(err.message),
          err.fields ? Object.fromEntries(Object.entries(err.fields).map(([k, v]) => [k, conn.scrub(v)])) : undefined,
        );
      }
      const message = conn.scrub(err instanceof Error ? err.message : String(err));
      conn.log.error({ op: what }, message);
      throw new HangarError('provider_error', `${what} failed: ${message}`, { bmc: this.endpoint });
    }
  }
}
