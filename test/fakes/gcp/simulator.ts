// A GCP Compute Engine networking simulator for tests (there is no emulator for it): the compute
// v1 REST endpoints Hangar calls (networks and subnetworks get/list/insert/delete, subnetworks
// aggregatedList, region and global operations get/wait), every request checked against the
// schema in @google-cloud/compute (./schema.ts) first, and the OAuth token endpoint, so the real
// google-auth-library signed-JWT flow runs against it (the JWT's RS256 signature is verified with
// the service account's public key). Operations go PENDING → RUNNING → DONE over
// `operationMs`; faults are injected per method; lists are paged with nextPageToken.
//
//   const gcp = await startGcpSimulator();
//   const key = gcp.serviceAccount('my-project');   // a key file's JSON (token_uri → the simulator)
//   ... new GcpNetworks({ apiEndpoint: gcp.url, key, ... })
import { createVerify, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkBody, checkQuery, matchMethod, SchemaError } from './schema.ts';

export interface GcpFault {
  /** `Subnetworks.Insert`, `Networks.List`, `*`… */
  method: string;
  status: number;
  /** `rateLimitExceeded`, `backendError`… */
  reason: string;
  /** How many matching calls fail (default 1). */
  times?: number;
  /** Only calls on this region. */
  region?: string;
}

type Json = Record<string, any>;

interface Operation extends Json {
  name: string;
  status: 'PENDING' | 'RUNNING' | 'DONE';
}

interface PendingOp {
  op: Operation;
  startedAt: number;
  apply: () => Json | null;
}

export interface GcpSimulator {
  url: string;
  tokenUri: string;
  /** A service-account key file's JSON for `project`, its public key registered for token requests. */
  serviceAccount(project: string, email?: string): Json;
  /** Adds a network directly (as if made in the console). */
  addNetwork(project: string, name: string): Json;
  /** Adds a subnetwork directly. */
  addSubnetwork(project: string, region: string, sub: { name: string; network: string; ipCidrRange: string; description?: string }): Json;
  subnetworks(project: string, region?: string): Json[];
  /** Marks a subnetwork as used by instances: deleting it fails with resourceInUseByAnotherResource. */
  markInUse(project: string, region: string, name: string): void;
  faults: GcpFault[];
  /** Regions whose list calls answer 503 and show as UNREACHABLE in aggregated lists. */
  failingRegions: Set<string>;
  /** How long an operation takes from PENDING to DONE. */
  operationMs: number;
  /** Every request as received (method id, query, body, authorization header), for assertions. */
  requests: Array<{ method: string; path: string; query: string; body: string; authorization: string }>;
  tokensIssued: number;
  reset(): void;
  stop(): Promise<void>;
}

const PAGE_DEFAULT = 500;
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';

