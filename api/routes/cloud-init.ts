// The NoCloud metadata service. Machines have no API token: the per-machine token in the seed
// URL (/cloud-init/<machine id>/<token>/) is the secret, so this router is mounted outside the
// bearer-token auth and treats every failure — unknown machine, malformed id, wrong token — as
// the same 404, without saying which part was wrong.
//
//   GET  /cloud-init/<id>/<token>/{meta-data,user-data,vendor-data,network-config}
//   GET  /cloud-init/<id>/<token>{meta-data,…}   (a seed URL written without its trailing '/':
//                                                 cloud-init simply appends the file name)
//   POST /cloud-init/<id>/<token>/phone-home     (cloud-init's phone_home module)
//   GET  /cloud-init/{meta-data,…}               (source-address mode only; see clientAddress)
import { createHash, timingSafeEqual } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express, { Router, type Request, type Response } from 'express';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Logger } from 'pino';
import {
  renderMetaData, renderNetworkConfig, renderUserData, renderVendorData,
  type SeedFileName,
} from '../../domain/cloud-init.ts';
import { containsAddress, formatAddress, parseAddress, parseCidr, type Cidr } from '../../domain/cidr.ts';
import { HangarError } from '../../domain/errors.ts';
import { phoneHomeSignal, provisionWorkflowId } from '../../workflows/contracts.ts';
import {
  cloudInitMachineFromRow, machineTokenById, phoneHomeUrlFor, recordFetches, recordPhoneHome, seedMachineByAddress, seedMachineById,
  type FetchCount, type SeedMachineRow, type SeedParts,
} from '../../db/repositories/metadata.ts';
import { writeCidataIso } from '../../providers/cloud-init/cidata-iso.ts';
import type { ApiDeps } from '../context.ts';

