// One BMC connection: authenticated requests (session, re-created once on 401, or basic) bounded
// by the BMC's limiter, retried with backoff only when idempotent, ETags remembered for If-Match,
// task monitors followed, waits sliced so activities heartbeat, and everything stopped by the
// call's cancellation signal. Non-2xx answers become RedfishHttpErrors.
import type { Logger } from 'pino';
import { HangarError } from '../../domain/errors.ts';
import { sleep as abortableSleep, throwIfAborted } from '../support/sleep.ts';
import { obj, headerOf, link, str, type Json } from './json.ts';
import type { Semaphore } from './limiter.ts';
import { pathOf, type AuthContext, type BmcAuth } from './session.ts';
import { extendedMessages, messageIds, retryAfterMs, send, type RedfishResponse, type RedfishTlsOptions } from './transport.ts';
import { nextWatchDelay, WATCH_DEFAULTS } from '../support/poll-schedule.ts';

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

export interface Resource {
  path: string;
  body: Json;
  etag: string | undefined;
}

export interface ExchangeOptions {
  body?: unknown;
  headers?: Record<string, string>;
  /** Safe to repeat (GETs and idempotent reads): retried in-client on transient failures. */
  idempotent?: boolean;
  /** Statuses returned to the caller instead of thrown. */
  allow?: number[];
  /** `none`: no credentials (the service root); `basic`: HTTP basic even when sessions work. */
  auth?: 'none' | 'basic';
}

export interface ConnectionSettings {
  url: URL;
  tls: RedfishTlsOptions;
  auth: BmcAuth;
  limiter: Semaphore;
  log: Logger;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  onWait?: () => void;
  retry: { initialMs: number; maxMs: number; attempts: number };
  pollMs: number;
  timeoutMs: number;
  taskTimeoutMs: number;
  signal?: AbortSignal;
}

const RUNNING_TASK_STATES = new Set(['New', 'Starting', 'Running', 'Suspended', 'Interrupted', 'Pending', 'Stopping', 'Service', 'Cancelling']);
const FAILED_TASK_STATES = new Set(['Exception', 'Killed', 'Cancelled']);
const MAX_WAIT_SLICE_MS = 5_000;

export class BmcConnection {
  readonly url: URL;
  readonly endpoint: string;
  readonly log: Logger;
  readonly auth: BmcAuth;
  readonly pollMs: number;
  readonly retry: ConnectionSettings['retry'];
  readonly #s: ConnectionSettings;
  readonly #etags = new Map<string, string>();
  #retained = false;
  #root: Promise<Json> | undefined;

  constructor(settings: ConnectionSettings) {
    this.#s = settings;
    this.url = settings.url;
    this.endpoint = settings.url.origin;
    this.log = settings.log;
    this.auth = settings.auth;
    this.pollMs = settings.pollMs;
    this.retry = settings.retry;
  }

  get signal(): AbortSignal | undefined {
    return this.#s.signal;
  }

