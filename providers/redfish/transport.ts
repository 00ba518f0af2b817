// One HTTP exchange with a BMC over node:http / node:tls, with TLS under our control: verification
// against the system store or a CA bundle, or a pinned SHA-256 certificate fingerprint. The TLS
// handshake (and the pin check) completes before the request is written, so credentials never go
// to a peer that failed verification. No retries and no auth here: the client layers those.
import http from 'node:http';
import { isIP } from 'node:net';
import tls from 'node:tls';
import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { HangarError } from '../../domain/errors.ts';
import { abortReason } from '../support/sleep.ts';

export interface RedfishTlsOptions {
  /** Verify the BMC's certificate (default true). `false` is an explicit, logged opt-in. */
  verify?: boolean;
  /** PEM CA bundle to verify against instead of the system store. */
  caPem?: string;
  /** Pinned SHA-256 fingerprint of the BMC's certificate (`AA:BB:...`, hex, optionally `sha256:`-prefixed). Replaces chain verification. */
  fingerprint?: string;
}

export interface RedfishResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body, or undefined when empty / not JSON. */
  body: unknown;
  text: string;
}

export interface SendOptions {
  endpoint: URL;
  tls: RedfishTlsOptions;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: unknown;
  timeoutMs: number;
  /** Aborts the request; it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

const MAX_BODY_BYTES = 16 * 1024 * 1024;

const TLS_ERROR_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'EPROTO',
]);

/** Normalises a fingerprint to Node's `fingerprint256` form (`AA:BB:...`). */
export function normaliseFingerprint(value: string): string {
  const hex = value
    .trim()
    .replace(/^sha256[:=]/i, '')
    .replace(/[^0-9a-f]/gi, '')
    .toUpperCase();
  if (hex.length !== 64) {
    throw new HangarError('validation_failed', 'the TLS fingerprint must be a SHA-256 digest (64 hex digits)', { 'tls.fingerprint': 'not a SHA-256 digest' });
  }
  return hex.match(/../g)!.join(':');
}

function connectTls(endpoint: URL, opts: RedfishTlsOptions, timeoutMs: number): Promise<tls.TLSSocket> {
  const host = endpoint.hostname.replace(/^\[|\]$/g, '');
  const port = Number(endpoint.port || 443);
  const pin = opts.fingerprint ? normaliseFingerprint(opts.fingerprint) : undefined;
  const verifyChain = opts.verify !== false && !pin;
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host,
      port,
      ...(isIP(host) ? {} : { servername: host }),
      ...(opts.caPem ? { ca: opts.caPem } : {}),
      rejectUnauthorized: verifyChain,
      ALPNProtocols: ['http/1.1'],
    });
    const timer = setTimeout(() => socket.destroy(Object.assign(new Error('TLS handshake timed out'), { code: 'ETIMEDOUT' })), timeoutMs);
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      if (pin) {
        const got = socket.getPeerCertificate()?.fingerprint256;
        if (!got || got.toUpperCase() !== pin) {
          socket.destroy();
          reject(
            new HangarError(
              'tls_verification_failed',
              `the certificate of ${endpoint.host} does not match the pinned SHA-256 fingerprint (it presented ${got ?? 'no certificate'})`,
              { bmc: endpoint.origin },
            ),
          );
          return;
        }
        // A CA given together with a pin must verify the chain too.
        if (opts.caPem && !socket.authorized) {
          socket.destroy();
          reject(
            new HangarError('tls_verification_failed', `the certificate of ${endpoint.host} is not trusted: ${String(socket.authorizationError)}`, {
              bmc: endpoint.origin,
            }),
          );
          return;
        }
      }
      socket.removeAllListeners('error');
      resolve(socket);
    });
  });
}

/** Maps a socket/TLS failure to a HangarError without any request details beyond method and path. */
export function transportError(err: unknown, endpoint: URL, method: string, path: string): HangarError {
  if (err instanceof HangarError) return err;
  const e = err as NodeJS.ErrnoException & { reason?: string };
  const code = e?.code ?? '';
  const what = `${method} ${path} on ${endpoint.host}`;
  if (TLS_ERROR_CODES.has(code) || /certificate|self.signed|ssl|tls/i.test(e?.message ?? '')) {
    return new HangarError('tls_verification_failed', `TLS verification of ${endpoint.host} failed (${code || 'tls'}): ${e?.message ?? 'unknown'}`, {
      bmc: endpoint.origin,
    });
  }
  if (code === 'ETIMEDOUT' || code === 'ESOCKETTIMEDOUT') {
    return new HangarError('bmc_unreachable', `${what} timed out`, { bmc: endpoint.origin });
  }
  return new HangarError('bmc_unreachable', `${what} failed: ${code ? `${code} ` : ''}${e?.message ?? String(err)}`, { bmc: endpoint.origin });
}

