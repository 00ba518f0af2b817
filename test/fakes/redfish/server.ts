// A small Redfish BMC fixture (node:http) for quirk tests: a service root, Systems/1, Managers/1,
// a SessionService with a limited number of slots, virtual media, boot override and reset, each
// configurable per test to behave like a documented vendor deviation:
//   (a) virtualMedia: 'systems'       VirtualMedia only under Systems/1 (iDRAC9 >= 6, DMTF 2021.2+)
//   (b) boot: 'first-write-lost'      boot override PATCH answered 204 but not applied the first time
//   (c) boot: 'never-persists'        boot override PATCH always answered 204, never applied
//   (d) etag: 'required'              PATCH without a matching If-Match → 428 (none) / 412 (stale)
//   (e) sessions.max                  session slots (5th concurrent session → 503 RAC0218-like)
//   (f) vendor                        Dell / HPE / Supermicro identity strings (quirk selection)
//   (g) resetTask                     reset answered 202 + task monitor, polled to Completed/Exception
// Every request is logged (method, path, headers, body, status, auth kind) for assertions.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';

export type FixtureVendor = 'generic' | 'dell' | 'hpe' | 'supermicro';

export interface RedfishFixtureOptions {
  vendor?: FixtureVendor;
  username?: string;
  password?: string;
  /** Sessions: `false` removes the SessionService (basic auth only). */
  sessions?: false | { max?: number; limitStatus?: 503 | 400 };
  virtualMedia?: 'managers' | 'systems' | 'both' | 'none';
  /** VirtualMedia exposes Insert/Eject actions (default) or only PATCH. */
  virtualMediaActions?: boolean;
  boot?: 'persists' | 'first-write-lost' | 'never-persists';
  etag?: 'none' | 'optional' | 'required';
  /** Weak ETags (W/"..."), as iLO sends them. */
  weakEtag?: boolean;
  /** ETags only in the body (`@odata.etag`), no ETag header. */
  etagInBodyOnly?: boolean;
  resetTask?:
    | false
    | {
        polls?: number;
        outcome?: 'Completed' | 'Exception';
        messages?: string[] /** false: no Retry-After header (the client picks its own gaps). */;
        retryAfter?: false;
      };
  /** Initial power state. */
  powerState?: 'On' | 'Off';
  /** Power transitions land this many ms after the reset (0: immediately). */
  powerDelayMs?: number;
  /** GracefulShutdown is accepted but the OS never shuts down. */
  ignoreGracefulShutdown?: boolean;
  /** Delay before every answer (to make concurrency observable). */
  latencyMs?: number;
  /** Answer these requests with an error first: e.g. 503 + Retry-After on the first 2 GETs of Systems/1. */
  faults?: Array<{ method?: string; path: string; status: number; times: number; retryAfter?: number; message?: string }>;
  /** InsertMedia rejects Inserted/WriteProtected and requires TransferProtocolType (Supermicro X12 behaviour). */
  insertMediaStrict?: boolean;
}

export interface LoggedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: unknown;
  status: number;
  auth: 'session' | 'basic' | 'none' | 'bad';
  at: number;
}

interface Slot {
  id: string;
  name: string;
  mediaTypes: string[];
  image: string | null;
  inserted: boolean;
  writeProtected: boolean;
  connectedVia: string;
}

interface Task {
  id: string;
  polls: number;
  pollsLeft: number;
  outcome: 'Completed' | 'Exception';
  messages: string[];
  apply: () => void;
}

