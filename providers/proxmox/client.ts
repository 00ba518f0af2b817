// REST client for the Proxmox VE API (`https://host:8006/api2/json`). API-token auth, TLS
// verified by default (system store, a CA PEM, or a pinned leaf fingerprint), form-encoded
// bodies, streamed multipart uploads, error classification into Hangar's codes, and task
// polling. The token secret lives in a private field and is scrubbed from every message.
// No Temporal imports: long waits call `hooks.onWait` so activities can heartbeat.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import { randomBytes } from 'node:crypto';
import { HangarError } from '../../domain/errors.ts';
import type { ProviderHooks } from '../hypervisor.ts';
import { abortReason, sleep as abortableSleep, throwIfAborted } from '../support/sleep.ts';
import { RETRY_BACKOFF, WATCH_DEFAULTS } from '../support/poll-schedule.ts';
import { classifyFailure, notApplied, TLS_CODES } from './failures.ts';
import { normalizeFingerprint, PinnedAgent } from './tls.ts';
import { taskLogTail, waitForTask } from './task-wait.ts';

export { normalizeFingerprint } from './tls.ts';
export { encodeParams, isUpid, pvePath, upidNode } from './api-paths.ts';
import { encodeParams, isUpid, pvePath } from './api-paths.ts';

/** The logging surface the provider needs; a pino logger fits. */
export interface ProviderLogger {
  warn(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export const silentLogger: ProviderLogger = { warn() {}, info() {}, debug() {} };

export interface ProxmoxConnectionOptions {
  /** `https://pve.example:8006` (the `/api2/json` suffix is added when missing). */
  url: string;
  /** `user@realm!tokenid`. */
  tokenId: string;
  /** The token's secret (UUID). Never logged, never part of an error. */
  tokenSecret: string;
  /** PEM text of a CA (or the self-signed certificate) to verify the server against. */
  caPem?: string;
  /** Pinned SHA-256 fingerprint of the server's leaf certificate (`AB:CD:...`, any case, colons optional). */
  fingerprint?: string;
  /** Disables certificate verification entirely (ignored when a fingerprint or CA is set). Explicit opt-in; the provider warns loudly. */
  insecure?: boolean;
  /** Socket idle timeout per request (default 30 s). */
  timeoutMs?: number;
  /**
   * Quick in-call retries (default 3): GETs and calls marked idempotent retry any transient
   * failure; other writes retry only failures that prove nothing was applied ("got no worker",
   * a sync lock timeout, a refused connection), never a reset or timeout after the request left.
   */
  getRetries?: number;
  /** Delay before the first quick retry, doubled per retry (default 250 ms). */
  getRetryDelayMs?: number;
  /** Consecutive failed status polls a task wait tolerates before giving up (default 6). */
  taskPollFailures?: number;
  /** Watching a running task: first gap between polls (default 100 ms), growing with the wait up to the max (default 1 s). */
  taskPollInitialMs?: number;
  taskPollMaxMs?: number;
  /** Backoff after a failed task status call: first delay (default 2 s), doubled up to 30 s. */
  taskPollRetryMs?: number;
  /** Give up waiting for a task after this long (default 1 h); the task keeps running in Proxmox. */
  taskTimeoutMs?: number;
  hooks?: ProviderHooks;
  logger?: ProviderLogger;
}

export type ParamValue = string | number | boolean | undefined | null;
export type Params = Record<string, ParamValue>;

export interface TaskStatus {
  upid: string;
  node: string;
  status: 'running' | 'stopped';
  exitstatus?: string;
  type?: string;
  id?: string;
}

export interface RequestOptions {
  /** Repeating the call after a lost reply is harmless (absolute config values, deletes that tolerate "gone"). */
  idempotent?: boolean;
  /** Aborts the request (and its quick retries); the call rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface WaitOptions {
  /** Overrides the client's task timeout for this wait. */
  timeoutMs?: number;
  /** Overrides the client's hooks (the provider passes its own, so activities heartbeat). */
  hooks?: ProviderHooks;
  /** Stops watching (the task itself runs on in Proxmox); the wait rejects with the signal's reason. */
  signal?: AbortSignal;
}

export class ProxmoxClient {
  readonly baseUrl: URL;
  readonly tokenId: string;
  /** True when certificate verification is off (the provider warns about it). */
  readonly insecure: boolean;
  readonly tlsMode: 'system' | 'ca' | 'fingerprint' | 'insecure';
  readonly #secret: string;
  readonly #agent: https.Agent | http.Agent;
  readonly #opts: ProxmoxConnectionOptions;
  readonly #hooks: ProviderHooks;
  readonly #logger: ProviderLogger;

  constructor(opts: ProxmoxConnectionOptions) {
    const url = new URL(opts.url);
    if (!/\/api2\/json\/?$/.test(url.pathname)) url.pathname = `${url.pathname.replace(/\/+$/, '')}/api2/json`;
    url.pathname = url.pathname.replace(/\/+$/, '');
    this.baseUrl = url;
    if (!/^[^@!\s]+@[^@!\s]+![^@!\s=]+$/.test(opts.tokenId)) {
      throw new HangarError('validation_failed', 'Proxmox token id must look like user@realm!tokenid');
    }
    if (!opts.tokenSecret) throw new HangarError('validation_failed', 'Proxmox token secret is empty');
    this.tokenId = opts.tokenId;
    this.#secret = opts.tokenSecret;
    this.#opts = opts;
    this.#hooks = opts.hooks ?? {};
    this.#logger = opts.logger ?? silentLogger;

    // A pin or a CA always wins over `insecure`: verification is only off when nothing else is set.
    const base: https.AgentOptions = { keepAlive: true, maxSockets: 16 };
    if (url.protocol === 'http:') {
      // Plain HTTP only for local test rigs: nothing is verified and the token travels in clear.
      this.#agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
      this.tlsMode = 'insecure';
    } else if (opts.fingerprint) {
      const hex = normalizeFingerprint(opts.fingerprint);
      if (hex.length !== 64) throw new HangarError('validation_failed', 'Proxmox fingerprint must be a SHA-256 fingerprint (64 hex digits)');
      this.#agent = new PinnedAgent(base, hex);
      this.tlsMode = 'fingerprint';
    } else if (opts.caPem) {
      this.#agent = new https.Agent({ ...base, ca: opts.caPem, rejectUnauthorized: true });
      this.tlsMode = 'ca';
    } else if (opts.insecure === true) {
      this.#agent = new https.Agent({ ...base, rejectUnauthorized: false });
      this.tlsMode = 'insecure';
    } else {
      this.#agent = new https.Agent({ ...base, rejectUnauthorized: true });
      this.tlsMode = 'system';
    }
    this.insecure = this.tlsMode === 'insecure';
  }

  /** Frees pooled connections. */
  close(): void {
    this.#agent.destroy();
  }

  get hooks(): ProviderHooks {
    return this.#hooks;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return (this.#hooks.sleep ?? abortableSleep)(ms, signal);
  }

  readonly #scrubber = (text: string): string => this.scrub(text);

  /** Never let the secret (or a whole auth header) into text that leaves the client. */
  scrub(text: string): string {
    let out = text.split(this.#secret).join('[redacted]');
    out = out.replace(/PVEAPIToken=[^\s"']*/g, 'PVEAPIToken=[redacted]');
    return out;
  }

  toJSON(): Record<string, unknown> {
    return { baseUrl: this.baseUrl.toString(), tokenId: this.tokenId, tlsMode: this.tlsMode };
  }

  get<T = unknown>(path: string, params?: Params, opts: RequestOptions = {}): Promise<T> {
    return this.#withRetries(() => this.request<T>('GET', path, params, opts.signal), `GET ${path}`, true, opts.signal);
  }

  post<T = unknown>(path: string, params?: Params, opts: RequestOptions = {}): Promise<T> {
    return this.#withRetries(() => this.request<T>('POST', path, params, opts.signal), `POST ${path}`, opts.idempotent === true, opts.signal);
  }

  put<T = unknown>(path: string, params?: Params, opts: RequestOptions = {}): Promise<T> {
    return this.#withRetries(() => this.request<T>('PUT', path, params, opts.signal), `PUT ${path}`, opts.idempotent === true, opts.signal);
  }

  delete<T = unknown>(path: string, params?: Params, opts: RequestOptions = {}): Promise<T> {
    return this.#withRetries(() => this.request<T>('DELETE', path, params, opts.signal), `DELETE ${path}`, opts.idempotent === true, opts.signal);
  }

  /** True when `err` proves Proxmox did nothing with the request (safe to send again). */
  static notApplied(err: unknown): boolean {
    return err instanceof HangarError && notApplied.has(err);
  }

  async #withRetries<T>(fn: () => Promise<T>, what: string, idempotent: boolean, signal?: AbortSignal): Promise<T> {
    const retries = this.#opts.getRetries ?? 3;
    let delay = this.#opts.getRetryDelayMs ?? 250;
    for (let attempt = 0; ; attempt++) {
      throwIfAborted(signal);
      try {
        return await fn();
      } catch (err) {
        const retryable = err instanceof HangarError && err.code === 'provider_error' && (idempotent || notApplied.has(err));
        if (!retryable || attempt >= retries || signal?.aborted) throw err;
        this.#logger.debug({ attempt: attempt + 1, err: err.message }, `proxmox: retrying ${what}`);
        this.#hooks.onWait?.();
        await this.sleep(delay, signal);
        delay *= 2;
      }
    }
  }

  #headers(extra: Record<string, string | number> = {}): Record<string, string | number> {
    return {
      Authorization: `PVEAPIToken=${this.tokenId}=${this.#secret}`,
      Accept: 'application/json',
      ...extra,
    };
  }

  #target(path: string, query?: string): URL {
    const url = new URL(this.baseUrl.toString());
    url.pathname = `${this.baseUrl.pathname}${path.startsWith('/') ? path : `/${path}`}`;
    url.search = query ? `?${query}` : '';
    return url;
  }

  /** One HTTP exchange, no retries. Resolves with the response's `data`. */
  request<T = unknown>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, params?: Params, signal?: AbortSignal): Promise<T> {
    const encoded = encodeParams(params);
    const hasBody = method === 'POST' || method === 'PUT';
    const url = this.#target(path, hasBody ? undefined : encoded);
    const body = hasBody ? Buffer.from(encoded, 'utf8') : undefined;
    const headers = this.#headers(body ? { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': body.length } : {});
    return this.#exchange<T>(method, path, url, headers, (req) => req.end(body), signal);
  }

  /**
   * `POST /nodes/{node}/storage/{storage}/upload` as multipart/form-data, streaming the file
   * from disk. Returns the task id Proxmox answers with (or null).
   */
  async upload(
    node: string,
    storage: string,
    file: { content: 'iso' | 'vztmpl' | 'import'; filename: string; path: string; sha256?: string },
    opts: { signal?: AbortSignal } = {},
  ): Promise<string | null> {
    const size = (await stat(file.path)).size;
    const boundary = `----hangar${randomBytes(12).toString('hex')}`;
    const fields: [string, string][] = [['content', file.content]];
    if (file.sha256) fields.push(['checksum', file.sha256], ['checksum-algorithm', 'sha256']);
    let head = '';
    for (const [name, value] of fields) {
      head += `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
    }
    const safeName = file.filename.replace(/["\r\n\\]/g, '_');
    head += `--${boundary}\r\nContent-Disposition: form-data; name="filename"; filename="${safeName}"\r\nContent-Type: application/octet-stream\r\n\r\n`;
    const tail = `\r\n--${boundary}--\r\n`;
    const headBuf = Buffer.from(head, 'utf8');
    const tailBuf = Buffer.from(tail, 'utf8');
    const path = pvePath`/nodes/${node}/storage/${storage}/upload`;
    const url = this.#target(path);
    const headers = this.#headers({
      'Content-Type': `multipart/form-data; boundary=${boundary}`,
      'Content-Length': headBuf.length + size + tailBuf.length,
    });
    // Only failures that prove nothing was stored are retried: the file is streamed afresh.
    const data = await this.#withRetries(
      () =>
        this.#exchange<unknown>(
          'POST',
          path,
          url,
          headers,
          (req, fail) => {
            req.write(headBuf);
            const stream = createReadStream(file.path);
            stream.on('error', (err) => fail(err));
            stream.on('end', () => req.end(tailBuf));
            stream.pipe(req, { end: false });
          },
          opts.signal,
        ),
      `upload ${safeName}`,
      false,
      opts.signal,
    );
    return isUpid(data) ? data : null;
  }

  #exchange<T>(
    method: string,
    path: string,
    url: URL,
    headers: Record<string, string | number>,
    send: (req: http.ClientRequest, fail: (err: Error) => void) => void,
    signal?: AbortSignal,
  ): Promise<T> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const started = Date.now();
    const timeoutMs = this.#opts.timeoutMs ?? 30_000;
    const mod = url.protocol === 'http:' ? http : https;
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const finish = (err: HangarError | null, value?: T) => {
        if (done) return;
        done = true;
        this.#logger.debug({ method, path, ms: Date.now() - started, ...(err ? { error: err.code } : {}) }, 'proxmox request');
        // A cancelled call ends with the cancellation, not with the socket error it caused.
        if (signal?.aborted) reject(abortReason(signal));
        else if (err) reject(err);
        else resolve(value as T);
      };
      const req = mod.request(url, { method, headers, agent: this.#agent, ...(signal ? { signal } : {}) });
      const fail = (err: Error) => {
        req.destroy();
        finish(this.#fromNetworkError(method, path, err));
      };
      req.setTimeout(timeoutMs, () => {
        const err = new Error(`no response within ${timeoutMs} ms`) as NodeJS.ErrnoException;
        err.code = 'ETIMEDOUT';
        req.destroy(err);
      });
      req.on('error', (err) => finish(this.#fromNetworkError(method, path, err)));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => finish(this.#fromNetworkError(method, path, err)));
        res.on('aborted', () => finish(this.#fromNetworkError(method, path, Object.assign(new Error('response aborted'), { code: 'ECONNRESET' }))));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString('utf8');
          let json: { data?: unknown; message?: unknown; errors?: unknown } | undefined;
          try {
            json = text ? (JSON.parse(text) as typeof json) : undefined;
          } catch {
            json = undefined;
          }
          if (status >= 200 && status < 300) {
            if (json === undefined && text) {
              finish(classifyFailure(method, path, { status, reason: 'response is not JSON' }, this.#scrubber, this.tokenId));
              return;
            }
            finish(null, (json?.data ?? null) as T);
            return;
          }
          const errors =
            json && typeof json.errors === 'object' && json.errors !== null
              ? Object.fromEntries(Object.entries(json.errors as Record<string, unknown>).map(([k, v]) => [k, String(v).trim()]))
              : undefined;
          finish(
            classifyFailure(
              method,
              path,
              {
                status,
                reason: res.statusMessage,
                message: typeof json?.message === 'string' ? json.message : undefined,
                errors,
              },
              this.#scrubber,
              this.tokenId,
            ),
          );
        });
      });
      send(req, fail);
    });
  }

  #fromNetworkError(method: string, path: string, err: unknown): HangarError {
    if (err instanceof HangarError) return new HangarError(err.code, this.scrub(err.message), err.fields);
    const e = err as NodeJS.ErrnoException;
    const code = e?.code ?? '';
    if (TLS_CODES.has(code) || /certificate|self[- ]signed|unable to verify/i.test(e?.message ?? '')) {
      return new HangarError(
        'tls_verification_failed',
        this.scrub(
          `Proxmox TLS verification failed for ${this.baseUrl.host} (${code || 'TLS'}: ${e?.message ?? 'unknown'}); configure a CA file or the certificate fingerprint`,
        ),
      );
    }
    return classifyFailure(method, path, { networkCode: code || 'ECONNRESET', message: e?.message }, this.#scrubber, this.tokenId);
  }

  /**
   * Polls a task until it stops (100 ms first, growing to 1 s by default; 2 s → 30 s after a
   * failed status call), calling `hooks.onWait` on every poll (see task-wait.ts).
   */
  waitForTask(node: string | undefined, upid: string, opts: WaitOptions = {}): Promise<TaskStatus> {
    return waitForTask(
      this,
      {
        pollInitialMs: this.#opts.taskPollInitialMs ?? WATCH_DEFAULTS.firstMs,
        pollMaxMs: this.#opts.taskPollMaxMs ?? WATCH_DEFAULTS.maxMs,
        failureBackoff: { ...RETRY_BACKOFF, ...(this.#opts.taskPollRetryMs !== undefined ? { initialMs: this.#opts.taskPollRetryMs } : {}) },
        timeoutMs: this.#opts.taskTimeoutMs ?? 3_600_000,
        maxFailures: this.#opts.taskPollFailures ?? 6,
        hooks: this.#hooks,
        logger: this.#logger,
      },
      node,
      upid,
      opts,
    );
  }

  /** The last `lines` lines of a task's log (best effort). */
  taskLogTail(node: string, upid: string, lines = 10, signal?: AbortSignal): Promise<string[]> {
    return taskLogTail(this, node, upid, lines, signal);
  }

  /** Waits for `result` when it is a task id (config POSTs answer null when done at once). */
  async settle(node: string, result: unknown, opts?: WaitOptions): Promise<void> {
    if (isUpid(result)) await this.waitForTask(node, result, opts);
  }
}
