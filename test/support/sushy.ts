// sushy-tools (OpenStack's Redfish emulator) for tests: one emulator process per call on
// 127.0.0.1:<free port>, fake systems driver (no libvirt), HTTP basic auth from a bcrypt htpasswd,
// optionally TLS with a self-signed certificate made at start-up. Everything lives in a temp dir
// (config, htpasswd, state database, downloaded images) that stop() removes.
//
//   const bmc = await startSushy({ systems: 3, tls: true });
//   ... new RedfishClient({ endpoint: bmc.url, username: bmc.username, password: bmc.password, tls: { caPem: bmc.caPem } })
//   await bmc.stop();
//
// The emulator downloads the image of a virtual media insert: serve one with serveImage().
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ROOT } from './services.ts';
import { writeSelfSignedCert } from './self-signed-cert.ts';

export const SUSHY_BIN = resolve(ROOT, '.tools/sushy-venv/bin/sushy-emulator');
const SUSHY_PYTHON = resolve(ROOT, '.tools/sushy-venv/bin/python');

export interface FakeSystemSpec {
  name?: string;
  uuid?: string;
  powerState?: 'On' | 'Off';
  nics?: Array<{ mac: string; ip?: string }>;
}

export interface SushyOptions {
  /** A count (named hangar-node-1…) or explicit systems; default 1. */
  systems?: number | FakeSystemSpec[];
  featureSet?: 'full' | 'vmedia' | 'minimum';
  tls?: boolean;
  username?: string;
  password?: string;
}

export interface SushyEmulator {
  /** `http(s)://127.0.0.1:<port>` */
  url: string;
  username: string;
  password: string;
  /** Redfish ids (the fake driver uses the UUIDs) and names. */
  systems: Array<{ id: string; name: string; path: string }>;
  /** The self-signed certificate (PEM) when tls; use it as the CA. */
  caPem?: string;
  /** SHA-256 fingerprint of the certificate, `AA:BB:...`. */
  fingerprint256?: string;
  /** Emulator output so far (for failure messages). */
  output: () => string;
  stop: () => Promise<void>;
}

/** Builds the venv with scripts/setup-sushy.sh when it is missing; returns the emulator binary. */
export function ensureSushy(): string {
  if (!existsSync(SUSHY_BIN) || !existsSync(SUSHY_PYTHON)) {
    execFileSync('bash', [resolve(ROOT, 'scripts/setup-sushy.sh')], { stdio: ['ignore', 'pipe', 'inherit'], timeout: 300_000 });
  }
  return SUSHY_BIN;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolvePort(port));
    });
  });
}

function macFor(i: number): string {
  const b = randomBytes(3);
  return `52:54:00:${b[0]!.toString(16).padStart(2, '0')}:${b[1]!.toString(16).padStart(2, '0')}:${((b[2]! + i) % 256).toString(16).padStart(2, '0')}`;
}

/** A bcrypt htpasswd line; cost 4 because the emulator checks it on every request. The password goes over stdin. */
function htpasswdLine(python: string, username: string, password: string): string {
  const hash = execFileSync(python, ['-c', 'import bcrypt, sys; print(bcrypt.hashpw(sys.stdin.buffer.read(), bcrypt.gensalt(4)).decode())'], {
    input: password,
    encoding: 'utf8',
  }).trim();
  return `${username}:${hash}\n`;
}

function rootAnswers(url: string): Promise<boolean> {
  return new Promise((res) => {
    const lib = url.startsWith('https:') ? https : http;
    const req = lib.get(`${url}/redfish/v1/`, { rejectUnauthorized: false, timeout: 1000 }, (r) => {
      r.resume();
      res(r.statusCode === 200);
    });
    req.on('error', () => res(false));
    req.on('timeout', () => {
      req.destroy();
      res(false);
    });
  });
}

// Emulators still running when the test process exits (a crashed test) are killed with it.
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