const VENDORS: Record<FixtureVendor, { root: Record<string, unknown>; manufacturer: string; model: string; managerId: string; managerModel: string }> = {
  generic: { root: { Vendor: 'Contoso' }, manufacturer: 'Contoso', model: 'Model 1', managerId: '1', managerModel: 'BMC' },
  dell: {
    root: {
      Vendor: 'Dell',
      Product: 'Integrated Dell Remote Access Controller',
      Oem: { Dell: { '@odata.type': '#DellServiceRoot.v1_0_0.DellServiceRoot', ManagerMACAddress: '00:00:5e:00:53:01' } },
    },
    manufacturer: 'Dell Inc.',
    model: 'PowerEdge R650',
    managerId: 'iDRAC.Embedded.1',
    managerModel: '15G Monolithic',
  },
  hpe: {
    root: { Vendor: 'HPE', Product: 'ProLiant DL360 Gen10', Oem: { Hpe: { Manager: [{ ManagerType: 'iLO 5', ManagerFirmwareVersion: '2.72' }] } } },
    manufacturer: 'HPE',
    model: 'ProLiant DL360 Gen10',
    managerId: '1',
    managerModel: 'iLO 5',
  },
  supermicro: {
    root: { Vendor: 'Supermicro', Oem: { Supermicro: { '@odata.type': '#SmcServiceRoot.v1_0_0.SmcServiceRoot' } } },
    manufacturer: 'Supermicro',
    model: 'SYS-120U-TNR',
    managerId: '1',
    managerModel: 'X12DPU-6',
  },
};

function errorBody(messageId: string, message: string, extra: Array<{ MessageId: string; Message: string }> = []) {
  return {
    error: {
      code: messageId,
      message: 'A general error has occurred. See ExtendedInfo for more information.',
      '@Message.ExtendedInfo': [
        { '@odata.type': '#Message.v1_1_1.Message', MessageId: messageId, Message: message, Severity: 'Critical', Resolution: 'None.' },
        ...extra,
      ],
    },
  };
}

export class RedfishFixture {
  readonly opts: Required<Pick<RedfishFixtureOptions, 'vendor' | 'username' | 'password' | 'virtualMedia' | 'boot' | 'etag'>> & RedfishFixtureOptions;
  readonly log: LoggedRequest[] = [];
  url = '';
  /** Live sessions: token → id. */
  readonly sessions = new Map<string, string>();
  /** Sessions held by "other tools" (count toward the limit). */
  foreignSessions = 0;
  maxSessionsSeen = 0;
  sessionsCreated = 0;
  inFlight = 0;
  maxInFlight = 0;
  powerState: 'On' | 'Off';
  boot = { enabled: 'Disabled', target: 'None', mode: 'UEFI' as string, uefiTarget: null as string | null };
  bootWrites = 0;
  systemVersion = 1;
  vmVersion = 1;
  readonly slots: Slot[];
  readonly attributes: Record<string, string> = { 'ServerBoot.1.BootOnce': 'Disabled', 'ServerBoot.1.FirstBootDevice': 'Normal' };
  readonly tasks = new Map<string, Task>();
  #server: http.Server;
  #faults: NonNullable<RedfishFixtureOptions['faults']>;
  #timers = new Set<NodeJS.Timeout>();
  #nextSession = 1;
  #nextTask = 1;
  /** Hook run before a PATCH is evaluated (tests use it to change the ETag underneath the client). */
  beforePatch: ((f: RedfishFixture) => void) | undefined;

