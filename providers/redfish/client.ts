// Redfish client for one ComputerSystem behind a BMC: inspection, power, virtual media and boot
// override. Every write is verified by reading the resource back (BMCs are known to answer 200/204
// and not apply a change); reads are retried with backoff on transient failures, writes are not
// blindly re-sent but re-applied only when the read-back shows they did not stick. Vendor
// deviations come from the quirks table (quirks.ts), never from scattered vendor checks.
//
// No Temporal imports: long waits call hooks.onWait so activities can heartbeat.
import { pino, type Logger } from 'pino';
import { HangarError } from '../../domain/errors.ts';
import { bmcLimiter, type Semaphore } from './limiter.ts';
import { QUIRK_PROFILES, selectQuirkProfile, transferProtocolFor, type QuirkProfile, type VirtualMediaLocation } from './quirks.ts';
import { bmcAuth, pathOf, type AuthContext, type BmcAuth } from './session.ts';
import { extendedMessages, messageIds, retryAfterMs, send, type RedfishResponse, type RedfishTlsOptions } from './transport.ts';
import type {
  BootOverrideRequest, BootOverrideState, PowerResult, RedfishClientOptions, RedfishInventory, RedfishPowerState,
  VirtualMediaSlot, WriteResult,
} from './types.ts';

type Json = Record<string, unknown>;

/** An HTTP-level refusal from the BMC, with what it said. */
export class RedfishHttpError extends HangarError {
  readonly httpStatus: number;
  readonly messageIds: string[];
  readonly messages: string[];

  constructor(code: HangarError['code'], detail: string, httpStatus: number, ids: string[], messages: string[], fields?: Record<string, string>) {
    super(code, detail, fields);
    this.name = 'RedfishHttpError';
    this.httpStatus = httpStatus;
    this.messageIds = ids;
    this.messages = messages;
  }
}

interface Resource {
  path: string;
  body: Json;
  etag: string | undefined;
}

interface Context {
  root: Json;
  systemPath: string;
  profile: QuirkProfile;
}

interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  /** Safe to repeat (GETs and idempotent reads): retried in-client on transient failures. */
  idempotent?: boolean;
  /** Statuses returned to the caller instead of thrown. */
  allow?: number[];
  /** `none`: no credentials (the service root); `basic`: HTTP basic even when sessions work. */
  auth?: 'none' | 'basic';
}

const DEFAULT_RESET_TYPES = ['On', 'ForceOff', 'GracefulShutdown', 'GracefulRestart', 'ForceRestart'];
const RUNNING_TASK_STATES = new Set(['New', 'Starting', 'Running', 'Suspended', 'Interrupted', 'Pending', 'Stopping', 'Service', 'Cancelling']);
const FAILED_TASK_STATES = new Set(['Exception', 'Killed', 'Cancelled']);
const WRITE_ATTEMPTS = 3;
const MAX_WAIT_SLICE_MS = 5_000;

const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);
const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const link = (v: unknown): string | null => str(obj(v)['@odata.id']);
const strings = (v: unknown): string[] | null => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : null);

/** An image URL for logs and messages: user info stripped. */
function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) { u.username = ''; u.password = ''; }
    return u.toString();
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//');
  }
}

function sameImage(a: string | null, b: string): boolean {
  if (!a) return false;
  const norm = (s: string) => { try { return decodeURI(s).replace(/\/+$/, ''); } catch { return s.replace(/\/+$/, ''); } };
  return norm(a) === norm(b);
}