export async function startGcpSimulator(opts: { operationMs?: number } = {}): Promise<GcpSimulator> {
  const publicKeys = new Map<string, KeyObject>();
  const tokens = new Set<string>();
  let networks = new Map<string, Json>(); // `${project}/${name}`
  let subnets = new Map<string, Json>(); // `${project}/${region}/${name}`
  let inUse = new Set<string>();
  let operations = new Map<string, PendingOp>(); // `${project}/${scope}/${name}`
  let nextId = 1000;
  let url = '';

  const sim: GcpSimulator = {
    url: '',
    tokenUri: '',
    faults: [],
    failingRegions: new Set(),
    operationMs: opts.operationMs ?? 300,
    requests: [],
    tokensIssued: 0,
    serviceAccount(project, email = `hangar@${project}.iam.gserviceaccount.com`) {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const keyId = randomBytes(20).toString('hex');
      publicKeys.set(email, publicKey);
      return {
        type: 'service_account',
        project_id: project,
        private_key_id: keyId,
        private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        client_email: email,
        client_id: String(nextId++),
        auth_uri: `${url}/o/oauth2/auth`,
        token_uri: `${url}/token`,
      };
    },
    addNetwork(project, name) {
      const n = {
        kind: 'compute#network',
        id: String(nextId++),
        name,
        selfLink: `${url}/compute/v1/projects/${project}/global/networks/${name}`,
        autoCreateSubnetworks: false,
        subnetworks: [],
      };
      networks.set(`${project}/${name}`, n);
      return n;
    },
    addSubnetwork(project, region, s) {
      const sub = subnetResource(project, region, { ...s, network: networkLink(project, s.network) });
      subnets.set(`${project}/${region}/${s.name}`, sub);
      return sub;
    },
    subnetworks(project, region) {
      return [...subnets.entries()].filter(([k]) => k.startsWith(`${project}/${region ? `${region}/` : ''}`)).map(([, v]) => v);
    },
    markInUse(project, region, name) {
      inUse.add(`${project}/${region}/${name}`);
    },
    reset() {
      networks = new Map();
      subnets = new Map();
      inUse = new Set();
      operations = new Map();
      sim.faults.length = 0;
      sim.failingRegions.clear();
      sim.requests.length = 0;
      sim.operationMs = opts.operationMs ?? 300;
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };

  const networkLink = (project: string, network: string) =>
    network.includes('/') ? network : `${url}/compute/v1/projects/${project}/global/networks/${network}`;

  function subnetResource(project: string, region: string, s: Json): Json {
    return {
      kind: 'compute#subnetwork',
      id: String(nextId++),
      creationTimestamp: new Date().toISOString(),
      name: s.name,
      description: s.description ?? '',
      network: s.network,
      ipCidrRange: s.ipCidrRange,
      gatewayAddress: s.ipCidrRange?.replace(/\.\d+\/\d+$/, '.1'),
      region: `${url}/compute/v1/projects/${project}/regions/${region}`,
      selfLink: `${url}/compute/v1/projects/${project}/regions/${region}/subnetworks/${s.name}`,
      secondaryIpRanges: s.secondaryIpRanges ?? [],
      fingerprint: randomBytes(8).toString('base64'),
      stackType: 'IPV4_ONLY',
      state: 'READY',
    };
  }

  /** Lazily moves an operation along the clock: PENDING, RUNNING at half-time, DONE (and its effect) at the end. */
  function advance(p: PendingOp): Operation {
    const elapsed = Date.now() - p.startedAt;
    if (p.op.status !== 'DONE') {
      if (elapsed >= sim.operationMs) {
        const error = p.apply();
        Object.assign(
          p.op,
          { status: 'DONE', progress: 100, endTime: new Date().toISOString() },
          error ? { error, httpErrorStatusCode: 400, httpErrorMessage: 'BAD REQUEST' } : {},
        );
      } else if (elapsed >= sim.operationMs / 2) Object.assign(p.op, { status: 'RUNNING', progress: 50 });
    }
    return p.op;
  }

  function startOperation(project: string, scope: string, kind: string, target: string, apply: () => Json | null): Operation {
    const name = `operation-${Date.now()}-${randomBytes(6).toString('hex')}`;
    const scopePath = scope === 'global' ? 'global' : `regions/${scope}`;
    const op: Operation = {
      kind: 'compute#operation',
      id: String(nextId++),
      name,
      operationType: kind,
      targetLink: target,
      status: 'PENDING',
      progress: 0,
      insertTime: new Date().toISOString(),
      selfLink: `${url}/compute/v1/projects/${project}/${scopePath}/operations/${name}`,
      ...(scope === 'global' ? {} : { region: `${url}/compute/v1/projects/${project}/regions/${scope}` }),
    };
    const pending = { op, startedAt: Date.now(), apply };
    operations.set(`${project}/${scope}/${name}`, pending);
    if (sim.operationMs <= 0) advance(pending);
    return { ...op };
  }

  const page = (items: Json[], q: URLSearchParams) => {
    const size = Math.min(Number(q.get('maxResults') ?? PAGE_DEFAULT) || PAGE_DEFAULT, PAGE_DEFAULT);
    const start = q.get('pageToken') ? Number(Buffer.from(q.get('pageToken')!, 'base64url').toString()) : 0;
    const slice = items.slice(start, start + size);
    const next = start + size < items.length ? Buffer.from(String(start + size)).toString('base64url') : undefined;
    return { slice, next };
  };

  function handle(id: string, p: Record<string, string>, q: URLSearchParams, body: Json): { status: number; json: Json } {
    const project = p.project!;
    const region = p.region;
    if (region && sim.failingRegions.has(region) && id === 'Subnetworks.List')
      throw new GcpError(503, 'backendError', `The service is currently unavailable in ${region}.`);
    switch (id) {
      case 'Networks.Get': {
        const n = networks.get(`${project}/${p.network}`);
        if (!n) throw notFound(`projects/${project}/global/networks/${p.network}`);
        return { status: 200, json: n };
      }
      case 'Networks.List': {
        const all = [...networks.entries()].filter(([k]) => k.startsWith(`${project}/`)).map(([, v]) => v);
        const { slice, next } = page(all, q);
        return { status: 200, json: { kind: 'compute#networkList', items: slice, ...(next ? { nextPageToken: next } : {}) } };
      }
      case 'Networks.Insert': {
        const name = body.name;
        if (networks.has(`${project}/${name}`))
          throw new GcpError(409, 'alreadyExists', `The resource 'projects/${project}/global/networks/${name}' already exists`);
        return {
          status: 200,
          json: startOperation(project, 'global', 'insert', networkLink(project, name), () => {
            sim.addNetwork(project, name);
            return null;
          }),
        };
      }
      case 'Networks.Delete': {
        if (!networks.has(`${project}/${p.network}`)) throw notFound(`projects/${project}/global/networks/${p.network}`);
        return {
          status: 200,
          json: startOperation(project, 'global', 'delete', networkLink(project, p.network!), () => {
            networks.delete(`${project}/${p.network}`);
            return null;
          }),
        };
      }
      case 'Subnetworks.AggregatedList': {
        const byRegion = new Map<string, Json[]>();
        for (const [k, v] of subnets) {
          const [proj, r] = k.split('/');
          if (proj === project) byRegion.set(r!, [...(byRegion.get(r!) ?? []), v]);
        }
        for (const r of sim.failingRegions) byRegion.set(r, []);
        const entries = [...byRegion.entries()].sort(([a], [b]) => a.localeCompare(b));
        const rows: Array<[string, Json | null]> = entries.flatMap(
          ([r, list]): Array<[string, Json | null]> => (sim.failingRegions.has(r) ? [[r, null]] : list.map((s) => [r, s])),
        );
        const { slice, next } = page(rows as unknown as Json[], q);
        const items: Json = {};
        for (const [r, s] of slice as unknown as Array<[string, Json | null]>) {
          const scope = (items[`regions/${r}`] ??= {});
          if (s === null) scope.warning = { code: 'UNREACHABLE', message: `Region ${r} is unreachable.`, data: [{ key: 'scope', value: `regions/${r}` }] };
          else (scope.subnetworks ??= []).push(s);
        }
        const unreachables = [...sim.failingRegions].map((r) => `regions/${r}`);
        return {
          status: 200,
          json: { kind: 'compute#subnetworkAggregatedList', items, ...(next ? { nextPageToken: next } : {}), ...(unreachables.length ? { unreachables } : {}) },
        };
      }
      case 'Subnetworks.Get': {
        const s = subnets.get(`${project}/${region}/${p.subnetwork}`);
        if (!s) throw notFound(`projects/${project}/regions/${region}/subnetworks/${p.subnetwork}`);
        return { status: 200, json: s };
      }
      case 'Subnetworks.List': {
        const { slice, next } = page(sim.subnetworks(project, region), q);
        return { status: 200, json: { kind: 'compute#subnetworkList', items: slice, ...(next ? { nextPageToken: next } : {}) } };
      }
      case 'Subnetworks.Insert':
        return { status: 200, json: insertSubnetwork(project, region!, body) };
      case 'Subnetworks.Delete': {
        const key = `${project}/${region}/${p.subnetwork}`;
        if (!subnets.has(key)) throw notFound(`projects/${project}/regions/${region}/subnetworks/${p.subnetwork}`);
        if (inUse.has(key)) {
          throw new GcpError(
            400,
            'resourceInUseByAnotherResource',
            `The subnetwork resource 'projects/${project}/regions/${region}/subnetworks/${p.subnetwork}' is already being used by 'projects/${project}/zones/${region}-a/instances/vm-1'`,
          );
        }
        return {
          status: 200,
          json: startOperation(project, region!, 'delete', subnets.get(key)!.selfLink, () => {
            subnets.delete(key);
            return null;
          }),
        };
      }
      case 'RegionOperations.Get':
      case 'RegionOperations.Wait':
      case 'GlobalOperations.Get':
      case 'GlobalOperations.Wait': {
        const pending = operations.get(`${project}/${region ?? 'global'}/${p.operation}`);
        if (!pending) throw notFound(`projects/${project}/${region ? `regions/${region}` : 'global'}/operations/${p.operation}`);
        return { status: 200, json: { ...advance(pending) } };
      }
    }
    throw new GcpError(404, 'notFound', `no handler for ${id}`);
  }

  function insertSubnetwork(project: string, region: string, body: Json): Operation {
    for (const required of ['name', 'network', 'ipCidrRange']) {
      if (!body[required]) throw new GcpError(400, 'required', `Invalid value for field 'resource.${required}': ''. Must be provided.`);
    }
    if (!/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(body.name))
      throw new GcpError(
        400,
        'invalid',
        `Invalid value for field 'resource.name': '${body.name}'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'`,
      );
    const key = `${project}/${region}/${body.name}`;
    if (subnets.has(key))
      throw new GcpError(409, 'alreadyExists', `The resource 'projects/${project}/regions/${region}/subnetworks/${body.name}' already exists`);
    const networkName = String(body.network).split('/').at(-1)!;
    if (!networks.has(`${project}/${networkName}`)) throw notFound(`projects/${project}/global/networks/${networkName}`);
    const link = `${url}/compute/v1/projects/${project}/regions/${region}/subnetworks/${body.name}`;
    return startOperation(project, region, 'insert', link, () => {
      // Overlap inside the network is found by the operation, as GCP does: it ends DONE with an error.
      const clash = [...subnets.values()].find((s) => s.network.endsWith(`/networks/${networkName}`) && overlaps(s.ipCidrRange, body.ipCidrRange));
      if (clash) {
        return {
          errors: [
            {
              code: 'INVALID_USAGE',
              message: `Invalid IPCidrRange: ${body.ipCidrRange} conflicts with existing subnetwork '${clash.name}' in region '${region}'.`,
            },
          ],
        };
      }
      subnets.set(key, subnetResource(project, region, { ...body, network: networkLink(project, networkName) }));
      return null;
    });
  }

  function authorized(header: string | undefined): boolean {
    const token = /^Bearer (.+)$/.exec(header ?? '')?.[1];
    return token !== undefined && tokens.has(token);
  }

  /** The OAuth 2.0 JWT-bearer grant: verifies the assertion's RS256 signature, audience and lifetime. */
  function issueToken(form: URLSearchParams): { status: number; json: Json } {
    const fail = (why: string) => ({ status: 400, json: { error: 'invalid_grant', error_description: why } });
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return { status: 400, json: { error: 'unsupported_grant_type' } };
    const [h, c, s] = (form.get('assertion') ?? '').split('.');
    if (!h || !c || !s) return fail('Invalid JWT');
    const header = JSON.parse(Buffer.from(h, 'base64url').toString());
    const claims = JSON.parse(Buffer.from(c, 'base64url').toString());
    const key = publicKeys.get(claims.iss);
    if (header.alg !== 'RS256' || !key) return fail('Invalid JWT Signature.');
    if (!createVerify('RSA-SHA256').update(`${h}.${c}`).verify(key, Buffer.from(s, 'base64url'))) return fail('Invalid JWT Signature.');
    const now = Date.now() / 1000;
    // google-auth-library signs for Google's token URL whatever token_uri is (as private endpoints accept).
    if (claims.aud !== sim.tokenUri && claims.aud !== GOOGLE_TOKEN_URL) return fail(`Invalid JWT: aud must be ${GOOGLE_TOKEN_URL}`);
    if (!(claims.exp > now && claims.iat <= now + 60))
      return fail('Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.');
    if (!claims.scope) return fail('Invalid JWT: no scope');
    const token = `ya29.sim-${randomBytes(16).toString('hex')}`;
    tokens.add(token);
    sim.tokensIssued++;
    return { status: 200, json: { access_token: token, expires_in: 3599, token_type: 'Bearer' } };
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString();
      const u = new URL(req.url ?? '/', 'http://sim');
      const send = (status: number, json: Json) => {
        res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
        res.end(JSON.stringify(json));
      };
      if (u.pathname === '/token' && req.method === 'POST') {
        const r = issueToken(new URLSearchParams(raw));
        return send(r.status, r.json);
      }
      const matched = matchMethod(req.method ?? 'GET', u.pathname);
      sim.requests.push({
        method: matched?.contract.id ?? `${req.method} ${u.pathname}`,
        path: u.pathname,
        query: u.search,
        body: raw,
        authorization: req.headers.authorization ?? '',
      });
      try {
        if (!matched) throw new GcpError(404, 'notFound', `The requested URL ${u.pathname} was not found on this server.`);
        if (!authorized(req.headers.authorization))
          throw new GcpError(401, 'authError', 'Request had invalid authentication credentials. Expected OAuth 2 access token.');
        let body: Json = {};
        if (raw) {
          try {
            body = JSON.parse(raw);
          } catch {
            throw new GcpError(400, 'parseError', 'Invalid JSON payload received.');
          }
        }
        checkQuery(matched.contract, u.searchParams);
        checkBody(matched.contract, raw ? body : undefined);
        injectFault(matched.contract.id, matched.params.region);
        const r = handle(matched.contract.id, matched.params, u.searchParams, body);
        send(r.status, r.json);
      } catch (err) {
        if (err instanceof SchemaError) return send(400, errorBody(400, 'badRequest', err.message, 'INVALID_ARGUMENT'));
        if (err instanceof GcpError) return send(err.status, errorBody(err.status, err.reason, err.message));
        send(500, errorBody(500, 'backendError', String(err)));
      }
    });
  });

  function injectFault(id: string, region: string | undefined) {
    const i = sim.faults.findIndex((f) => (f.method === '*' || f.method === id) && (!f.region || f.region === region));
    if (i < 0) return;
    const f = sim.faults[i]!;
    f.times = (f.times ?? 1) - 1;
    if (f.times <= 0) sim.faults.splice(i, 1);
    throw new GcpError(f.status, f.reason, f.reason === 'rateLimitExceeded' ? 'Rate Limit Exceeded' : `injected ${f.reason}`);
  }

  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  sim.url = url;
  sim.tokenUri = `${url}/token`;
  return sim;
}

class GcpError extends Error {
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string, message: string) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}

const notFound = (what: string) => new GcpError(404, 'notFound', `The resource '${what}' was not found`);

function errorBody(code: number, reason: string, message: string, status?: string): Json {
  // Like GCP: the legacy `errors[]` and the google.rpc ErrorInfo detail both carry the reason.
  const details = [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason, domain: 'compute.googleapis.com', metadata: {} }];
  return { error: { code, message, errors: [{ message, domain: 'global', reason }], details, ...(status ? { status } : {}) } };
}

function overlaps(a: string, b: string): boolean {
  const parse = (cidr: string) => {
    const [ip, len] = cidr.split('/');
    const n = ip!.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
    const size = 2 ** (32 - Number(len));
    return [n - (n % size), n - (n % size) + size - 1] as const;
  };
  const [a0, a1] = parse(a);
  const [b0, b1] = parse(b);
  return a0 <= b1 && b0 <= a1;
}
