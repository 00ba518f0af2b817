// The NoCloud metadata service. Machines have no API token: the per-machine token in the seed
// URL (/cloud-init/<machine id>/<token>/) is the secret, so this router is mounted outside the
// bearer-token auth and treats every failure — unknown machine, malformed id, wrong token — as
// the same 404, without saying which part was wrong.
//
//   GET  /cloud-init/<id>/<token>/{meta-data,user-data,vendor-data,network-config}
//   GET  /cloud-init/<id>/<token>{meta-data,…}   (a seed URL written without its trailing '/':
//                                                 cloud-init simply appends the file name)
//   GET  /cloud-init/<id>/<token>/cidata.iso     (cidata-iso.ts)
//   POST /cloud-init/<id>/<token>/phone-home     (phone-home.ts)
//   GET  /cloud-init/{meta-data,…}               (source-address mode only; see client-address.ts)
import type { Request, Response } from 'express';
import { z } from 'zod';
import type { SeedFileName } from '../../domain/cloud-init.ts';
import { recordFetches, seedMachineByAddress, seedMachineById } from '../../db/repositories/metadata.ts';
import type { ApiDeps } from '../context.ts';
import { contractRouter, json, media, type ContractRouter } from '../contract/route.ts';
import { cidataIsoHandler } from './cidata-iso.ts';
import { clientAddress, normaliseAddress, parseTrustedProxies, type AddressPolicy } from './client-address.ts';
import { isSeedDocument, partsFor, renderSeedDocument, SEED_DOCUMENTS } from './documents.ts';
import { FetchRecorder } from './fetch-recorder.ts';
import { phoneHomeHandlers, phoneHomePayload } from './phone-home.ts';
import { SeedCache } from './seed-cache.ts';
import { hideToken, notFound, plausibleSeedKey, tokenMatches, UUID } from './token.ts';

/** Counts a request the fast path answered, under the same labels the metrics middleware uses. */
export type ObserveRequest = (method: string, route: string, status: number, seconds: number) => void;

const SEED_ROUTE = '/cloud-init/:machineId/:token/:doc';
const SEED_PATH = /^\/cloud-init\/([0-9a-fA-F-]{36})\/([^/?]{1,256})\/(meta-data|user-data|vendor-data|network-config)(?:\?.*)?$/;

const machineId = z.string().meta({ description: 'machine id (uuid)', format: 'uuid' });
const token = z.string().meta({ description: "the machine's metadata token (a secret)" });
const doc = z.string().meta({ description: 'a NoCloud document', enum: [...SEED_DOCUMENTS] });
const seedDocument = media('text/plain', 'the YAML document');
const phoneHomeRecorded = z.strictObject({ status: z.literal('recorded') }).meta({ id: 'PhoneHomeRecorded' });
const phoneHomeFields = z
  .record(z.string(), z.string())
  .meta({ description: "cloud-init's phone_home fields (instance_id, hostname, fqdn, pub_key_*); at most 20 are kept" });

export interface CloudInitService {
  /** Mounted at /cloud-init without bearer-token auth; every refusal is the same 404. */
  router: ContractRouter;
  /**
   * Answers GET /cloud-init/<id>/<token>/<doc> from the rendered-document cache before Express
   * routes anything: the same checks (constant-time token, fetch record), a fraction of the cost.
   * Everything else — cache misses, wrong tokens, other paths — goes on to the router.
   */
  fastPath: (req: Request, res: Response, next: () => void) => void;
  /** Writes the fetch counts not yet written; call when no request comes any more, before the ORM closes. */
  close: () => Promise<void>;
}