/** Sends one request and returns the response; throws HangarError on transport failures only. */
export function send(opts: SendOptions): Promise<RedfishResponse> {
  const { endpoint, method, path } = opts;
  const secure = endpoint.protocol === 'https:';
  const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
  const headers: Record<string, string> = {
    Accept: 'application/json',
    'OData-Version': '4.0',
    ...(payload ? { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(payload.length) } : {}),
    ...opts.headers,
  };
  if (opts.signal?.aborted) return Promise.reject(abortReason(opts.signal));
  return new Promise<RedfishResponse>((resolve, reject) => {
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // A cancelled call ends with the cancellation, not with the socket error it caused.
      reject(opts.signal?.aborted ? abortReason(opts.signal) : transportError(err, endpoint, method, path));
    };
    const req = http.request({
      host: endpoint.hostname.replace(/^\[|\]$/g, ''),
      port: Number(endpoint.port || (secure ? 443 : 80)),
      method,
      path,
      headers: { Host: endpoint.host, ...headers },
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(secure
        ? {
            agent: undefined,
            createConnection: (_o: unknown, cb: (err: Error | null, socket: Duplex) => void) => {
              connectTls(endpoint, opts.tls, opts.timeoutMs).then(
                (s) => cb(null, s),
                (e) => cb(e as Error, undefined as unknown as Duplex),
              );
              return undefined;
            },
          }
        : { agent: false }),
    });
    const timer = setTimeout(() => req.destroy(Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' })), opts.timeoutMs);
    req.on('error', fail);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY_BYTES) {
          req.destroy(new Error(`response body larger than ${MAX_BODY_BYTES} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on('error', fail);
      res.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        if (text.trim()) {
          try {
            body = JSON.parse(text);
          } catch {
            body = undefined;
          }
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text });
      });
    });
    req.end(payload);
  });
}

/** Redfish error messages: `error.message`, then each `@Message.ExtendedInfo[].Message` (with its MessageId). */
export function extendedMessages(body: unknown): string[] {
  const out: string[] = [];
  const push = (info: unknown) => {
    if (!Array.isArray(info)) return;
    for (const m of info) {
      if (!m || typeof m !== 'object') continue;
      const rec = m as Record<string, unknown>;
      const msg = typeof rec.Message === 'string' ? rec.Message : undefined;
      const id = typeof rec.MessageId === 'string' ? rec.MessageId : undefined;
      if (msg) out.push(id ? `${msg} [${id}]` : msg);
      else if (id) out.push(id);
    }
  };
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    const err = b.error as Record<string, unknown> | undefined;
    if (err && typeof err === 'object') {
      if (typeof err.message === 'string') out.push(err.message);
      push(err['@Message.ExtendedInfo']);
    }
    push(b['@Message.ExtendedInfo']);
    // Property-level annotations (`Boot@Message.ExtendedInfo`) and Task `Messages`.
    for (const [k, v] of Object.entries(b)) if (k.endsWith('@Message.ExtendedInfo') && k !== '@Message.ExtendedInfo') push(v);
    push(b.Messages);
  }
  return [...new Set(out)];
}

/** Message ids from an error body (for recognising session exhaustion and similar conditions). */
export function messageIds(body: unknown): string[] {
  const ids: string[] = [];
  const b = (body ?? {}) as Record<string, unknown>;
  const err = (b.error ?? {}) as Record<string, unknown>;
  if (typeof err.code === 'string') ids.push(err.code);
  for (const list of [err['@Message.ExtendedInfo'], b['@Message.ExtendedInfo']]) {
    if (Array.isArray(list))
      for (const m of list) if (m && typeof (m as Record<string, unknown>).MessageId === 'string') ids.push((m as Record<string, string>).MessageId!);
  }
  return ids;
}

/** `Retry-After` in milliseconds (delta-seconds or HTTP-date), or undefined. */
export function retryAfterMs(headers: IncomingHttpHeaders, now = Date.now()): number | undefined {
  const raw = headers['retry-after'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (!value) return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