const DOCS: readonly SeedFileName[] = ['meta-data', 'user-data', 'vendor-data', 'network-config'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Tokens are 32 base64url characters today; anything far longer is not worth hashing. */
const MAX_TOKEN_LENGTH = 256;

/** One error for every way a lookup can fail, so a 404 reveals nothing. */
const notFound = () => new HangarError('not_found', 'not found');

function isDoc(value: string): value is SeedFileName {
  return (DOCS as readonly string[]).includes(value);
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
/** Compared against when the machine does not exist, so that case costs the same as a wrong token. */
const DUMMY_DIGEST = digest('hangar: no such machine');

/** Constant time in the token: both sides are hashed to 32 bytes first, so lengths never differ. */
function tokenMatches(expected: string | null, presented: string): boolean {
  const ok = timingSafeEqual(expected === null ? DUMMY_DIGEST : digest(expected), digest(presented));
  return ok && expected !== null;
}

/**
 * The access log (api/middleware/observability.ts) prints req.path when the response finishes.
 * Express never restores req.url for a handler that answers, so rewriting it here keeps the
 * token out of every log line while the route pattern (the metrics label) stays intact.
 */
function hideToken(req: Request): void {
  const [path = '', ...query] = req.url.split('?');
  const segments = path.split('/');
  // ['', id, token(+doc), ...]: keep a document name glued to the token (slash-less base).
  const secret = segments[2];
  if (secret !== undefined && secret !== '') {
    const doc = DOCS.find((d) => secret.endsWith(d) && secret.length > d.length);
    segments[2] = `[redacted]${doc ?? ''}`;
  }
  req.url = segments.join('/') + (query.length ? `?${query.join('?')}` : '');
}

// ---------------------------------------------------------------------------------------------
// Client address (source-address mode, and `from` in the fetch record)

export interface AddressPolicy {
  trusted: Cidr[];
}

/** Parses config.metadata.trustedProxies; a bare address means that one host. Bad entries stop start-up. */
export function parseTrustedProxies(text: string): Cidr[] {
  return text.split(',').map((s) => s.trim()).filter(Boolean).map((entry) => {
    try {
      if (entry.includes('/')) return parseCidr(entry, { strict: false });
      const a = parseAddress(normaliseAddress(entry));
      return { version: a.version, network: a.value, prefix: a.version === 4 ? 32 : 128 };
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new HangarError('validation_failed', `HANGAR_METADATA_TRUSTED_PROXIES: ${JSON.stringify(entry)} is not a CIDR: ${why}`, { 'metadata.trustedProxies': 'must be a comma-separated list of CIDRs' });
    }
  });
}

/** ::ffff:10.0.0.5 → 10.0.0.5 (dual-stack sockets), and no IPv6 zone id. */
export function normaliseAddress(text: string): string {
  let a = text.trim().toLowerCase();
  const zone = a.indexOf('%');
  if (zone >= 0) a = a.slice(0, zone);
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(a);
  return mapped ? mapped[1]! : a;
}

/** Canonical text of an address, or null when it is not one. */
function canonical(text: string): string | null {
  try {
    const a = parseAddress(normaliseAddress(text));
    return formatAddress(a.version, a.value);
  } catch {
    return null;
  }
}

function isTrusted(policy: AddressPolicy, address: string): boolean {
  const a = parseAddress(address);
  return policy.trusted.some((c) => containsAddress(c, a));
}

/**
 * Who is asking. The socket's peer address, unless that peer is a trusted proxy: then
 * X-Forwarded-For is read from the RIGHT, skipping trusted proxies, and the first address that
 * is not one is the client. Each proxy appends the address it received the request from, so
 * entries right of the first untrusted hop were written by proxies we trust, while anything to
 * its left came from the client and may be forged (taking the left-most entry would let a
 * machine claim another's address). If every entry is a trusted proxy, the left-most one is the
 * client. A malformed entry on the path makes the client unknown (null): guessing past it
 * could attribute the request to someone else. X-Forwarded-For from an untrusted peer is ignored.
 */
export function clientAddress(policy: AddressPolicy, peer: string | undefined, forwardedFor: string | string[] | undefined): string | null {
  const direct = peer ? canonical(peer) : null;
  if (direct === null || !isTrusted(policy, direct)) return direct;
  const header = Array.isArray(forwardedFor) ? forwardedFor.join(',') : (forwardedFor ?? '');
  const hops = header.split(',').map((s) => s.trim()).filter(Boolean);
  if (!hops.length) return direct;
  let address: string | null = direct;
  for (let i = hops.length - 1; i >= 0; i--) {
    address = canonical(hops[i]!);
    if (address === null) return null;
    if (!isTrusted(policy, address)) return address;
  }
  return address;
}

// ---------------------------------------------------------------------------------------------
// Fetch record

type FetchWriter = (counts: FetchCount[]) => Promise<void>;

interface FetchState {
  doc: SeedFileName;
  machineId: string;
  /** When the key was last written or last fetched, for forgetting idle keys. */
  touchedAt: number;
  /** Fetches seen since the last write. */
  pending: number;
  lastAt: string;
  from: string;
}

/**
 * Records fetches in machine.metadata_fetches. The metadata endpoint must sustain ≥ 5,000
 * req/s, and a machine (or a cloud-init retry loop) re-reading its seed should not turn every
 * read into a row update that serialises on the machine's row. The first fetch of a key is
 * written before the response (a provision's diagnosis may read it at once); later fetches are
 * counted in memory and written by a sweep once a second, all keys in one statement, so no
 * request waits on the database and the database sees one write per second, not one per key.
 * Counts are exact while the process lives; at most the last second's are lost if it dies —
 * acceptable for a diagnostic counter. The map only holds keys touched in the last seconds.
 */
export class FetchRecorder {
  static readonly THROTTLE_MS = 1000;
  private readonly states = new Map<string, FetchState>();
  private timer: NodeJS.Timeout | null = null;
  private readonly write: FetchWriter;
  private readonly log: Logger;

  constructor(write: FetchWriter, log: Logger) {
    this.write = write;
    this.log = log;
  }

  async record(machineId: string, doc: SeedFileName, from: string): Promise<void> {
    const key = `${machineId}/${doc}`;
    const now = Date.now();
    const lastAt = new Date(now).toISOString();
    const state = this.states.get(key);
    this.arm();
    if (state) {
      state.pending++;
      state.lastAt = lastAt;
      state.from = from;
      state.touchedAt = now;
      return;
    }
    this.states.set(key, { doc, machineId, touchedAt: now, pending: 0, lastAt, from });
    await this.flush([{ machineId, doc, count: 1, lastAt, from }]);
  }

  private async flush(counts: FetchCount[]): Promise<void> {
    try {
      await this.write(counts);
    } catch (err) {
      // Serving the seed matters more than counting it.
      this.log.warn({ err, keys: counts.length }, 'could not record metadata fetches');
    }
  }

  private arm(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.sweep(), FetchRecorder.THROTTLE_MS);
    // Never keeps the process alive on its own.
    this.timer.unref();
  }

  private sweep(): void {
    this.timer = null;
    const now = Date.now();
    const due: FetchCount[] = [];
    for (const [key, s] of this.states) {
      if (s.pending > 0) {
        due.push({ machineId: s.machineId, doc: s.doc, count: s.pending, lastAt: s.lastAt, from: s.from });
        s.pending = 0;
      } else if (now - s.touchedAt >= FetchRecorder.THROTTLE_MS) {
        this.states.delete(key);
      }
    }
    if (due.length > 0) void this.flush(due);
    if (this.states.size) this.arm();
  }
}

// ---------------------------------------------------------------------------------------------
// Phone-home payload

const PHONE_HOME_MAX_KEYS = 20;
const PHONE_HOME_MAX_VALUE_BYTES = 4096;
const PHONE_HOME_MAX_KEY_LENGTH = 64;

/** Keeps at most 20 string fields of ≤ 4 KiB each (cloud-init sends instance_id, hostname, fqdn, pub_key_*). */
export function phoneHomePayload(body: unknown): Record<string, string> {
  const out: [string, string][] = [];
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return {};
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    if (out.length >= PHONE_HOME_MAX_KEYS) break;
    if (typeof value !== 'string' || key.length > PHONE_HOME_MAX_KEY_LENGTH) continue;
    if (Buffer.byteLength(value, 'utf8') > PHONE_HOME_MAX_VALUE_BYTES) continue;
    out.push([key, value]);
  }
  return Object.fromEntries(out);
}

