// Authentication against one BMC for one user, shared by every RedfishClient in the process that
// talks to that BMC as that user: one Redfish session (X-Auth-Token) instead of one per client, so a
// burst of operations never exhausts the BMC's few session slots. Falls back to HTTP basic auth when
// the service has no SessionService, refuses session creation (404/405/501), or keeps reporting its
// session slots exhausted after a few backed-off retries (then sessions are tried again later).
//
// The password lives only in a private field here; it is sent in the session-creation body or the
// basic Authorization header and never appears in logs, errors or anything enumerable.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { HangarError } from '../../domain/errors.ts';
import type { Semaphore } from './limiter.ts';
import { extendedMessages, messageIds, retryAfterMs, send, type RedfishTlsOptions } from './transport.ts';

export interface AuthContext {
  endpoint: URL;
  tls: RedfishTlsOptions;
  timeoutMs: number;
  limiter: Semaphore;
  logger: Logger;
  /** Waits (with the caller's onWait heartbeat). */
  wait: (ms: number) => Promise<void>;
  backoffMs: (attempt: number) => number;
  /** Path of the Sessions collection, or null when the service has none. */
  sessionsPath: () => Promise<string | null>;
}

export interface AuthHeaders {
  headers: Record<string, string>;
  /** The session token used, when the request is session-authenticated. */
  token?: string;
}

/** How long basic auth is used after session slots stayed exhausted, before sessions are tried again. */
export const SESSION_RETRY_COOLDOWN_MS = 60_000;
/** Session-creation attempts while the BMC reports its slots exhausted. */
export const SESSION_CREATE_ATTEMPTS = 3;

const SESSION_LIMIT =
  /session ?limit|max(imum)? ?(number of )?(user )?sessions|too many sessions|RAC0218|no (more )?(available )?session|sessions? (are )?exhausted/i;

export function isSessionLimitResponse(status: number, body: unknown): boolean {
  const text = [...messageIds(body), ...extendedMessages(body)].join(' ');
  if (SESSION_LIMIT.test(text)) return true;
  return status === 503 || status === 429;
}

export class BmcAuth {
  readonly username: string;
  #password: string;
  #sessionsUnsupported = false;
  #basicUntil = 0;
  #token: string | undefined;
  #location: string | undefined;
  #creating: Promise<void> | undefined;
  #refs = 0;

  constructor(username: string, password: string) {
    this.username = username;
    this.#password = password;
  }