  constructor(opts: RedfishFixtureOptions = {}) {
    this.opts = {
      vendor: 'generic',
      username: 'root',
      password: 'calvin-not-really',
      virtualMedia: 'managers',
      boot: 'persists',
      etag: 'optional',
      ...opts,
    };
    this.powerState = opts.powerState ?? 'Off';
    this.slots = [
      {
        id: this.opts.vendor === 'hpe' ? '1' : 'RemovableDisk',
        name: 'Virtual Removable Media',
        mediaTypes: ['Floppy', 'USBStick'],
        image: null,
        inserted: false,
        writeProtected: false,
        connectedVia: 'NotConnected',
      },
      {
        id: this.opts.vendor === 'hpe' ? '2' : this.opts.vendor === 'supermicro' ? 'CD1' : 'CD',
        name: 'Virtual CD',
        mediaTypes: ['CD', 'DVD'],
        image: null,
        inserted: false,
        writeProtected: true,
        connectedVia: 'NotConnected',
      },
    ];
    this.#faults = (opts.faults ?? []).map((f) => ({ ...f }));
    this.#server = http.createServer((req, res) => {
      void this.#handle(req, res);
    });
  }

  get vendor() {
    return VENDORS[this.opts.vendor];
  }
  get systemPath() {
    return '/redfish/v1/Systems/1';
  }
  get managerPath() {
    return `/redfish/v1/Managers/${this.vendor.managerId}`;
  }
  get openSessions() {
    return this.sessions.size + this.foreignSessions;
  }
  get cdSlot(): Slot {
    return this.slots[1]!;
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.#server.listen(0, '127.0.0.1', r));
    const { port } = this.#server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    this.#server.closeAllConnections();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }

  /** Requests matching method and path (path prefix when it ends with `*`). */
  requests(method: string, path: string): LoggedRequest[] {
    const match = path.endsWith('*') ? (p: string) => p.startsWith(path.slice(0, -1)) : (p: string) => p === path;
    return this.log.filter((r) => r.method === method && match(r.path));
  }

  /** Drops every live session (as a BMC reboot or timeout would). */
  expireSessions(): void {
    this.sessions.clear();
  }

  systemEtag(): string {
    return this.#etag(`sys-${this.systemVersion}`);
  }

  #etag(v: string): string {
    return this.opts.weakEtag ? `W/"${v}"` : `"${v}"`;
  }

  #system(): Record<string, unknown> {
    const base = this.systemPath;
    return {
      '@odata.id': base,
      '@odata.type': '#ComputerSystem.v1_13_0.ComputerSystem',
      ...(this.opts.etag !== 'none' ? { '@odata.etag': this.systemEtag() } : {}),
      Id: '1',
      Name: 'System',
      UUID: '4c4c4544-0042-3510-8057-b7c04f4e3132',
      Manufacturer: this.vendor.manufacturer,
      Model: this.vendor.model,
      SerialNumber: 'SN-0001',
      PowerState: this.powerState,
      Boot: {
        BootSourceOverrideEnabled: this.boot.enabled,
        BootSourceOverrideTarget: this.boot.target,
        'BootSourceOverrideTarget@Redfish.AllowableValues': ['None', 'Pxe', 'Cd', 'Hdd', 'BiosSetup', 'UefiTarget', 'UefiHttp'],
        BootSourceOverrideMode: this.boot.mode,
        'BootSourceOverrideMode@Redfish.AllowableValues': ['UEFI', 'Legacy'],
        ...(this.boot.uefiTarget ? { UefiTargetBootSourceOverride: this.boot.uefiTarget } : {}),
      },
      ...(this.opts.virtualMedia === 'systems' || this.opts.virtualMedia === 'both' ? { VirtualMedia: { '@odata.id': `${base}/VirtualMedia` } } : {}),
      Links: { ManagedBy: [{ '@odata.id': this.managerPath }] },
      Actions: {
        '#ComputerSystem.Reset': {
          target: `${base}/Actions/ComputerSystem.Reset`,
          'ResetType@Redfish.AllowableValues': ['On', 'ForceOff', 'GracefulShutdown', 'ForceRestart', 'GracefulRestart', 'PushPowerButton'],
        },
      },
    };
  }

  #manager(): Record<string, unknown> {
    const vm = this.opts.virtualMedia === 'managers' || this.opts.virtualMedia === 'both';
    return {
      '@odata.id': this.managerPath,
      '@odata.type': '#Manager.v1_10_0.Manager',
      Id: this.vendor.managerId,
      Name: 'Manager',
      ManagerType: 'BMC',
      Model: this.vendor.managerModel,
      FirmwareVersion: '7.00.00.00',
      ...(vm ? { VirtualMedia: { '@odata.id': `${this.managerPath}/VirtualMedia` } } : {}),
      Links: { ManagerForServers: [{ '@odata.id': this.systemPath }] },
      Actions: {
        '#Manager.Reset': { target: `${this.managerPath}/Actions/Manager.Reset` },
        ...(this.opts.vendor === 'dell'
          ? {
              Oem: {
                '#OemManager.v1_4_0.OemManager#OemManager.ImportSystemConfiguration': {
                  target: `${this.managerPath}/Actions/Oem/EID_674_Manager.ImportSystemConfiguration`,
                },
              },
            }
          : {}),
      },
    };
  }

  #slot(collection: string, s: Slot): Record<string, unknown> {
    const path = `${collection}/${s.id}`;
    const actions = this.opts.virtualMediaActions !== false;
    return {
      '@odata.id': path,
      '@odata.type': '#VirtualMedia.v1_3_0.VirtualMedia',
      ...(this.opts.etag !== 'none' ? { '@odata.etag': this.#etag(`vm-${this.vmVersion}`) } : {}),
      Id: s.id,
      Name: s.name,
      MediaTypes: s.mediaTypes,
      // Supermicro keeps the last Image around after an eject (ConnectedVia tells the truth).
      Image: this.opts.vendor === 'supermicro' ? s.image : s.inserted ? s.image : null,
      Inserted: s.inserted,
      WriteProtected: s.writeProtected,
      ConnectedVia: s.connectedVia,
      ...(actions
        ? {
            Actions: {
              '#VirtualMedia.InsertMedia': { target: `${path}/Actions/VirtualMedia.InsertMedia` },
              '#VirtualMedia.EjectMedia': { target: `${path}/Actions/VirtualMedia.EjectMedia` },
            },
          }
        : {}),
    };
  }

  #vmCollections(): string[] {
    const out: string[] = [];
    if (this.opts.virtualMedia === 'managers' || this.opts.virtualMedia === 'both') out.push(`${this.managerPath}/VirtualMedia`);
    if (this.opts.virtualMedia === 'systems' || this.opts.virtualMedia === 'both') out.push(`${this.systemPath}/VirtualMedia`);
    return out;
  }

  #root(): Record<string, unknown> {
    return {
      '@odata.id': '/redfish/v1/',
      '@odata.type': '#ServiceRoot.v1_5_0.ServiceRoot',
      Id: 'RootService',
      Name: 'Root Service',
      RedfishVersion: '1.11.0',
      UUID: '92384634-2938-2342-8820-489239905423',
      ...this.vendor.root,
      Systems: { '@odata.id': '/redfish/v1/Systems' },
      Managers: { '@odata.id': '/redfish/v1/Managers' },
      ...(this.opts.sessions !== false
        ? {
            SessionService: { '@odata.id': '/redfish/v1/SessionService' },
            Links: { Sessions: { '@odata.id': '/redfish/v1/SessionService/Sessions' } },
          }
        : {}),
    };
  }

  #later(ms: number, fn: () => void): void {
    if (ms <= 0) {
      fn();
      return;
    }
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    this.#timers.add(t);
  }

  #applyReset(type: string): void {
    const delay = this.opts.powerDelayMs ?? 0;
    switch (type) {
      case 'On':
      case 'ForceOn':
        this.#later(delay, () => {
          this.powerState = 'On';
          this.systemVersion += 1;
        });
        break;
      case 'ForceOff':
        this.#later(delay, () => {
          this.powerState = 'Off';
          this.systemVersion += 1;
        });
        break;
      case 'GracefulShutdown':
        if (!this.opts.ignoreGracefulShutdown)
          this.#later(delay, () => {
            this.powerState = 'Off';
            this.systemVersion += 1;
          });
        break;
      case 'PushPowerButton':
        this.#later(delay, () => {
          this.powerState = this.powerState === 'On' ? 'Off' : 'On';
          this.systemVersion += 1;
        });
        break;
      default: // restarts
        if (this.powerState === 'On') {
          this.powerState = 'Off';
          this.#later(delay, () => {
            this.powerState = 'On';
            this.systemVersion += 1;
          });
        } else
          this.#later(delay, () => {
            this.powerState = 'On';
            this.systemVersion += 1;
          });
    }
  }

  #authKind(req: http.IncomingMessage): LoggedRequest['auth'] {
    const token = req.headers['x-auth-token'];
    if (typeof token === 'string') return this.sessions.has(token) ? 'session' : 'bad';
    const auth = req.headers.authorization;
    if (typeof auth === 'string' && auth.startsWith('Basic ')) {
      const [u, ...rest] = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':');
      return u === this.opts.username && rest.join(':') === this.opts.password ? 'basic' : 'bad';
    }
    return 'none';
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = raw;
    }
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0]!.replace(/(.)\/$/, '$1');
    const auth = this.#authKind(req);
    if (this.opts.latencyMs) await new Promise((r) => setTimeout(r, this.opts.latencyMs));
    const entry: LoggedRequest = { method, path, headers: req.headers, body, status: 0, auth, at: Date.now() };
    this.log.push(entry);
    const reply = (status: number, payload?: unknown, headers: Record<string, string> = {}) => {
      entry.status = status;
      const text = payload === undefined ? '' : JSON.stringify(payload);
      res.writeHead(status, { ...(text ? { 'Content-Type': 'application/json' } : {}), 'OData-Version': '4.0', ...headers });
      res.end(text);
      this.inFlight -= 1;
    };
    try {
      this.#route(method, path, body, auth, req, reply);
    } catch (err) {
      reply(500, errorBody('Base.1.8.InternalError', String(err)));
    }
  }

  #route(
    method: string,
    path: string,
    body: unknown,
    auth: LoggedRequest['auth'],
    req: http.IncomingMessage,
    reply: (status: number, payload?: unknown, headers?: Record<string, string>) => void,
  ): void {
    const b = (body ?? {}) as Record<string, unknown>;
    if (path === '/redfish/v1' && method === 'GET') return reply(200, this.#root());
    if (path === '/redfish/v1/SessionService/Sessions' && method === 'POST') return this.#createSession(b, reply);
    if (path === '/redfish/v1/SessionService' && method === 'GET' && this.opts.sessions !== false) {
      return reply(200, { '@odata.id': path, Id: 'SessionService', ServiceEnabled: true, SessionTimeout: 1800, Sessions: { '@odata.id': `${path}/Sessions` } });
    }
    if (auth === 'none' || auth === 'bad') {
      return reply(401, errorBody('Base.1.8.NoValidSession', 'There is no valid session established with the implementation.'), {
        'WWW-Authenticate': 'Basic realm="fixture"',
      });
    }
    const fault = this.#faults.find((f) => f.times > 0 && (f.method ?? 'GET') === method && f.path === path);
    if (fault) {
      fault.times -= 1;
      return reply(
        fault.status,
        errorBody('Base.1.8.ServiceTemporarilyUnavailable', fault.message ?? 'The service is temporarily unavailable.'),
        fault.retryAfter !== undefined ? { 'Retry-After': String(fault.retryAfter) } : {},
      );
    }
    const sessionMatch = /^\/redfish\/v1\/SessionService\/Sessions\/([^/]+)$/.exec(path);
    if (sessionMatch && method === 'DELETE') {
      for (const [token, id] of this.sessions) if (id === sessionMatch[1]) this.sessions.delete(token);
      return reply(204);
    }
    if (path === '/redfish/v1/Systems' && method === 'GET') {
      return reply(200, { '@odata.id': path, Name: 'Computer System Collection', 'Members@odata.count': 1, Members: [{ '@odata.id': this.systemPath }] });
    }
    if (path === '/redfish/v1/Managers' && method === 'GET') {
      return reply(200, { '@odata.id': path, 'Members@odata.count': 1, Members: [{ '@odata.id': this.managerPath }] });
    }
    if (path === this.systemPath && method === 'GET') {
      return reply(200, this.#system(), this.opts.etag !== 'none' && !this.opts.etagInBodyOnly ? { ETag: this.systemEtag() } : {});
    }
    if (path === this.systemPath && method === 'PATCH') return this.#patchSystem(b, req, reply);
    if (path === `${this.systemPath}/Actions/ComputerSystem.Reset` && method === 'POST') return this.#reset(b, reply);
    if (path === this.managerPath && method === 'GET') return reply(200, this.#manager());
    if (path === `${this.managerPath}/Attributes` && method === 'GET' && this.opts.vendor === 'dell') {
      return reply(200, { '@odata.id': path, Id: 'Attributes', Attributes: { ...this.attributes } });
    }
    if (path === `${this.managerPath}/Actions/Oem/EID_674_Manager.ImportSystemConfiguration` && method === 'POST' && this.opts.vendor === 'dell') {
      return this.#importScp(b, reply);
    }
    const taskMatch = /^\/redfish\/v1\/TaskService\/(?:TaskMonitors|Tasks)\/([^/]+)$/.exec(path);
    if (taskMatch && method === 'GET') return this.#pollTask(taskMatch[1]!, reply);
    for (const collection of this.#vmCollections()) {
      if (path === collection && method === 'GET') {
        return reply(200, {
          '@odata.id': path,
          Name: 'Virtual Media Services',
          'Members@odata.count': this.slots.length,
          Members: this.slots.map((s) => ({ '@odata.id': `${collection}/${s.id}` })),
        });
      }
      for (const s of this.slots) {
        const p = `${collection}/${s.id}`;
        if (path === p && method === 'GET')
          return reply(
            200,
            this.#slot(collection, s),
            this.opts.etag !== 'none' && !this.opts.etagInBodyOnly ? { ETag: this.#etag(`vm-${this.vmVersion}`) } : {},
          );
        if (path === p && method === 'PATCH' && this.opts.virtualMediaActions === false) return this.#patchSlot(s, b, reply);
        if (this.opts.virtualMediaActions !== false && path === `${p}/Actions/VirtualMedia.InsertMedia` && method === 'POST') return this.#insert(s, b, reply);
        if (this.opts.virtualMediaActions !== false && path === `${p}/Actions/VirtualMedia.EjectMedia` && method === 'POST') {
          s.inserted = false;
          s.connectedVia = 'NotConnected';
          this.vmVersion += 1;
          if (this.opts.vendor !== 'supermicro') s.image = null;
          return reply(204);
        }
      }
    }
    reply(404, errorBody('Base.1.8.ResourceMissingAtURI', `The resource at the URI ${path} was not found.`));
  }

  #createSession(b: Record<string, unknown>, reply: (s: number, p?: unknown, h?: Record<string, string>) => void): void {
    if (this.opts.sessions === false) return reply(405, errorBody('Base.1.8.OperationNotAllowed', 'Sessions are not supported.'));
    if (b.UserName !== this.opts.username || b.Password !== this.opts.password) {
      return reply(401, errorBody('Base.1.8.InsufficientPrivilege', 'Invalid username or password.'));
    }
    const max = this.opts.sessions?.max ?? 4;
    if (this.openSessions >= max) {
      const status = this.opts.sessions?.limitStatus ?? 503;
      return reply(
        status,
        status === 503
          ? errorBody('IDRAC.2.4.RAC0218', 'The maximum number of user sessions is reached.')
          : errorBody(
              'Base.1.8.SessionLimitExceeded',
              'The session establishment failed due to the number of simultaneous sessions exceeding the limit of the implementation.',
            ),
        status === 503 ? { 'Retry-After': '1' } : {},
      );
    }
    const id = String(this.#nextSession++);
    const token = randomBytes(16).toString('hex');
    this.sessions.set(token, id);
    this.sessionsCreated += 1;
    this.maxSessionsSeen = Math.max(this.maxSessionsSeen, this.openSessions);
    const location = `/redfish/v1/SessionService/Sessions/${id}`;
    reply(201, { '@odata.id': location, Id: id, UserName: b.UserName }, { 'X-Auth-Token': token, Location: location });
  }

  #checkEtag(req: http.IncomingMessage, current: string, reply: (s: number, p?: unknown) => void): boolean {
    if (this.beforePatch) {
      const hook = this.beforePatch;
      this.beforePatch = undefined;
      hook(this);
    }
    const ifMatch = req.headers['if-match'];
    const now = current === 'sys' ? this.systemEtag() : this.#etag(`vm-${this.vmVersion}`);
    if (this.opts.etag === 'required' && !ifMatch) {
      reply(428, errorBody('Base.1.8.PreconditionRequired', 'A precondition header (If-Match) is required for this request.'));
      return false;
    }
    if (this.opts.etag !== 'none' && ifMatch && ifMatch !== '*' && ifMatch.replace(/^W\//, '') !== now.replace(/^W\//, '')) {
      reply(412, errorBody('Base.1.8.PreconditionFailed', 'The ETag supplied did not match the ETag required to change this resource.'));
      return false;
    }
    return true;
  }

  #patchSystem(b: Record<string, unknown>, req: http.IncomingMessage, reply: (s: number, p?: unknown) => void): void {
    if (!this.#checkEtag(req, 'sys', reply)) return;
    const boot = b.Boot as Record<string, unknown> | undefined;
    if (!boot) return reply(400, errorBody('Base.1.8.PropertyMissing', 'The property Boot is a required property and must be included in the request.'));
    const target = boot.BootSourceOverrideTarget;
    if (target !== undefined && !['None', 'Pxe', 'Cd', 'Hdd', 'BiosSetup', 'UefiTarget', 'UefiHttp'].includes(String(target))) {
      return reply(
        400,
        errorBody(
          'Base.1.8.PropertyValueNotInList',
          `The value ${String(target)} for the property BootSourceOverrideTarget is not in the list of acceptable values.`,
        ),
      );
    }
    this.bootWrites += 1;
    const persist = this.opts.boot === 'persists' || (this.opts.boot === 'first-write-lost' && this.bootWrites > 1);
    if (persist) {
      if (typeof boot.BootSourceOverrideEnabled === 'string') this.boot.enabled = boot.BootSourceOverrideEnabled;
      if (typeof target === 'string') this.boot.target = target;
      if (typeof boot.BootSourceOverrideMode === 'string') this.boot.mode = boot.BootSourceOverrideMode;
      if (typeof boot.UefiTargetBootSourceOverride === 'string') this.boot.uefiTarget = boot.UefiTargetBootSourceOverride;
      this.systemVersion += 1;
    }
    reply(204);
  }

  #reset(b: Record<string, unknown>, reply: (s: number, p?: unknown, h?: Record<string, string>) => void): void {
    const type = String(b.ResetType ?? '');
    if (!['On', 'ForceOff', 'GracefulShutdown', 'ForceRestart', 'GracefulRestart', 'PushPowerButton'].includes(type)) {
      return reply(
        400,
        errorBody(
          'Base.1.8.ActionParameterValueNotInList',
          `The value ${type} for the parameter ResetType in the action ComputerSystem.Reset is not in the list of acceptable values.`,
        ),
      );
    }
    if (this.opts.resetTask) {
      const id = String(this.#nextTask++);
      const polls = this.opts.resetTask.polls ?? 2;
      this.tasks.set(id, {
        id,
        polls,
        pollsLeft: polls,
        outcome: this.opts.resetTask.outcome ?? 'Completed',
        messages: this.opts.resetTask.messages ?? ['Unable to complete the power action: the host is in an invalid state.'],
        apply: () => this.#applyReset(type),
      });
      return reply(
        202,
        { '@odata.id': `/redfish/v1/TaskService/Tasks/${id}`, Id: id, TaskState: 'New' },
        { Location: `/redfish/v1/TaskService/TaskMonitors/${id}`, ...this.#taskRetryAfter() },
      );
    }
    this.#applyReset(type);
    reply(204);
  }

  #taskRetryAfter(): Record<string, string> {
    return this.opts.resetTask && this.opts.resetTask.retryAfter === false ? {} : { 'Retry-After': '0' };
  }

  #pollTask(id: string, reply: (s: number, p?: unknown, h?: Record<string, string>) => void): void {
    const task = this.tasks.get(id);
    if (!task) return reply(404, errorBody('Base.1.8.ResourceMissingAtURI', `The task ${id} was not found.`));
    const resource = (state: string, status: string, messages: string[] = []) => ({
      '@odata.id': `/redfish/v1/TaskService/Tasks/${id}`,
      '@odata.type': '#Task.v1_4_3.Task',
      Id: id,
      TaskState: state,
      TaskStatus: status,
      PercentComplete: state === 'Running' ? Math.round(100 * (1 - task.pollsLeft / Math.max(1, task.polls))) : 100,
      Messages: messages.map((m) => ({ MessageId: 'Base.1.8.GeneralError', Message: m })),
    });
    if (task.pollsLeft > 0) {
      task.pollsLeft -= 1;
      return reply(202, resource('Running', 'OK'), this.#taskRetryAfter());
    }
    if (task.outcome === 'Completed') {
      if (task.apply) {
        task.apply();
        task.apply = () => {};
      }
      return reply(200, resource('Completed', 'OK', ['The task completed successfully.']));
    }
    return reply(200, resource('Exception', 'Critical', task.messages));
  }

  #insert(s: Slot, b: Record<string, unknown>, reply: (s: number, p?: unknown) => void): void {
    if (!s.mediaTypes.some((t) => t === 'CD' || t === 'DVD'))
      return reply(400, errorBody('Base.1.8.ActionNotSupported', 'This device does not support CD media.'));
    if (this.opts.insertMediaStrict) {
      const unsupported = ['Inserted', 'WriteProtected'].filter((k) => k in b);
      if (unsupported.length) {
        return reply(
          400,
          errorBody(
            'Base.1.8.ActionParameterNotSupported',
            `The parameter ${unsupported[0]} for the action VirtualMedia.InsertMedia is not supported on the target resource.`,
          ),
        );
      }
      if (!b.TransferProtocolType) {
        return reply(
          400,
          errorBody(
            'Base.1.8.ActionParameterMissing',
            'The action VirtualMedia.InsertMedia requires the parameter TransferProtocolType to be present in the request body.',
          ),
        );
      }
    }
    if (typeof b.Image !== 'string' || !b.Image)
      return reply(
        400,
        errorBody('Base.1.8.ActionParameterMissing', 'The action VirtualMedia.InsertMedia requires the parameter Image to be present in the request body.'),
      );
    if (s.inserted) return reply(409, errorBody('Base.1.8.ResourceInUse', 'The virtual media is already in use.'));
    s.image = b.Image;
    s.inserted = b.Inserted === undefined ? true : Boolean(b.Inserted);
    s.writeProtected = b.WriteProtected === undefined ? true : Boolean(b.WriteProtected);
    s.connectedVia = 'URI';
    this.vmVersion += 1;
    reply(204);
  }

  #patchSlot(s: Slot, b: Record<string, unknown>, reply: (s: number, p?: unknown) => void): void {
    if ('Image' in b) s.image = typeof b.Image === 'string' && b.Image ? b.Image : null;
    if ('Inserted' in b) s.inserted = Boolean(b.Inserted);
    if ('WriteProtected' in b) s.writeProtected = Boolean(b.WriteProtected);
    s.connectedVia = s.inserted ? 'URI' : 'NotConnected';
    this.vmVersion += 1;
    reply(204);
  }

  #importScp(b: Record<string, unknown>, reply: (s: number, p?: unknown, h?: Record<string, string>) => void): void {
    const buffer = String(b.ImportBuffer ?? '');
    const attrs = [...buffer.matchAll(/<Attribute Name="([^"]+)">([^<]*)<\/Attribute>/g)];
    if (!attrs.length) return reply(400, errorBody('SYS405', 'Unable to apply the configuration changes: no attributes.'));
    const id = `JID_${String(this.#nextTask++).padStart(12, '0')}`;
    this.tasks.set(id, {
      id,
      polls: 1,
      pollsLeft: 1,
      outcome: 'Completed',
      messages: [],
      apply: () => {
        for (const [, name, value] of attrs) this.attributes[name!.replace('#', '.')] = value!;
      },
    });
    reply(202, undefined, { Location: `/redfish/v1/TaskService/Tasks/${id}` });
  }
}

export async function startRedfishFixture(opts: RedfishFixtureOptions = {}): Promise<RedfishFixture> {
  return new RedfishFixture(opts).start();
}