// ---------------------------------------------------------------------------------------------

function partsFor(doc: SeedFileName): SeedParts {
  return { keys: doc === 'user-data', network: doc === 'network-config' };
}

/** Counts a request the fast path answered, under the same labels the metrics middleware uses. */
export type ObserveRequest = (method: string, route: string, status: number, seconds: number) => void;

const SEED_ROUTE = '/cloud-init/:machineId/:token/:doc';
const SEED_PATH = /^\/cloud-init\/([0-9a-fA-F-]{36})\/([^/?]{1,256})\/(meta-data|user-data|vendor-data|network-config)(?:\?.*)?$/;

export interface CloudInitService {
  router: Router;
  /**
   * Answers GET /cloud-init/<id>/<token>/<doc> from the rendered-document cache before Express
   * routes anything: the same checks (constant-time token, fetch record), a fraction of the cost.
   * Everything else — cache misses, wrong tokens, other paths — goes on to the router.
   */
  fastPath: (req: Request, res: Response, next: () => void) => void;
}

export function cloudInitRouter(deps: ApiDeps): Router {
  return cloudInitService(deps).router;
}

export function cloudInitService(deps: ApiDeps, observe?: ObserveRequest): CloudInitService {
  const router = Router();
  const policy: AddressPolicy = { trusted: parseTrustedProxies(deps.config.metadata.trustedProxies) };
  const publicBase = deps.config.api.publicUrl.replace(/\/+$/, '');
  const recorder = new FetchRecorder(
    (counts) => recordFetches(deps.orm.em.fork(), counts),
    deps.logger,
  );
  const from = (req: Request) => clientAddress(policy, req.socket.remoteAddress, req.headers['x-forwarded-for'])
    ?? normaliseAddress(req.socket.remoteAddress ?? 'unknown');

  // Booting fleets fetch the same few documents many times in a burst: keep each rendered
  // document for a moment (bounded, insertion-ordered eviction), so repeated reads skip the query
  // and the YAML rendering. The token is still checked, in constant time, on every request.
  // A document read after a random point in the second half of its life (random, so that entries
  // filled together do not all refresh together) is re-read in the background, one query per key
  // at a time: under steady load no request waits for an expired entry, and an entry older than
  // cacheMs is never served.
  const cacheMs = deps.config.metadata.cacheMs;
  const rendered = new Map<string, { at: number; refreshAt: number; token: string; body: string }>();
  const refreshing = new Set<string>();
  const MAX_CACHED = 20_000;

  function remember(key: string, at: number, row: SeedMachineRow, body: string): void {
    rendered.delete(key);
    rendered.set(key, { at, refreshAt: at + cacheMs * (0.5 + Math.random() * 0.4), token: row.metadata_token, body });
    if (rendered.size > MAX_CACHED) rendered.delete(rendered.keys().next().value!);
  }

  function refreshAhead(key: string, id: string, doc: SeedFileName, refreshAt: number, now: number): void {
    if (now < refreshAt || refreshing.has(key)) return;
    refreshing.add(key);
    const started = Date.now();
    void seedMachineById(deps.orm.em.fork(), id, partsFor(doc))
      .then((row) => {
        if (!row) rendered.delete(key);
        else remember(key, started, row, render(deps.logger, row, doc));
      })
      .catch((err: unknown) => {
        // The entry simply expires and the next request takes the normal path.
        deps.logger.debug({ err, machineId: id, doc }, 'background seed refresh failed');
      })
      .finally(() => refreshing.delete(key));
  }

  function render(log: Pick<Logger, 'error'>, row: SeedMachineRow, doc: SeedFileName, reqId?: unknown): string {
    const machine = cloudInitMachineFromRow(row);
    try {
      switch (doc) {
        case 'meta-data': return renderMetaData(machine);
        case 'user-data': return renderUserData(machine, { phoneHomeUrl: phoneHomeUrlFor(row, publicBase) });
        case 'vendor-data': return renderVendorData();
        case 'network-config': return renderNetworkConfig(machine);
      }
    } catch (err) {
      // Stored data the renderer refuses is our problem, not the machine's: 500, details in the log only.
      log.error({ err, machineId: row.id, doc }, 'cannot render a cloud-init document');
      throw new HangarError('internal', `cannot render ${doc}${reqId ? `; quote request id ${String(reqId)} when reporting it` : ''}`);
    }
  }

  async function send(req: Request, res: Response, machineId: string, doc: SeedFileName, body: string): Promise<void> {
    await recorder.record(machineId, doc, from(req));
    res.status(200).type('text/plain; charset=utf-8').set('Cache-Control', 'no-store').send(body);
  }

  /** The document the id and token name, or the shared 404. */
  async function serveByToken(req: Request, res: Response, id: string, token: string, doc: SeedFileName): Promise<void> {
    if (!UUID.test(id) || token.length > MAX_TOKEN_LENGTH) {
      tokenMatches(null, token.slice(0, MAX_TOKEN_LENGTH));
      throw notFound();
    }
    const key = `${id}:${doc}`;
    const now = Date.now();
    const hit = cacheMs > 0 ? rendered.get(key) : undefined;
    if (hit && now - hit.at < cacheMs) {
      if (!tokenMatches(hit.token, token)) throw notFound();
      refreshAhead(key, id, doc, hit.refreshAt, now);
      return send(req, res, id, doc, hit.body);
    }
    const row = await seedMachineById(deps.orm.em.fork(), id, partsFor(doc));
    if (!tokenMatches(row?.metadata_token ?? null, token) || !row) throw notFound();
    const body = render(req.log, row, doc, req.id);
    if (cacheMs > 0) remember(key, now, row, body);
    return send(req, res, row.id, doc, body);
  }

  const fastPath = (req: Request, res: Response, next: () => void): void => {
    if (cacheMs <= 0 || req.method !== 'GET' || !req.url.startsWith('/cloud-init/')) return next();
    const m = SEED_PATH.exec(req.url);
    if (!m || !UUID.test(m[1]!)) return next();
    const [, id, token, doc] = m as unknown as [string, string, string, SeedFileName];
    const key = `${id}:${doc}`;
    const hit = rendered.get(key);
    const started = process.hrtime.bigint();
    const now = Date.now();
    if (!hit || now - hit.at >= cacheMs || !tokenMatches(hit.token, token)) return next();
    refreshAhead(key, id, doc, hit.refreshAt, now);
    const answer = () => {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(hit.body) });
      res.end(hit.body);
      observe?.('GET', SEED_ROUTE, 200, Number(process.hrtime.bigint() - started) / 1e9);
    };
    const pending = recorder.record(id, doc, from(req));
    // The recorder answers synchronously for throttled fetches; the first fetch of a key is written first.
    void pending.then(answer, () => next());
  };

  // The whole seed as a cidata ISO (volume id cidata: meta-data, user-data, vendor-data,
  // network-config) for a BMC to mount as virtual media next to an installer, or for any image
  // that reads NoCloud from a disk rather than a URL. Built per request (tens of ms with xorriso),
  // never cached; the token in the URL is the credential, as for the documents.
  router.get('/:machineId/:token/cidata.iso', async (req, res) => {
    const { machineId, token } = req.params;
    hideToken(req);
    if (!UUID.test(machineId) || token.length > MAX_TOKEN_LENGTH) {
      tokenMatches(null, token.slice(0, MAX_TOKEN_LENGTH));
      throw notFound();
    }
    const row = await seedMachineById(deps.orm.em.fork(), machineId, { keys: true, network: true });
    if (!tokenMatches(row?.metadata_token ?? null, token) || !row) throw notFound();
    const files: Record<string, string> = {};
    for (const doc of ['meta-data', 'user-data', 'vendor-data', 'network-config'] as const) files[doc] = render(req.log, row, doc, req.id);
    const dir = await mkdtemp(join(tmpdir(), 'hangar-seed-'));
    try {
      const path = join(dir, 'cidata.iso');
      try {
        await writeCidataIso(path, files);
      } catch (err) {
        req.log.error({ err, machineId }, 'cannot build a cidata ISO');
        throw new HangarError('unavailable', 'the cidata ISO cannot be built on this server (is xorriso installed?)');
      }
      const image = await readFile(path);
      res.status(200).set({
        'Content-Type': 'application/x-iso9660-image', 'Cache-Control': 'no-store', 'Content-Disposition': 'attachment; filename="cidata.iso"',
      }).send(image);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  router.get('/:machineId/:token/:doc', async (req, res, next) => {
    const { machineId, token, doc } = req.params;
    if (!isDoc(doc)) { next(); return; }
    hideToken(req);
    await serveByToken(req, res, machineId, token, doc);
  });

  // A seed URL without its trailing slash: cloud-init asks for <token>meta-data.
  router.get('/:machineId/:tokenDoc', async (req, res, next) => {
    const { machineId, tokenDoc } = req.params;
    const doc = DOCS.find((d) => tokenDoc.endsWith(d) && tokenDoc.length > d.length);
    if (!doc) { next(); return; }
    hideToken(req);
    await serveByToken(req, res, machineId, tokenDoc.slice(0, -doc.length), doc);
  });

  router.post(
    '/:machineId/:token/phone-home',
    // The token is checked before any body is parsed.
    async (req, res, next) => {
      const { machineId, token } = req.params as Record<string, string>;
      hideToken(req);
      const row = UUID.test(machineId ?? '') && (token ?? '').length <= MAX_TOKEN_LENGTH
        ? await machineTokenById(deps.orm.em.fork(), machineId!)
        : null;
      if (!tokenMatches(row?.metadata_token ?? null, (token ?? '').slice(0, MAX_TOKEN_LENGTH)) || !row) throw notFound();
      res.locals.cloudInitMachineId = row.id;
      next();
    },
    // cloud-init posts urlencoded fields; JSON is accepted too. 20 fields × 4 KiB fit easily.
    express.urlencoded({ extended: false, limit: '96kb', parameterLimit: 100 }),
    express.json({ limit: '96kb' }),
    async (req, res) => {
      const machineId = res.locals.cloudInitMachineId as string;
      const payload = phoneHomePayload(req.body);
      if (!(await recordPhoneHome(deps.orm.em.fork(), machineId, payload))) throw notFound();
      req.log.info({ machineId, instanceId: payload.instance_id, hostname: payload.hostname }, 'machine phoned home');
      const workflowId = provisionWorkflowId(machineId);
      try {
        // Signalling without a run id reaches the latest run; a closed or missing run answers
        // not-found, which is fine: nothing waits for this phone-home.
        await deps.temporal.workflow.getHandle(workflowId).signal(phoneHomeSignal, payload);
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) {
          // Recorded, but a waiting workflow may not know: a 503 makes cloud-init retry.
          req.log.warn({ err, workflowId }, 'could not signal phone-home to the workflow');
          throw new HangarError('unavailable', 'phone-home recorded but the workflow could not be signalled; retry');
        }
      }
      res.status(200).json({ status: 'recorded' });
    },
  );

  // Source-address mode: the machine is the one whose active lease has the client's address.
  router.get('/:doc', async (req, res, next) => {
    const { doc } = req.params;
    if (!isDoc(doc)) { next(); return; }
    if (!deps.config.metadata.sourceAddressMode) throw notFound();
    const address = clientAddress(policy, req.socket.remoteAddress, req.headers['x-forwarded-for']);
    if (address === null) throw notFound();
    const row = await seedMachineByAddress(deps.orm.em.fork(), address, partsFor(doc));
    if (!row || Number(row.matches) !== 1) throw notFound();
    await send(req, res, row.id, doc, render(req.log, row, doc, req.id));
  });

  // Anything else under /cloud-init gets the same answer as a wrong token.
  router.use((req, _res, next) => {
    hideToken(req);
    next(notFound());
  });

  return { router, fastPath };
}