  get mode(): 'session' | 'basic' | 'unknown' {
    if (this.#token) return 'session';
    if (this.#sessionsUnsupported || this.#basicUntil > Date.now()) return 'basic';
    return 'unknown';
  }

  get sessionsOpen(): number {
    return this.#token ? 1 : 0;
  }

  /** Scrubs the password out of a text that might echo it (a BMC error quoting the request). */
  scrub(text: string): string {
    return this.#password.length >= 3 ? text.split(this.#password).join('[redacted]') : text;
  }

  basicHeaders(): Record<string, string> {
    return { Authorization: `Basic ${Buffer.from(`${this.username}:${this.#password}`, 'utf8').toString('base64')}` };
  }

  retain(): void {
    this.#refs += 1;
  }

  async headers(ctx: AuthContext): Promise<AuthHeaders> {
    for (;;) {
      if (this.#token) return { headers: { 'X-Auth-Token': this.#token }, token: this.#token };
      if (this.#sessionsUnsupported || this.#basicUntil > Date.now()) return { headers: this.basicHeaders() };
      if (!this.#creating) {
        this.#creating = this.#create(ctx).finally(() => {
          this.#creating = undefined;
        });
      }
      await this.#creating;
    }
  }

  /** Forgets a token the BMC rejected (401), so the next request creates a new session once. */
  invalidate(token: string): void {
    if (this.#token === token) {
      this.#token = undefined;
      this.#location = undefined;
    }
  }

  /** Drops one holder; the last one out deletes the session on the BMC. */
  async release(ctx: AuthContext): Promise<void> {
    this.#refs = Math.max(0, this.#refs - 1);
    if (this.#refs > 0 || !this.#token) return;
    const token = this.#token;
    const location = this.#location;
    this.#token = undefined;
    this.#location = undefined;
    if (!location) return;
    try {
      const res = await ctx.limiter.run(() =>
        send({
          endpoint: ctx.endpoint,
          tls: ctx.tls,
          method: 'DELETE',
          path: location,
          headers: { 'X-Auth-Token': token },
          timeoutMs: ctx.timeoutMs,
        }),
      );
      if (res.status >= 400 && res.status !== 404 && res.status !== 401) {
        ctx.logger.warn({ status: res.status }, 'BMC refused to delete the Redfish session; it will time out on its own');
      } else {
        ctx.logger.debug('Redfish session deleted');
      }
    } catch (err) {
      ctx.logger.warn({ err: { message: this.scrub((err as Error).message) } }, 'could not delete the Redfish session; it will time out on its own');
    }
  }

  async #create(ctx: AuthContext): Promise<void> {
    const path = await ctx.sessionsPath();
    if (!path) {
      this.#sessionsUnsupported = true;
      ctx.logger.info('BMC has no SessionService; using HTTP basic auth');
      return;
    }
    for (let attempt = 1; ; attempt++) {
      const res = await ctx.limiter.run(() =>
        send({
          endpoint: ctx.endpoint,
          tls: ctx.tls,
          method: 'POST',
          path,
          headers: {},
          body: { UserName: this.username, Password: this.#password },
          timeoutMs: ctx.timeoutMs,
        }),
      );
      const messages = extendedMessages(res.body).map((m) => this.scrub(m));
      if (res.status >= 200 && res.status < 300) {
        const token = headerValue(res.headers['x-auth-token']);
        if (!token) {
          this.#sessionsUnsupported = true;
          ctx.logger.warn('BMC created a session without an X-Auth-Token; using HTTP basic auth');
          return;
        }
        const body = (res.body ?? {}) as Record<string, unknown>;
        this.#token = token;
        this.#location = pathOf(headerValue(res.headers.location) ?? (typeof body['@odata.id'] === 'string' ? body['@odata.id'] : undefined));
        ctx.logger.debug('Redfish session created');
        return;
      }
      if (res.status === 404 || res.status === 405 || res.status === 501) {
        this.#sessionsUnsupported = true;
        ctx.logger.info({ status: res.status }, 'BMC does not create sessions; using HTTP basic auth');
        return;
      }
      if (isSessionLimitResponse(res.status, res.body) || res.status >= 500) {
        if (attempt < SESSION_CREATE_ATTEMPTS) {
          const delay = retryAfterMs(res.headers) ?? ctx.backoffMs(attempt);
          ctx.logger.warn({ status: res.status, attempt, delayMs: delay, messages }, 'BMC session slots exhausted; retrying session creation');
          await ctx.wait(delay);
          continue;
        }
        this.#basicUntil = Date.now() + SESSION_RETRY_COOLDOWN_MS;
        ctx.logger.warn({ status: res.status, messages }, 'BMC session slots still exhausted; falling back to HTTP basic auth for a while');
        return;
      }
      if (res.status === 401 || res.status === 403) {
        throw new HangarError(
          'provider_auth_failed',
          `BMC ${ctx.endpoint.host} refused the credentials of user ${this.username} (HTTP ${res.status})${messages.length ? `: ${messages.join('; ')}` : ''}`,
          { bmc: ctx.endpoint.origin },
        );
      }
      // Any other refusal: the session API is unusable here; basic auth may still work.
      this.#basicUntil = Date.now() + SESSION_RETRY_COOLDOWN_MS;
      ctx.logger.warn({ status: res.status, messages }, 'BMC refused to create a session; falling back to HTTP basic auth');
      return;
    }
  }
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** The path part of a Location (BMCs return absolute URLs, sometimes with internal host names). */
export function pathOf(location: string | undefined): string | undefined {
  if (!location) return undefined;
  if (location.startsWith('/')) return location;
  try {
    const u = new URL(location);
    return `${u.pathname}${u.search}`;
  } catch {
    return undefined;
  }
}

const auths = new Map<string, BmcAuth>();

/** The shared auth state for one BMC origin and one set of credentials. */
export function bmcAuth(origin: string, username: string, password: string): BmcAuth {
  // The key never stores the password itself, only a digest of it (so rotated credentials get a fresh state).
  const key = `${origin}|${username}|${createHash('sha256').update(password).digest('hex').slice(0, 16)}`;
  let auth = auths.get(key);
  if (!auth) {
    auth = new BmcAuth(username, password);
    auths.set(key, auth);
  }
  return auth;
}

/** Forgets all shared auth state (tests only). */
export function resetBmcAuth(): void {
  auths.clear();
}