export function cloudInitService(deps: ApiDeps, observe?: ObserveRequest): CloudInitService {
  const r = contractRouter({ tags: ['metadata'], security: 'none' });
  const policy: AddressPolicy = { trusted: parseTrustedProxies(deps.config.metadata.trustedProxies) };
  const publicBase = deps.config.api.publicUrl.replace(/\/+$/, '');
  const recorder = new FetchRecorder((counts) => recordFetches(deps.orm.em.fork(), counts), deps.logger);
  const cache = new SeedCache(
    deps.config.metadata.cacheMs,
    async (id, doc) => {
      const row = await seedMachineById(deps.orm.em.fork(), id, partsFor(doc));
      return row ? { token: row.metadata_token, body: renderSeedDocument(deps.logger, row, doc, publicBase) } : null;
    },
    deps.logger,
  );
  const from = (req: Request) =>
    clientAddress(policy, req.socket.remoteAddress, req.headers['x-forwarded-for']) ?? normaliseAddress(req.socket.remoteAddress ?? 'unknown');

  async function send(req: Request, res: Response, machineId: string, doc: SeedFileName, body: string): Promise<void> {
    await recorder.record(machineId, doc, from(req));
    res.status(200).type('text/plain; charset=utf-8').set('Cache-Control', 'no-store').send(body);
  }

  /** The document the id and token name, or the shared 404. */
  async function serveByToken(req: Request, res: Response, id: string, token: string, doc: SeedFileName): Promise<void> {
    if (!plausibleSeedKey(id, token)) throw notFound();
    const now = Date.now();
    const hit = cache.fresh(id, doc, now);
    if (hit) {
      if (!tokenMatches(hit.token, token)) throw notFound();
      cache.refreshAhead(id, doc, hit, now);
      return send(req, res, id, doc, hit.body);
    }
    const row = await seedMachineById(deps.orm.em.fork(), id, partsFor(doc));
    if (!tokenMatches(row?.metadata_token ?? null, token) || !row) throw notFound();
    const body = renderSeedDocument(req.log, row, doc, publicBase, req.id);
    cache.remember(id, doc, now, row.metadata_token, body);
    return send(req, res, row.id, doc, body);
  }

  const fastPath = (req: Request, res: Response, next: () => void): void => {
    if (!cache.enabled || req.method !== 'GET' || !req.url.startsWith('/cloud-init/')) return next();
    const m = SEED_PATH.exec(req.url);
    if (!m || !UUID.test(m[1]!)) return next();
    const [, id, token, doc] = m as unknown as [string, string, string, SeedFileName];
    const started = process.hrtime.bigint();
    const now = Date.now();
    const hit = cache.fresh(id, doc, now);
    if (!hit || !tokenMatches(hit.token, token)) return next();
    cache.refreshAhead(id, doc, hit, now);
    const answer = () => {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(hit.body) });
      res.end(hit.body);
      observe?.('GET', SEED_ROUTE, 200, Number(process.hrtime.bigint() - started) / 1e9);
    };
    const pending = recorder.record(id, doc, from(req));
    // The recorder answers synchronously for throttled fetches; the first fetch of a key is written first.
    void pending.then(answer, () => next());
  };

  const cidataIso = cidataIsoHandler(deps, publicBase);
  r.route({
    method: 'get',
    path: '/:machineId/:token/cidata.iso',
    params: z.object({ machineId, token }),
    summary: 'The whole seed as a cidata ISO, for a BMC to mount as virtual media',
    responses: { 200: media('application/x-iso9660-image', 'the ISO 9660 image (volume id cidata)') },
    errors: [404, 503],
    handler: ({ params }, req, res) => cidataIso(params, req, res),
  });

  r.route({
    method: 'get',
    path: '/:machineId/:token/:doc',
    params: z.object({ machineId, token, doc }),
    summary: 'A NoCloud seed document (meta-data, user-data, vendor-data, network-config)',
    responses: { 200: seedDocument },
    errors: [404],
    handler: async ({ params }, req, res) => {
      hideToken(req);
      if (!isSeedDocument(params.doc)) throw notFound();
      await serveByToken(req, res, params.machineId, params.token, params.doc);
    },
  });

  // A seed URL without its trailing slash: cloud-init asks for <token>meta-data.
  r.route({
    method: 'get',
    path: '/:machineId/:tokenDoc',
    params: z.object({ machineId, tokenDoc: z.string().meta({ description: 'the token followed by the document name' }) }),
    summary: 'A seed document asked for by a seed URL without its trailing slash (<token><doc>)',
    responses: { 200: seedDocument },
    errors: [404],
    handler: async ({ params: { machineId: id, tokenDoc } }, req, res) => {
      hideToken(req);
      const found = SEED_DOCUMENTS.find((d) => tokenDoc.endsWith(d) && tokenDoc.length > d.length);
      if (!found) throw notFound();
      await serveByToken(req, res, id, tokenDoc.slice(0, -found.length), found);
    },
  });

  const phoneHome = phoneHomeHandlers(deps);
  r.route({
    method: 'post',
    path: '/:machineId/:token/phone-home',
    params: z.object({ machineId, token }),
    // The token is checked before any body is parsed (phoneHome.before).
    before: phoneHome.before,
    body: phoneHomeFields,
    bodyRequired: false,
    bodyMedia: ['application/x-www-form-urlencoded'],
    parseBody: (raw) => phoneHomePayload(raw),
    summary: "cloud-init's phone_home: the machine reports that it booted (form-encoded or JSON)",
    responses: { 200: json(phoneHomeRecorded, 'recorded') },
    errors: [404, 503],
    handler: ({ body }, req, res) => phoneHome.record(body ?? {}, req, res),
  });

  // Source-address mode: the machine is the one whose active lease has the client's address.
  r.route({
    method: 'get',
    path: '/:doc',
    params: z.object({ doc }),
    summary: 'A seed document chosen by the client address (source-address mode)',
    responses: { 200: seedDocument },
    errors: [404],
    handler: async ({ params }, req, res) => {
      hideToken(req);
      if (!isSeedDocument(params.doc)) throw notFound();
      if (!deps.config.metadata.sourceAddressMode) throw notFound();
      const address = clientAddress(policy, req.socket.remoteAddress, req.headers['x-forwarded-for']);
      if (address === null) throw notFound();
      const row = await seedMachineByAddress(deps.orm.em.fork(), address, partsFor(params.doc));
      if (!row || Number(row.matches) !== 1) throw notFound();
      await send(req, res, row.id, params.doc, renderSeedDocument(req.log, row, params.doc, publicBase, req.id));
    },
  });

  // Anything else under /cloud-init gets the same answer as a wrong token.
  r.express.use((req, _res, next) => {
    hideToken(req);
    next(notFound());
  });

  return { router: r, fastPath, close: () => recorder.close() };
}