export class RedfishClient {
  readonly endpoint: string;
  readonly #url: URL;
  readonly #tls: RedfishTlsOptions;
  readonly #auth: BmcAuth;
  readonly #limiter: Semaphore;
  readonly #log: Logger;
  readonly #sleepImpl: (ms: number) => Promise<void>;
  readonly #onWait: (() => void) | undefined;
  readonly #retry: { initialMs: number; maxMs: number; attempts: number };
  readonly #pollMs: number;
  readonly #timeoutMs: number;
  readonly #taskTimeoutMs: number;
  readonly #forcedProfile: QuirkProfile | undefined;
  readonly #configuredSystemPath: string | undefined;
  #ctx: Promise<Context> | undefined;
  #root: Promise<Json> | undefined;
  #retained = false;
  readonly #etags = new Map<string, string>();
  #insertShape: { optional: boolean; protocol: boolean } | undefined;

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
    this.#url = new URL(url.origin);
    this.endpoint = url.origin;
    this.#tls = { verify: true, ...opts.tls };
    this.#configuredSystemPath = opts.systemPath?.replace(/\/$/, '');
    this.#limiter = bmcLimiter(url.origin, opts.maxConcurrency ?? 2);
    this.#auth = bmcAuth(url.origin, opts.username, opts.password);
    this.#log = (opts.logger ?? pino({ level: 'silent' })).child({ component: 'redfish', bmc: url.origin });
    this.#onWait = opts.hooks?.onWait;
    this.#sleepImpl = opts.sleep ?? opts.hooks?.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.#retry = { initialMs: opts.retry?.initialMs ?? 500, maxMs: opts.retry?.maxMs ?? 10_000, attempts: Math.max(1, opts.retry?.attempts ?? 4) };
    this.#pollMs = opts.pollIntervalMs ?? 2_000;
    this.#timeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.#taskTimeoutMs = (opts.taskTimeoutSec ?? 600) * 1000;
    this.#forcedProfile = opts.quirks ? QUIRK_PROFILES[opts.quirks] : undefined;
    if (url.protocol === 'http:') {
      this.#log.warn('BMC endpoint uses plain HTTP: credentials travel unencrypted (test fixtures only)');
    } else if (this.#tls.verify === false && !this.#tls.fingerprint) {
      this.#log.warn('TLS verification of the BMC is DISABLED by explicit opt-in: the connection can be intercepted');
    }
  }

  /** Returns the session to the BMC (when this was the last client using it). */
  async close(): Promise<void> {
    if (!this.#retained) return;
    this.#retained = false;
    await this.#auth.release(this.#authContext());
  }

  // ---------------------------------------------------------------------------------------------
  // Inspection

  async inspect(): Promise<RedfishInventory> {
    return this.#op('inspect', async () => {
      const ctx = await this.#context();
      const root = ctx.root;
      const sys = await this.#get(ctx.systemPath);
      const managers = await this.#managers(sys.body);
      const slots = await this.#virtualMedia(ctx, sys.body, managers);
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
          sessionService: (await this.#sessionsPath()) !== null,
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
          resetTypes: await this.#allowedResetTypes(sys.body),
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
        auth: this.#auth.mode,
      };
    });
  }

  async powerState(): Promise<RedfishPowerState> {
    return this.#op('power state', async () => {
      const ctx = await this.#context();
      return powerStateOf((await this.#get(ctx.systemPath)).body);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Power

  /** Posts one ResetType (which must be allowable) and waits for the power state it implies. */
  async reset(resetType: string, opts: { timeoutSec?: number } = {}): Promise<PowerResult> {
    return this.#op(`reset ${resetType}`, async () => {
      const ctx = await this.#context();
      const sys = await this.#get(ctx.systemPath);
      const allowed = await this.#allowedResetTypes(sys.body);
      if (allowed && !allowed.includes(resetType)) {
        throw new HangarError('provider_rejected', `ResetType ${resetType} is not allowed by this BMC (allowable: ${allowed.join(', ')})`, { resetType });
      }
      const expect = /^(On|ForceOn)$/.test(resetType) || /Restart|PowerCycle/.test(resetType) ? 'On'
        : /^(ForceOff|GracefulShutdown)$/.test(resetType) ? 'Off' : undefined;
      const state = await this.#resetAndWait(ctx, sys.body, resetType, expect, (opts.timeoutSec ?? 120) * 1000);
      return { changed: true, resetTypes: [resetType], powerState: state };
    });
  }

  async powerOn(opts: { timeoutSec?: number } = {}): Promise<PowerResult> {
    return this.#op('power on', async () => {
      const ctx = await this.#context();
      const sys = await this.#get(ctx.systemPath);
      const current = powerStateOf(sys.body);
      if (current === 'On') return { changed: false, resetTypes: [], powerState: current };
      const timeout = (opts.timeoutSec ?? 120) * 1000;
      if (current === 'PoweringOn') {
        return { changed: false, resetTypes: [], powerState: await this.#waitPower(ctx, 'On', timeout, true) };
      }
      const type = await this.#pickReset(sys.body, ctx.profile.resetTypes.on, 'power on');
      const state = await this.#resetAndWait(ctx, sys.body, type, 'On', timeout);
      return { changed: true, resetTypes: [type], powerState: state };
    });
  }

  /**
   * Powers the system off: GracefulShutdown (when `graceful`, the default, and allowable), polling the
   * power state up to `timeoutSec`, then ForceOff.
   */
  async powerOff(opts: { graceful?: boolean; timeoutSec?: number; forceTimeoutSec?: number } = {}): Promise<PowerResult> {
    return this.#op('power off', async () => {
      const ctx = await this.#context();
      const sys = await this.#get(ctx.systemPath);
      if (powerStateOf(sys.body) === 'Off') return { changed: false, resetTypes: [], powerState: 'Off' };
      const allowed = await this.#allowedResetTypes(sys.body);
      const posted: string[] = [];
      if (opts.graceful !== false) {
        const graceful = pick(allowed, ctx.profile.resetTypes.gracefulOff);
        if (graceful) {
          posted.push(graceful);
          const state = await this.#resetAndWait(ctx, sys.body, graceful, 'Off', (opts.timeoutSec ?? 60) * 1000, false);
          if (state === 'Off') return { changed: true, resetTypes: posted, powerState: state };
          this.#log.warn({ timeoutSec: opts.timeoutSec ?? 60 }, 'graceful shutdown did not finish in time; forcing power off');
        }
      }
      const force = await this.#pickReset(sys.body, ctx.profile.resetTypes.forceOff, 'force power off');
      posted.push(force);
      const fresh = await this.#get(ctx.systemPath);
      if (powerStateOf(fresh.body) === 'Off') return { changed: true, resetTypes: posted.slice(0, -1), powerState: 'Off' };
      const state = await this.#resetAndWait(ctx, fresh.body, force, 'Off', (opts.forceTimeoutSec ?? 60) * 1000);
      return { changed: true, resetTypes: posted, powerState: state };
    });
  }

  /** Restarts the system (ForceRestart, GracefulRestart, PowerCycle…, else off + on); an off system is powered on. */
  async reboot(opts: { timeoutSec?: number } = {}): Promise<PowerResult> {
    return this.#op('reboot', async () => {
      const ctx = await this.#context();
      const sys = await this.#get(ctx.systemPath);
      const timeout = (opts.timeoutSec ?? 120) * 1000;
      if (powerStateOf(sys.body) === 'Off') {
        const type = await this.#pickReset(sys.body, ctx.profile.resetTypes.on, 'power on');
        return { changed: true, resetTypes: [type], powerState: await this.#resetAndWait(ctx, sys.body, type, 'On', timeout) };
      }
      const allowed = await this.#allowedResetTypes(sys.body);
      const restart = pick(allowed, ctx.profile.resetTypes.reboot);
      if (restart) {
        return { changed: true, resetTypes: [restart], powerState: await this.#resetAndWait(ctx, sys.body, restart, 'On', timeout) };
      }
      const off = await this.#pickReset(sys.body, ctx.profile.resetTypes.forceOff, 'power off');
      await this.#resetAndWait(ctx, sys.body, off, 'Off', timeout);
      const on = await this.#pickReset(sys.body, ctx.profile.resetTypes.on, 'power on');
      return { changed: true, resetTypes: [off, on], powerState: await this.#resetAndWait(ctx, (await this.#get(ctx.systemPath)).body, on, 'On', timeout) };
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Virtual media

  /** The CD/DVD slot the client would use, with its current state. */
  async virtualMedia(): Promise<VirtualMediaSlot> {
    return this.#op('virtual media status', async () => (await this.#cdSlot()).slot);
  }

  /** Inserts an image into the virtual CD/DVD, read back to verify; the same image already inserted is a no-op. */
  async insertMedia(image: string, opts: { writeProtected?: boolean } = {}): Promise<WriteResult> {
    return this.#op('insert virtual media', async () => {
      if (!/^(https?|nfs|cifs|smb|ftp|sftp|tftp|scp):\/\/\S+$/i.test(image)) {
        throw new HangarError('validation_failed', 'the image must be a URL the BMC can fetch (http, https, nfs, cifs…)', { image: 'not a URL' });
      }
      const ctx = await this.#context();
      let { slot, res } = await this.#cdSlot();
      if (slot.inserted && sameImage(slot.image, image)) return { changed: false, writes: 0 };
      let writes = 0;
      if (slot.inserted) {
        this.#log.info({ slot: slot.path, image: slot.image ? safeUrl(slot.image) : null }, 'ejecting the image currently inserted before inserting the new one');
        writes += (await this.#ejectSlot(ctx, slot, res)).writes;
        ({ slot, res } = await this.#cdSlot());
      }
      if (!slot.insertAction && !ctx.profile.virtualMediaPatchFallback) {
        throw new HangarError('provider_rejected', `virtual media slot ${slot.path} has no InsertMedia action`, { slot: slot.path });
      }
      const wp = opts.writeProtected ?? true;
      const result = await this.#writeVerified({
        what: `virtual media insert of ${safeUrl(image)} into ${slot.path}`,
        write: async () => {
          if (slot.insertAction) await this.#insertAction(ctx, res, image, wp);
          else await this.#patch(ctx, slot.path, { Image: image, Inserted: true, WriteProtected: wp });
        },
        read: async () => slotOf(ctx.profile, await this.#get(slot.path), slot.location),
        matches: (s) => s.inserted && sameImage(s.image, image),
        describe: (s) => `Inserted=${s.inserted}, Image=${s.image ? safeUrl(s.image) : 'none'}`,
        fields: (s) => ({ Inserted: String(s.inserted), Image: s.image ? safeUrl(s.image) : '' }),
      });
      this.#log.info({ slot: slot.path, image: safeUrl(image), writes: result.writes }, 'virtual media inserted');
      return { changed: true, writes: writes + result.writes };
    });
  }

  /** Ejects the virtual CD/DVD, read back to verify; nothing inserted is a no-op. */
  async ejectMedia(): Promise<WriteResult> {
    return this.#op('eject virtual media', async () => {
      const ctx = await this.#context();
      const { slot, res } = await this.#cdSlot();
      if (!slot.inserted) return { changed: false, writes: 0 };
      return this.#ejectSlot(ctx, slot, res);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Boot override

  async bootOverride(): Promise<BootOverrideState> {
    return this.#op('read boot override', async () => {
      const ctx = await this.#context();
      return bootStateOf((await this.#get(ctx.systemPath)).body);
    });
  }

  /**
   * Sets the boot source override (default Enabled=Once), PATCHing with If-Match when the BMC gives
   * ETags, then reads it back; a write that did not stick is re-applied (3 writes in all) before
   * failing with bmc_write_not_persisted naming what the BMC reports.
   */
  async setBootOverride(req: BootOverrideRequest): Promise<WriteResult> {
    return this.#op('set boot override', async () => {
      const ctx = await this.#context();
      const sys = await this.#get(ctx.systemPath);
      const state = bootStateOf(sys.body);
      const enabled = req.enabled ?? 'Once';
      const boot = obj(sys.body.Boot);
      if (state.allowableTargets && !state.allowableTargets.includes(req.target) && req.target !== 'None') {
        throw new HangarError('provider_rejected', `boot target ${req.target} is not allowed by this BMC (allowable: ${state.allowableTargets.join(', ')})`, { target: req.target });
      }
      const enabledAllowed = strings(boot['BootSourceOverrideEnabled@Redfish.AllowableValues']);
      if (enabledAllowed && !enabledAllowed.includes(enabled)) {
        throw new HangarError('provider_rejected', `BootSourceOverrideEnabled=${enabled} is not allowed by this BMC (allowable: ${enabledAllowed.join(', ')})`, { enabled });
      }
      if (req.mode && state.allowableModes && !state.allowableModes.includes(req.mode)) {
        throw new HangarError('provider_rejected', `boot mode ${req.mode} is not allowed by this BMC (allowable: ${state.allowableModes.join(', ')})`, { mode: req.mode });
      }
      const want: Json = { BootSourceOverrideEnabled: enabled, BootSourceOverrideTarget: req.target };
      if (req.mode) want.BootSourceOverrideMode = req.mode;
      if (req.uefiTargetPath) want.UefiTargetBootSourceOverride = req.uefiTargetPath;
      if (req.httpBootUri) want.HttpBootUri = req.httpBootUri;
      const checkEnabled = ctx.profile.bootOverride.enabledReadBack === 'reliable';
      const matches = (b: BootOverrideState) =>
        (!checkEnabled || b.enabled === enabled)
        && b.target === req.target
        && (!req.mode || b.mode === req.mode)
        && (!req.uefiTargetPath || b.uefiTarget === req.uefiTargetPath);
      if (matches(state)) return { changed: false, writes: 0 };
      const result = await this.#writeVerified({
        what: 'boot override',
        write: async () => { await this.#patch(ctx, ctx.systemPath, { Boot: want }); },
        read: async () => bootStateOf((await this.#get(ctx.systemPath)).body),
        matches,
        describe: (b) => `BootSourceOverrideEnabled=${b.enabled ?? 'unset'}, BootSourceOverrideTarget=${b.target ?? 'unset'}, BootSourceOverrideMode=${b.mode ?? 'unset'}`
          + `; wanted ${Object.entries(want).map(([k, v]) => `${k}=${String(v)}`).join(', ')}`,
        fields: (b) => ({ BootSourceOverrideEnabled: b.enabled ?? '', BootSourceOverrideTarget: b.target ?? '', BootSourceOverrideMode: b.mode ?? '' }),
      });
      this.#log.info({ ...want, writes: result.writes }, 'boot override set and verified');
      return result;
    });
  }

  /** Clears the boot override (Enabled=Disabled; the profile may also reset the target to None), verified. */
  async clearBootOverride(): Promise<WriteResult> {
    return this.#op('clear boot override', async () => {
      const ctx = await this.#context();
      const sys = await this.#get(ctx.systemPath);
      const reliable = ctx.profile.bootOverride.enabledReadBack === 'reliable';
      const cleared = (b: BootOverrideState) => (reliable && b.enabled === 'Disabled') || b.target === 'None' || (!reliable && b.target === null);
      let total = 0;
      if (ctx.profile.virtualCdBoot.kind === 'dell-scp') total += (await this.#clearDellVirtualCdBoot(ctx)).writes;
      if (cleared(bootStateOf(sys.body))) return { changed: total > 0, writes: total };
      const want: Json = { BootSourceOverrideEnabled: 'Disabled' };
      if (ctx.profile.bootOverride.clearWithTargetNone) want.BootSourceOverrideTarget = 'None';
      const result = await this.#writeVerified({
        what: 'boot override clear',
        write: async () => { await this.#patch(ctx, ctx.systemPath, { Boot: want }); },
        read: async () => bootStateOf((await this.#get(ctx.systemPath)).body),
        matches: cleared,
        describe: (b) => `BootSourceOverrideEnabled=${b.enabled ?? 'unset'}, BootSourceOverrideTarget=${b.target ?? 'unset'}; wanted it disabled`,
        fields: (b) => ({ BootSourceOverrideEnabled: b.enabled ?? '', BootSourceOverrideTarget: b.target ?? '' }),
      });
      return { changed: true, writes: total + result.writes };
    });
  }

  /**
   * Makes the next boot (or every boot) come from the virtual CD, the way this BMC needs it: the
   * standard `Cd` override, or (Dell iDRAC) the OEM `ServerBoot.1#FirstBootDevice=VCD-DVD` attributes.
   */
  async bootFromVirtualMedia(opts: { enabled?: 'Once' | 'Continuous'; mode?: 'UEFI' | 'Legacy' } = {}): Promise<WriteResult> {
    const ctx = await this.#op('boot from virtual media', () => this.#context());
    const how = ctx.profile.virtualCdBoot;
    if (how.kind === 'standard') return this.setBootOverride({ target: how.target, enabled: opts.enabled ?? 'Once', ...(opts.mode ? { mode: opts.mode } : {}) });
    return this.#op('boot from virtual media', async () => {
      const once = (opts.enabled ?? 'Once') === 'Once';
      const want = { 'ServerBoot.1.BootOnce': once ? 'Enabled' : 'Disabled', 'ServerBoot.1.FirstBootDevice': how.device };
      if (opts.mode) this.#log.warn({ mode: opts.mode }, 'Dell virtual CD boot keeps the BIOS boot mode; the requested mode is not applied');
      return this.#dellAttributes(ctx, want);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Internals: discovery

  async #context(): Promise<Context> {
    if (!this.#ctx) {
      this.#ctx = this.#discover();
      this.#ctx.catch(() => { this.#ctx = undefined; });
    }
    return this.#ctx;
  }

  async #discover(): Promise<Context> {
    const root = await this.#serviceRoot();
    let systemPath = this.#configuredSystemPath;
    if (!systemPath) {
      const collection = link(root.Systems) ?? '/redfish/v1/Systems';
      const members = ((await this.#get(collection)).body.Members as unknown[] | undefined ?? []).map(link).filter((m): m is string => !!m);
      if (members.length !== 1) {
        throw new HangarError('validation_failed',
          members.length === 0
            ? `BMC ${this.#url.host} lists no systems in ${collection}`
            : `BMC ${this.#url.host} manages ${members.length} systems (${members.join(', ')}); give the system path explicitly`,
          { systemPath: members.length === 0 ? 'no systems' : 'ambiguous' });
      }
      systemPath = members[0]!.replace(/\/$/, '');
    }
    let profile = this.#forcedProfile;
    if (!profile) {
      const sys = await this.#get(systemPath);
      profile = selectQuirkProfile({
        vendor: str(root.Vendor),
        oemKeys: Object.keys(obj(root.Oem)),
        manufacturer: str(sys.body.Manufacturer),
        serviceName: [str(root.Name), str(root.Id), str(root.Product)].filter((s): s is string => !!s),
      });
    }
    this.#log.debug({ systemPath, quirks: profile.name }, 'Redfish system discovered');
    return { root, systemPath, profile };
  }

  /** The service root: readable without credentials per the spec; some BMCs want them anyway. */
  async #serviceRoot(): Promise<Json> {
    if (!this.#root) {
      this.#root = (async () => {
        let res = await this.#exchange('GET', '/redfish/v1/', { auth: 'none', idempotent: true, allow: [401, 403] });
        if (res.status === 401 || res.status === 403) {
          res = await this.#exchange('GET', '/redfish/v1/', { auth: 'basic', idempotent: true });
        }
        return obj(res.body);
      })();
      this.#root.catch(() => { this.#root = undefined; });
    }
    return this.#root;
  }

  async #sessionsPath(): Promise<string | null> {
    const root = await this.#serviceRoot();
    const sessions = link(obj(root.Links).Sessions);
    if (sessions) return sessions;
    const service = link(root.SessionService);
    return service ? `${service.replace(/\/$/, '')}/Sessions` : null;
  }

  async #managers(system: Json): Promise<Resource[]> {
    let paths = (Array.isArray(obj(system.Links).ManagedBy) ? (obj(system.Links).ManagedBy as unknown[]) : []).map(link).filter((p): p is string => !!p);
    if (paths.length === 0) {
      const root = await this.#serviceRoot();
      const collection = link(root.Managers);
      if (collection) {
        paths = ((await this.#get(collection)).body.Members as unknown[] | undefined ?? []).map(link).filter((p): p is string => !!p);
      }
    }
    const out: Resource[] = [];
    for (const p of paths) out.push(await this.#get(p));
    return out;
  }

  async #virtualMedia(ctx: Context, system: Json, managers?: Resource[]): Promise<VirtualMediaSlot[]> {
    const collections: Array<{ path: string; location: VirtualMediaLocation }> = [];
    for (const location of ctx.profile.virtualMediaLocations) {
      if (location === 'Systems') {
        const p = link(system.VirtualMedia);
        if (p) collections.push({ path: p, location });
      } else {
        for (const m of managers ?? await this.#managers(system)) {
          const p = link(m.body.VirtualMedia);
          if (p) collections.push({ path: p, location });
        }
      }
    }
    const seen = new Set<string>();
    const slots: VirtualMediaSlot[] = [];
    for (const c of collections) {
      const key = c.path.replace(/\/$/, '');
      if (seen.has(key)) continue;
      seen.add(key);
      const res = await this.#exchange('GET', c.path, { idempotent: true, allow: [404] });
      if (res.status === 404) continue;
      for (const member of ((obj(res.body).Members as unknown[] | undefined) ?? []).map(link).filter((p): p is string => !!p)) {
        slots.push(slotOf(ctx.profile, await this.#get(member), c.location));
      }
    }
    return slots;
  }

  async #cdSlot(): Promise<{ slot: VirtualMediaSlot; res: Resource }> {
    const ctx = await this.#context();
    const sys = await this.#get(ctx.systemPath);
    const slots = await this.#virtualMedia(ctx, sys.body);
    const slot = slots.find((s) => s.cdCapable);
    if (!slot) {
      throw new HangarError('provider_rejected',
        `BMC ${this.#url.host} offers no CD/DVD virtual media for ${ctx.systemPath} (looked under ${ctx.profile.virtualMediaLocations.join(' and ')}; profile ${ctx.profile.name})`,
        { systemPath: ctx.systemPath });
    }
    return { slot, res: await this.#get(slot.path) };
  }

  async #allowedResetTypes(system: Json): Promise<string[] | null> {
    const action = obj(obj(system.Actions)['#ComputerSystem.Reset']);
    const listed = strings(action['ResetType@Redfish.AllowableValues']);
    if (listed) return listed;
    const info = str(action['@Redfish.ActionInfo']);
    if (info) {
      const res = await this.#exchange('GET', info, { idempotent: true, allow: [404] });
      const params = Array.isArray(obj(res.body).Parameters) ? (obj(res.body).Parameters as unknown[]) : [];
      const resetParam = params.map(obj).find((p) => p.Name === 'ResetType');
      const values = strings(resetParam?.AllowableValues);
      if (values) return values;
    }
    return null;
  }

  async #pickReset(system: Json, prefs: string[], what: string): Promise<string> {
    const allowed = await this.#allowedResetTypes(system);
    const type = pick(allowed, prefs);
    if (!type) {
      throw new HangarError('provider_rejected', `BMC offers no ResetType to ${what} (wanted one of ${prefs.join(', ')}; allowable: ${(allowed ?? []).join(', ')})`);
    }
    return type;
  }

  // ---------------------------------------------------------------------------------------------
  // Internals: writes

  async #resetAndWait(ctx: Context, system: Json, resetType: string, expect: 'On' | 'Off' | undefined, timeoutMs: number, mustReach = true): Promise<RedfishPowerState> {
    const action = obj(obj(system.Actions)['#ComputerSystem.Reset']);
    const target = str(action.target) ?? `${ctx.systemPath}/Actions/ComputerSystem.Reset`;
    this.#log.info({ resetType }, 'posting ComputerSystem.Reset');
    try {
      const res = await this.#exchange('POST', target, { body: { ResetType: resetType } });
      await this.#followTask(res, `reset ${resetType}`);
    } catch (err) {
      // The action may have been applied before the connection broke: the read-back decides.
      if (!(err instanceof HangarError) || !err.retryable || !expect) throw err;
      this.#log.warn({ err: { message: this.#auth.scrub(err.message) } }, 'reset request failed transiently; checking whether it took effect');
      const state = await this.#waitPower(ctx, expect, Math.min(timeoutMs, 30_000), false);
      if (state !== expect) throw err;
      return state;
    }
    if (!expect) return powerStateOf((await this.#get(ctx.systemPath)).body);
    return this.#waitPower(ctx, expect, timeoutMs, mustReach);
  }

  async #waitPower(ctx: Context, want: 'On' | 'Off', timeoutMs: number, mustReach: boolean): Promise<RedfishPowerState> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const state = powerStateOf((await this.#get(ctx.systemPath)).body);
      if (state === want) return state;
      if (Date.now() >= deadline) {
        if (!mustReach) return state;
        throw new HangarError('bmc_write_not_persisted',
          `the system did not reach PowerState ${want} within ${Math.round(timeoutMs / 1000)} s (BMC reports PowerState=${state})`,
          { PowerState: state });
      }
      await this.#wait(Math.min(this.#pollMs, Math.max(0, deadline - Date.now())));
    }
  }

  async #ejectSlot(ctx: Context, slot: VirtualMediaSlot, res: Resource): Promise<WriteResult> {
    if (!slot.ejectAction && !ctx.profile.virtualMediaPatchFallback) {
      throw new HangarError('provider_rejected', `virtual media slot ${slot.path} has no EjectMedia action`, { slot: slot.path });
    }
    const result = await this.#writeVerified({
      what: `virtual media eject from ${slot.path}`,
      write: async () => {
        if (slot.ejectAction) {
          const target = str(obj(obj(res.body.Actions)['#VirtualMedia.EjectMedia']).target)!;
          await this.#followTask(await this.#exchange('POST', target, { body: {} }), 'eject media');
        } else {
          await this.#patch(ctx, slot.path, { Image: null, Inserted: false });
        }
      },
      read: async () => slotOf(ctx.profile, await this.#get(slot.path), slot.location),
      matches: (s) => !s.inserted,
      describe: (s) => `Inserted=${s.inserted}, Image=${s.image ? safeUrl(s.image) : 'none'}`,
      fields: (s) => ({ Inserted: String(s.inserted), Image: s.image ? safeUrl(s.image) : '' }),
    });
    this.#log.info({ slot: slot.path, writes: result.writes }, 'virtual media ejected');
    return result;
  }

  /**
   * InsertMedia with the body the profile asks for. When the BMC refuses it, the body adapts to what
   * the refusal names (drop the optional Inserted/WriteProtected/TransferMethod, add
   * TransferProtocolType), at most once per adjustment; what worked is remembered for this client.
   */
  async #insertAction(ctx: Context, res: Resource, image: string, writeProtected: boolean): Promise<void> {
    const target = str(obj(obj(res.body.Actions)['#VirtualMedia.InsertMedia']).target)!;
    const cfg = ctx.profile.insertMedia;
    const protocol = transferProtocolFor(image);
    const shape = { ...(this.#insertShape ?? { optional: cfg.sendInsertedAndWriteProtected, protocol: cfg.transferProtocolType === 'always' }) };
    const tried = new Set<string>();
    for (;;) {
      const body: Json = { Image: image };
      if (shape.optional) Object.assign(body, { Inserted: true, WriteProtected: writeProtected });
      if (shape.optional && cfg.transferMethod) body.TransferMethod = cfg.transferMethod;
      if (shape.protocol && protocol) body.TransferProtocolType = protocol;
      try {
        const out = await this.#exchange('POST', target, { body });
        await this.#followTask(out, 'insert media');
        this.#insertShape = shape;
        return;
      } catch (err) {
        if (!(err instanceof RedfishHttpError) || err.httpStatus < 400 || err.httpStatus >= 500) throw err;
        const text = [...err.messageIds, ...err.messages].join(' ');
        const refused = /(not ?supported|unknown|unsupported|invalid|not allowed|ActionParameterNotSupported|PropertyUnknown)/i;
        tried.add(`${shape.optional}/${shape.protocol}`);
        if (!shape.protocol && protocol && /TransferProtocolType/i.test(text) && /(missing|required|mandatory)/i.test(text)) shape.protocol = true;
        else if (shape.protocol && /TransferProtocolType/i.test(text) && refused.test(text)) shape.protocol = false;
        else if (shape.optional && /(Inserted|WriteProtected|TransferMethod)/i.test(text) && refused.test(text)) shape.optional = false;
        if (tried.has(`${shape.optional}/${shape.protocol}`)) throw err;
        this.#log.info({ messages: err.messages.map((m) => this.#auth.scrub(m)), sendOptional: shape.optional, sendProtocol: shape.protocol },
          'BMC refused the InsertMedia parameters; retrying with the parameters it asks for');
      }
    }
  }

  /** PATCH with If-Match from the last GET of the resource; 412/428 re-read the resource and retry. */
  async #patch(ctx: Context, path: string, body: Json): Promise<void> {
    let etag = this.#etags.get(path);
    let strippedWeak = false;
    for (let attempt = 1; attempt <= 4; attempt++) {
      const headers: Record<string, string> = {};
      if (etag && ctx.profile.ifMatchOnPatch) headers['If-Match'] = etag;
      const res = await this.#exchange('PATCH', path, { body, headers, allow: [412, 428] });
      if (res.status !== 412 && res.status !== 428) {
        await this.#followTask(res, `PATCH ${path}`);
        return;
      }
      const previous = etag;
      etag = (await this.#get(path)).etag;
      this.#log.info({ status: res.status, path, hadEtag: !!previous, hasEtag: !!etag }, 'BMC refused the PATCH precondition; re-read the resource for a fresh ETag');
      if (etag && etag === previous && /^W\//.test(etag) && !strippedWeak) {
        // Some BMCs refuse weak validators in If-Match: try the strong form once.
        etag = etag.slice(2);
        strippedWeak = true;
      }
      if (!etag) {
        throw new HangarError('provider_rejected', `BMC requires If-Match on PATCH ${path} (HTTP ${res.status}) but publishes no ETag for it`, { path });
      }
    }
    throw new HangarError('provider_rejected', `BMC kept refusing the If-Match precondition on PATCH ${path}`, { path });
  }

  /**
   * Write, read back, compare; a write that did not stick is re-applied (bounded) before giving up
   * with bmc_write_not_persisted naming what the BMC reported. Transient write failures are not
   * thrown straight away: the read-back decides whether the write happened.
   */
  async #writeVerified<T>(w: {
    what: string;
    write: () => Promise<void>;
    read: () => Promise<T>;
    matches: (v: T) => boolean;
    describe: (v: T) => string;
    fields: (v: T) => Record<string, string>;
  }): Promise<WriteResult> {
    let last: T | undefined;
    let lastError: HangarError | undefined;
    let anyWriteAccepted = false;
    for (let attempt = 1; attempt <= WRITE_ATTEMPTS; attempt++) {
      try {
        await w.write();
        anyWriteAccepted = true;
        lastError = undefined;
      } catch (err) {
        if (!(err instanceof HangarError) || !err.retryable) throw err;
        lastError = err;
        this.#log.warn({ attempt, err: { code: err.code, message: this.#auth.scrub(err.message) } }, `${w.what}: write failed transiently; reading back`);
      }
      // Read back; one settle delay and a second read before deciding the write did not stick.
      for (let read = 1; read <= 2; read++) {
        last = await w.read();
        if (w.matches(last)) return { changed: true, writes: attempt };
        if (read === 1) await this.#wait(Math.min(this.#retry.initialMs, this.#pollMs));
      }
      this.#log.warn({ attempt, reported: w.describe(last!) }, `${w.what}: BMC accepted the write but it did not persist; re-applying`);
      if (attempt < WRITE_ATTEMPTS) await this.#wait(this.#backoffMs(attempt));
    }
    if (lastError && !anyWriteAccepted) throw lastError;
    throw new HangarError('bmc_write_not_persisted',
      `${w.what} did not persist after ${WRITE_ATTEMPTS} writes: BMC reports ${w.describe(last!)}`,
      w.fields(last!));
  }

  async #dellManager(ctx: Context): Promise<Resource> {
    const sys = await this.#get(ctx.systemPath);
    const [manager] = await this.#managers(sys.body);
    if (!manager) throw new HangarError('provider_rejected', `BMC ${this.#url.host} lists no manager for ${ctx.systemPath}`);
    return manager;
  }

  async #dellReadAttributes(manager: Resource): Promise<Record<string, unknown> | null> {
    const res = await this.#exchange('GET', `${manager.path.replace(/\/$/, '')}/Attributes`, { idempotent: true, allow: [404] });
    return res.status === 404 ? null : obj(obj(res.body).Attributes);
  }

  /** Dell iDRAC attributes through the OEM ImportSystemConfiguration (SCP) action, verified through Managers/<id>/Attributes. */
  async #dellAttributes(ctx: Context, want: Record<string, string>): Promise<WriteResult> {
    const how = ctx.profile.virtualCdBoot;
    if (how.kind !== 'dell-scp') throw new HangarError('internal', 'not a Dell profile');
    const manager = await this.#dellManager(ctx);
    const current = await this.#dellReadAttributes(manager);
    const matches = (attrs: Record<string, unknown> | null) => !!attrs && Object.entries(want).every(([k, v]) => attrs[k] === v);
    if (matches(current)) return { changed: false, writes: 0 };
    const oem = obj(obj(manager.body.Actions).Oem);
    const key = Object.keys(oem).find((k) => k.endsWith(how.actionSuffix));
    const target = (key && str(obj(oem[key]).target)) ?? `${manager.path.replace(/\/$/, '')}${how.fallbackActionPath}`;
    const fqdd = str(manager.body.Id) ?? 'iDRAC.Embedded.1';
    const xmlAttrs = Object.entries(want)
      .map(([k, v]) => `<Attribute Name="${xmlEscape(k.replace(/\.(?=[^.]*$)/, '#'))}">${xmlEscape(v)}</Attribute>`).join('');
    const buffer = `<SystemConfiguration><Component FQDD="${xmlEscape(fqdd)}">${xmlAttrs}</Component></SystemConfiguration>`;
    return this.#writeVerified({
      what: `iDRAC attributes ${Object.entries(want).map(([k, v]) => `${k}=${v}`).join(', ')}`,
      write: async () => {
        const res = await this.#exchange('POST', target, { body: { ShareParameters: { Target: 'IDRAC' }, ImportBuffer: buffer } });
        await this.#followTask(res, 'ImportSystemConfiguration');
      },
      read: async () => this.#dellReadAttributes(manager),
      matches: (attrs) => (attrs === null ? true : matches(attrs)),
      describe: (attrs) => (attrs ? Object.keys(want).map((k) => `${k}=${String(attrs[k] ?? 'unset')}`).join(', ') : 'no attributes'),
      fields: (attrs) => Object.fromEntries(Object.keys(want).map((k) => [k, String(attrs?.[k] ?? '')])),
    });
  }

  async #clearDellVirtualCdBoot(ctx: Context): Promise<WriteResult> {
    const how = ctx.profile.virtualCdBoot;
    if (how.kind !== 'dell-scp') return { changed: false, writes: 0 };
    const manager = await this.#dellManager(ctx);
    const attrs = await this.#dellReadAttributes(manager);
    if (!attrs || attrs['ServerBoot.1.FirstBootDevice'] !== how.device) return { changed: false, writes: 0 };
    return this.#dellAttributes(ctx, { 'ServerBoot.1.BootOnce': 'Disabled', 'ServerBoot.1.FirstBootDevice': 'Normal' });
  }

  /** Follows a 202 + Location task monitor until the task completes; anything else returns at once. */
  async #followTask(res: RedfishResponse, what: string): Promise<RedfishResponse> {
    const location = pathOf(headerOf(res, 'location'));
    if (res.status !== 202 || !location) return res;
    const deadline = Date.now() + this.#taskTimeoutMs;
    this.#log.debug({ monitor: location, what }, 'following task monitor');
    let delay = retryAfterMs(res.headers) ?? this.#pollMs;
    for (;;) {
      if (Date.now() > deadline) {
        throw new HangarError('provider_task_failed', `${what}: task ${location} did not finish within ${Math.round(this.#taskTimeoutMs / 1000)} s`, { task: location });
      }
      await this.#wait(delay);
      const poll = await this.#exchange('GET', location, { idempotent: true, allow: [404] });
      const body = obj(poll.body);
      const state = str(body.TaskState);
      if (poll.status === 404) {
        // Monitors may vanish once the task has finished and its result was consumed.
        this.#log.debug({ monitor: location }, 'task monitor gone; treating the task as finished');
        return poll;
      }
      if (state && FAILED_TASK_STATES.has(state)) {
        const messages = extendedMessages(body).map((m) => this.#auth.scrub(m));
        throw new HangarError('provider_task_failed',
          `${what}: task ${location} ended ${state}${messages.length ? `: ${messages.join('; ')}` : ''}`, { task: location, TaskState: state });
      }
      if (poll.status === 202 || (state && RUNNING_TASK_STATES.has(state))) {
        this.#onWait?.();
        delay = retryAfterMs(poll.headers) ?? this.#pollMs;
        continue;
      }
      if (state === 'Completed' && str(body.TaskStatus) === 'Critical') {
        const messages = extendedMessages(body).map((m) => this.#auth.scrub(m));
        throw new HangarError('provider_task_failed', `${what}: task ${location} completed with status Critical${messages.length ? `: ${messages.join('; ')}` : ''}`, { task: location });
      }
      return poll;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Internals: HTTP

  async #get(path: string): Promise<Resource> {
    const res = await this.#exchange('GET', path, { idempotent: true });
    const body = obj(res.body);
    const etag = headerOf(res, 'etag') ?? str(body['@odata.etag']) ?? undefined;
    if (etag) this.#etags.set(path, etag); else this.#etags.delete(path);
    return { path, body, etag };
  }

  #authContext(): AuthContext {
    return {
      endpoint: this.#url,
      tls: this.#tls,
      timeoutMs: this.#timeoutMs,
      limiter: this.#limiter,
      logger: this.#log,
      wait: (ms) => this.#wait(ms),
      backoffMs: (n) => this.#backoffMs(n),
      sessionsPath: () => this.#sessionsPath(),
    };
  }

  /**
   * One logical request: authenticated (session, re-created once on 401, or basic), bounded by the
   * BMC's limiter, retried with backoff only when `idempotent`; non-2xx answers become HangarErrors.
   */
  async #exchange(method: string, path: string, opts: RequestOptions = {}): Promise<RedfishResponse> {
    let reauthenticated = false;
    let redirects = 0;
    let current = path;
    for (let attempt = 1; ; attempt++) {
      let auth: { headers: Record<string, string>; token?: string } = { headers: {} };
      if (opts.auth === 'basic') {
        auth = { headers: this.#auth.basicHeaders() };
      } else if (opts.auth !== 'none') {
        if (!this.#retained) { this.#auth.retain(); this.#retained = true; }
        auth = await this.#auth.headers(this.#authContext());
      }
      let res: RedfishResponse;
      try {
        res = await this.#limiter.run(() => send({
          endpoint: this.#url, tls: this.#tls, method, path: current, timeoutMs: this.#timeoutMs,
          headers: { ...auth.headers, ...(opts.headers ?? {}) }, ...(opts.body !== undefined ? { body: opts.body } : {}),
        }));
      } catch (err) {
        const e = err instanceof HangarError ? err : new HangarError('bmc_unreachable', String(err));
        if (e.retryable && opts.idempotent && attempt < this.#retry.attempts) {
          this.#log.debug({ method, path: current, attempt, code: e.code }, 'transient failure; retrying');
          await this.#wait(this.#backoffMs(attempt));
          continue;
        }
        throw e;
      }
      if (res.status === 401 && auth.token && !reauthenticated) {
        this.#log.info('Redfish session rejected (expired?); creating a new one');
        this.#auth.invalidate(auth.token);
        reauthenticated = true;
        attempt -= 1;
        continue;
      }
      if ([301, 302, 307, 308].includes(res.status) && method === 'GET' && redirects < 3) {
        const next = pathOf(headerOf(res, 'location'));
        if (next) { current = next; redirects += 1; attempt -= 1; continue; }
      }
      if ((res.status >= 200 && res.status < 300) || opts.allow?.includes(res.status)) return res;
      const err = this.#httpError(method, current, res);
      if (err.retryable && opts.idempotent && attempt < this.#retry.attempts) {
        const delay = retryAfterMs(res.headers) ?? this.#backoffMs(attempt);
        this.#log.debug({ method, path: current, status: res.status, attempt, delayMs: delay }, 'BMC busy or failing; retrying');
        await this.#wait(delay);
        continue;
      }
      throw err;
    }
  }

  #httpError(method: string, path: string, res: RedfishResponse): RedfishHttpError {
    const messages = extendedMessages(res.body).map((m) => this.#auth.scrub(m));
    const ids = messageIds(res.body);
    const said = messages.length ? `: ${messages.join('; ')}` : '';
    const fields = { bmc: this.endpoint, status: String(res.status) };
    const s = res.status;
    if (s === 401 || s === 403) {
      return new RedfishHttpError('provider_auth_failed',
        `BMC ${this.#url.host} refused ${method} ${path} for user ${this.#auth.username} (HTTP ${s})${said}`, s, ids, messages, fields);
    }
    if (s === 408 || s === 502 || s === 503 || s === 504) {
      return new RedfishHttpError('bmc_unreachable', `BMC ${this.#url.host} unavailable for ${method} ${path} (HTTP ${s})${said}`, s, ids, messages, fields);
    }
    if (s === 429 || s >= 500) {
      return new RedfishHttpError('provider_error', `BMC ${this.#url.host} failed ${method} ${path} (HTTP ${s})${said}`, s, ids, messages, fields);
    }
    return new RedfishHttpError('provider_rejected', `BMC ${this.#url.host} rejected ${method} ${path} (HTTP ${s})${said}`, s, ids, messages, fields);
  }

  #backoffMs(attempt: number): number {
    return Math.min(this.#retry.maxMs, this.#retry.initialMs * 2 ** Math.max(0, attempt - 1));
  }

  /** Sleeps in slices, calling onWait before each so activities keep heartbeating. */
  async #wait(ms: number): Promise<void> {
    let left = Math.max(0, ms);
    do {
      this.#onWait?.();
      const slice = Math.min(left, MAX_WAIT_SLICE_MS);
      await this.#sleepImpl(slice);
      left -= slice;
    } while (left > 0);
  }

  /** Runs a public operation; errors leave with the password scrubbed and non-Hangar errors wrapped. */
  async #op<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof RedfishHttpError) {
        const scrubbed = new RedfishHttpError(err.code, this.#auth.scrub(err.message), err.httpStatus, err.messageIds, err.messages.map((m) => this.#auth.scrub(m)), err.fields);
        this.#log.warn({ op: what, code: err.code }, this.#auth.scrub(err.message));
        throw scrubbed;
      }
      if (err instanceof HangarError) {
        this.#log.warn({ op: what, code: err.code }, this.#auth.scrub(err.message));
        throw new HangarError(err.code, this.#auth.scrub(err.message), err.fields
          ? Object.fromEntries(Object.entries(err.fields).map(([k, v]) => [k, this.#auth.scrub(v)])) : undefined);
      }
      const message = this.#auth.scrub(err instanceof Error ? err.message : String(err));
      this.#log.error({ op: what }, message);
      throw new HangarError('provider_error', `${what} failed: ${message}`, { bmc: this.endpoint });
    }
  }
}

function headerOf(res: RedfishResponse, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function pick(allowed: string[] | null, prefs: string[]): string | undefined {
  const list = allowed ?? DEFAULT_RESET_TYPES;
  return prefs.find((p) => list.includes(p));
}

function powerStateOf(system: Json): RedfishPowerState {
  const s = str(system.PowerState);
  return s === 'On' || s === 'Off' || s === 'PoweringOn' || s === 'PoweringOff' || s === 'Paused' ? s : 'Unknown';
}

function bootStateOf(system: Json): BootOverrideState {
  const boot = obj(system.Boot);
  return {
    enabled: str(boot.BootSourceOverrideEnabled),
    target: str(boot.BootSourceOverrideTarget),
    mode: str(boot.BootSourceOverrideMode),
    uefiTarget: str(boot.UefiTargetBootSourceOverride),
    allowableTargets: strings(boot['BootSourceOverrideTarget@Redfish.AllowableValues']),
    allowableModes: strings(boot['BootSourceOverrideMode@Redfish.AllowableValues']),
  };
}

function slotOf(profile: QuirkProfile, res: Resource, location: VirtualMediaLocation): VirtualMediaSlot {
  const b = res.body;
  const mediaTypes = strings(b.MediaTypes) ?? [];
  const id = str(b.Id) ?? res.path.split('/').filter(Boolean).pop()!;
  const name = str(b.Name);
  const cdCapable = mediaTypes.length > 0
    ? mediaTypes.some((t) => /^(CD|DVD)$/i.test(t))
    : /cd|dvd|optical/i.test(`${id} ${name ?? ''}`);
  const actions = obj(b.Actions);
  const image = str(b.Image);
  const connectedVia = str(b.ConnectedVia);
  let inserted = typeof b.Inserted === 'boolean' ? b.Inserted : !!image;
  if (profile.notConnectedMeansEmpty && connectedVia === 'NotConnected') inserted = false;
  return {
    path: res.path,
    id,
    name,
    location,
    mediaTypes,
    cdCapable,
    insertAction: !!str(obj(actions['#VirtualMedia.InsertMedia']).target),
    ejectAction: !!str(obj(actions['#VirtualMedia.EjectMedia']).target),
    inserted,
    image,
    writeProtected: typeof b.WriteProtected === 'boolean' ? b.WriteProtected : null,
    connectedVia,
  };
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