  /** Returns the session to the BMC (when this was the last client using it). */
  async close(): Promise<void> {
    if (!this.#retained) return;
    this.#retained = false;
    await this.auth.release(this.#authContext());
  }

  scrub(text: string): string {
    return this.auth.scrub(text);
  }

  async get(path: string): Promise<Resource> {
    const res = await this.exchange('GET', path, { idempotent: true });
    const body = obj(res.body);
    const etag = headerOf(res, 'etag') ?? str(body['@odata.etag']) ?? undefined;
    if (etag) this.#etags.set(path, etag);
    else this.#etags.delete(path);
    return { path, body, etag };
  }

  /** The service root: readable without credentials per the spec; some BMCs want them anyway. */
  serviceRoot(): Promise<Json> {
    if (!this.#root) {
      this.#root = (async () => {
        let res = await this.exchange('GET', '/redfish/v1/', { auth: 'none', idempotent: true, allow: [401, 403] });
        if (res.status === 401 || res.status === 403) {
          res = await this.exchange('GET', '/redfish/v1/', { auth: 'basic', idempotent: true });
        }
        return obj(res.body);
      })();
      this.#root.catch(() => {
        this.#root = undefined;
      });
    }
    return this.#root;
  }

  async sessionsPath(): Promise<string | null> {
    const root = await this.serviceRoot();
    const sessions = link(obj(root.Links).Sessions);
    if (sessions) return sessions;
    const service = link(root.SessionService);
    return service ? `${service.replace(/\/$/, '')}/Sessions` : null;
  }

  /**
   * One logical request: authenticated (session, re-created once on 401, or basic), bounded by the
   * BMC's limiter, retried with backoff only when `idempotent`; non-2xx answers become HangarErrors.
   */
  async exchange(method: string, path: string, opts: ExchangeOptions = {}): Promise<RedfishResponse> {
    let reauthenticated = false;
    let redirects = 0;
    let current = path;
    for (let attempt = 1; ; attempt++) {
      throwIfAborted(this.#s.signal);
      let auth: { headers: Record<string, string>; token?: string } = { headers: {} };
      if (opts.auth === 'basic') {
        auth = { headers: this.auth.basicHeaders() };
      } else if (opts.auth !== 'none') {
        if (!this.#retained) {
          this.auth.retain();
          this.#retained = true;
        }
        auth = await this.auth.headers(this.#authContext());
      }
      let res: RedfishResponse;
      try {
        res = await this.#s.limiter.run(() =>
          send({
            endpoint: this.url,
            tls: this.#s.tls,
            method,
            path: current,
            timeoutMs: this.#s.timeoutMs,
            headers: { ...auth.headers, ...(opts.headers ?? {}) },
            ...(opts.body !== undefined ? { body: opts.body } : {}),
            ...(this.#s.signal ? { signal: this.#s.signal } : {}),
          }),
        );
      } catch (err) {
        throwIfAborted(this.#s.signal);
        const e = err instanceof HangarError ? err : new HangarError('bmc_unreachable', String(err));
        if (e.retryable && opts.idempotent && attempt < this.retry.attempts) {
          this.log.debug({ method, path: current, attempt, code: e.code }, 'transient failure; retrying');
          await this.wait(this.backoffMs(attempt));
          continue;
        }
        throw e;
      }
      if (res.status === 401 && auth.token && !reauthenticated) {
        this.log.info('Redfish session rejected (expired?); creating a new one');
        this.auth.invalidate(auth.token);
        reauthenticated = true;
        attempt -= 1;
        continue;
      }
      if ([301, 302, 307, 308].includes(res.status) && method === 'GET' && redirects < 3) {
        const next = pathOf(headerOf(res, 'location'));
        if (next) {
          current = next;
          redirects += 1;
          attempt -= 1;
          continue;
        }
      }
      if ((res.status >= 200 && res.status < 300) || opts.allow?.includes(res.status)) return res;
      const err = this.#httpError(method, current, res);
      if (err.retryable && opts.idempotent && attempt < this.retry.attempts) {
        const delay = retryAfterMs(res.headers) ?? this.backoffMs(attempt);
        this.log.debug({ method, path: current, status: res.status, attempt, delayMs: delay }, 'BMC busy or failing; retrying');
        await this.wait(delay);
        continue;
      }
      throw err;
    }
  }

  /** PATCH with If-Match (when `ifMatch`) from the last GET of the resource; 412/428 re-read the resource and retry. */
  async patch(path: string, body: Json, ifMatch: boolean): Promise<void> {
    let etag = this.#etags.get(path);
    let strippedWeak = false;
    for (let attempt = 1; attempt <= 4; attempt++) {
      const headers: Record<string, string> = {};
      if (etag && ifMatch) headers['If-Match'] = etag;
      const res = await this.exchange('PATCH', path, { body, headers, allow: [412, 428] });
      if (res.status !== 412 && res.status !== 428) {
        await this.followTask(res, `PATCH ${path}`);
        return;
      }
      const previous = etag;
      etag = (await this.get(path)).etag;
      this.log.info(
        { status: res.status, path, hadEtag: !!previous, hasEtag: !!etag },
        'BMC refused the PATCH precondition; re-read the resource for a fresh ETag',
      );
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

  /** Follows a 202 + Location task monitor until the task completes; anything else returns at once. */
  async followTask(res: RedfishResponse, what: string): Promise<RedfishResponse> {
    const location = pathOf(headerOf(res, 'location'));
    if (res.status !== 202 || !location) return res;
    const started = Date.now();
    const deadline = started + this.#s.taskTimeoutMs;
    this.log.debug({ monitor: location, what }, 'following task monitor');
    // The BMC's Retry-After when it gives one; otherwise a running task is watched: a short
    // first poll, the gap growing with the time waited up to the poll interval (decision 0025).
    const watch = { firstMs: Math.min(250, this.pollMs), maxMs: this.pollMs, ratio: WATCH_DEFAULTS.ratio };
    let delay = retryAfterMs(res.headers) ?? nextWatchDelay(0, watch);
    for (;;) {
      if (Date.now() > deadline) {
        throw new HangarError('provider_task_failed', `${what}: task ${location} did not finish within ${Math.round(this.#s.taskTimeoutMs / 1000)} s`, {
          task: location,
        });
      }
      await this.wait(delay);
      const poll = await this.exchange('GET', location, { idempotent: true, allow: [404] });
      const body = obj(poll.body);
      const state = str(body.TaskState);
      if (poll.status === 404) {
        // Monitors may vanish once the task has finished and its result was consumed.
        this.log.debug({ monitor: location }, 'task monitor gone; treating the task as finished');
        return poll;
      }
      if (state && FAILED_TASK_STATES.has(state)) {
        const messages = extendedMessages(body).map((m) => this.scrub(m));
        throw new HangarError('provider_task_failed', `${what}: task ${location} ended ${state}${messages.length ? `: ${messages.join('; ')}` : ''}`, {
          task: location,
          TaskState: state,
        });
      }
      if (poll.status === 202 || (state && RUNNING_TASK_STATES.has(state))) {
        this.#s.onWait?.();
        delay = retryAfterMs(poll.headers) ?? nextWatchDelay(Date.now() - started, watch);
        continue;
      }
      if (state === 'Completed' && str(body.TaskStatus) === 'Critical') {
        const messages = extendedMessages(body).map((m) => this.scrub(m));
        throw new HangarError(
          'provider_task_failed',
          `${what}: task ${location} completed with status Critical${messages.length ? `: ${messages.join('; ')}` : ''}`,
          { task: location },
        );
      }
      return poll;
    }
  }

  backoffMs(attempt: number): number {
    return Math.min(this.retry.maxMs, this.retry.initialMs * 2 ** Math.max(0, attempt - 1));
  }

  /** Sleeps in slices, calling onWait before each so activities keep heartbeating; a cancelled call stops at once. */
  async wait(ms: number): Promise<void> {
    let left = Math.max(0, ms);
    do {
      this.#s.onWait?.();
      const slice = Math.min(left, MAX_WAIT_SLICE_MS);
      await (this.#s.sleep ?? abortableSleep)(slice, this.#s.signal);
      throwIfAborted(this.#s.signal);
      left -= slice;
    } while (left > 0);
  }

  #authContext(): AuthContext {
    return {
      endpoint: this.url,
      tls: this.#s.tls,
      timeoutMs: this.#s.timeoutMs,
      limiter: this.#s.limiter,
      logger: this.log,
      wait: (ms) => this.wait(ms),
      backoffMs: (n) => this.backoffMs(n),
      sessionsPath: () => this.sessionsPath(),
    };
  }

  #httpError(method: string, path: string, res: RedfishResponse): RedfishHttpError {
    const messages = extendedMessages(res.body).map((m) => this.scrub(m));
    const ids = messageIds(res.body);
    const said = messages.length ? `: ${messages.join('; ')}` : '';
    const fields = { bmc: this.endpoint, status: String(res.status) };
    const s = res.status;
    if (s === 401 || s === 403) {
      return new RedfishHttpError(
        'provider_auth_failed',
        `BMC ${this.url.host} refused ${method} ${path} for user ${this.auth.username} (HTTP ${s})${said}`,
        s,
        ids,
        messages,
        fields,
      );
    }
    if (s === 408 || s === 502 || s === 503 || s === 504) {
      return new RedfishHttpError('bmc_unreachable', `BMC ${this.url.host} unavailable for ${method} ${path} (HTTP ${s})${said}`, s, ids, messages, fields);
    }
    if (s === 429 || s >= 500) {
      return new RedfishHttpError('provider_error', `BMC ${this.url.host} failed ${method} ${path} (HTTP ${s})${said}`, s, ids, messages, fields);
    }
    return new RedfishHttpError('provider_rejected', `BMC ${this.url.host} rejected ${method} ${path} (HTTP ${s})${said}`, s, ids, messages, fields);
  }
}