async function stopChild(child: ChildProcess): Promise<void> {
  running.delete(child);
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

export async function startSushy(opts: SushyOptions = {}): Promise<SushyEmulator> {
  const bin = ensureSushy();
  const dir = mkdtempSync(join(tmpdir(), 'hangar-sushy-'));
  const username = opts.username ?? 'hangar-admin';
  const password = opts.password ?? `pw-${randomBytes(9).toString('base64url')}`;
  const specs: FakeSystemSpec[] =
    typeof opts.systems === 'object' ? opts.systems : Array.from({ length: opts.systems ?? 1 }, (_, i) => ({ name: `hangar-node-${i + 1}` }));
  const systems = specs.map((s, i) => ({
    uuid: s.uuid ?? randomUUID(),
    name: s.name ?? `hangar-node-${i + 1}`,
    power_state: s.powerState ?? 'Off',
    external_notifier: false,
    nics: (s.nics ?? [{ mac: macFor(i), ip: `192.0.2.${10 + i}` }]).map((n) => ({ mac: n.mac, ip: n.ip ?? '' })),
  }));
  writeFileSync(join(dir, 'htpasswd'), htpasswdLine(SUSHY_PYTHON, username, password), { mode: 0o600 });
  let tls: { cert: string; key: string } | undefined;
  let caPem: string | undefined;
  let fingerprint256: string | undefined;
  if (opts.tls) {
    tls = writeSelfSignedCert(dir);
    caPem = readFileSync(tls.cert, 'utf8');
    fingerprint256 = new X509Certificate(caPem).fingerprint256;
  }

  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const config = [
      '# Written by test/support/sushy.ts',
      'import json',
      `SUSHY_EMULATOR_LISTEN_IP = '127.0.0.1'`,
      `SUSHY_EMULATOR_LISTEN_PORT = ${port}`,
      'SUSHY_EMULATOR_FAKE_DRIVER = True',
      `SUSHY_EMULATOR_FEATURE_SET = ${JSON.stringify(opts.featureSet ?? 'full')}`,
      `SUSHY_EMULATOR_AUTH_FILE = ${JSON.stringify(join(dir, 'htpasswd'))}`,
      // The state database defaults to a shared /tmp/sushy-emulator: keep ours private.
      `SUSHY_EMULATOR_STATE_DIR = ${JSON.stringify(join(dir, 'state'))}`,
      `SUSHY_EMULATOR_FAKE_SYSTEMS = json.loads(${JSON.stringify(JSON.stringify(systems))})`,
      ...(tls ? [`SUSHY_EMULATOR_SSL_CERT = ${JSON.stringify(tls.cert)}`, `SUSHY_EMULATOR_SSL_KEY = ${JSON.stringify(tls.key)}`] : []),
      '',
    ].join('\n');
    const configFile = join(dir, 'emulator.conf');
    writeFileSync(configFile, config);
    const child = spawn(bin, ['--config', configFile], {
      cwd: dir,
      // Downloaded virtual media images land in TMPDIR: keep them in our dir too.
      env: { ...process.env, TMPDIR: dir, PYTHONUNBUFFERED: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(child);
    let out = '';
    child.stdout!.on('data', (d) => {
      out += String(d);
    });
    child.stderr!.on('data', (d) => {
      out += String(d);
    });
    const url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    const deadline = Date.now() + 30_000;
    let ready = false;
    while (Date.now() < deadline && child.exitCode === null) {
      if (await rootAnswers(url)) {
        ready = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 150));
    }
    if (!ready) {
      await stopChild(child);
      if (attempt < 3 && /Address already in use/i.test(out)) continue;
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`sushy-emulator did not answer on ${url}:\n${out}`);
    }
    return {
      url,
      username,
      password,
      systems: systems.map((s) => ({ id: s.uuid, name: s.name, path: `/redfish/v1/Systems/${s.uuid}` })),
      ...(caPem ? { caPem } : {}),
      ...(fingerprint256 ? { fingerprint256 } : {}),
      output: () => out,
      stop: async () => {
        await stopChild(child);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
}

/** A plain GET against the emulator with basic auth: the tests' independent view of the BMC. */
export function redfishGet(bmc: Pick<SushyEmulator, 'url' | 'username' | 'password' | 'caPem'>, path: string): Promise<Record<string, unknown>> {
  return new Promise((res, rej) => {
    const lib = bmc.url.startsWith('https:') ? https : http;
    const req = lib.get(
      `${bmc.url}${path}`,
      {
        headers: { Authorization: `Basic ${Buffer.from(`${bmc.username}:${bmc.password}`).toString('base64')}`, Accept: 'application/json' },
        ...(bmc.caPem ? { ca: bmc.caPem } : {}),
      },
      (r) => {
        let body = '';
        r.on('data', (d) => {
          body += String(d);
        });
        r.on('end', () => {
          if ((r.statusCode ?? 500) >= 400) {
            rej(new Error(`GET ${path} → ${r.statusCode}: ${body}`));
            return;
          }
          try {
            res(JSON.parse(body) as Record<string, unknown>);
          } catch (e) {
            rej(e as Error);
          }
        });
      },
    );
    req.on('error', rej);
  });
}

export interface ImageServer {
  /** URL of a tiny ISO-like file. */
  url: (name?: string) => string;
  /** Paths requested so far. */
  requests: string[];
  close: () => Promise<void>;
}

/** Serves a tiny file for virtual media inserts (the emulator downloads the image). */
export async function serveImage(): Promise<ImageServer> {
  const requests: string[] = [];
  const payload = Buffer.alloc(64 * 1024, 0);
  payload.write('CD001', 0x8001, 'latin1');
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    if (!(req.url ?? '').startsWith('/images/')) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': payload.length });
    res.end(req.method === 'HEAD' ? undefined : payload);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: (name = 'boot.iso') => `http://127.0.0.1:${port}/images/${name}`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
