// A small QMP (QEMU Machine Protocol) client over a unix socket: reads the greeting, negotiates
// capabilities, sends commands with ids and matches replies to them, keeps asynchronous events
// (which QEMU interleaves with replies) so callers can wait for one that may already have
// arrived, and times out every step. One short-lived connection per operation: QEMU serves one
// QMP client at a time on a socket, so holding a connection open would block everybody else.
import { createConnection, type Socket } from 'node:net';

export interface QmpEvent {
  event: string;
  data: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
  /** Arrival order on this connection (see `QmpClient.eventMark`). */
  seq: number;
}

/** An error reply from QEMU (`{"error": {"class", "desc"}}`). */
export class QmpCommandError extends Error {
  readonly errorClass: string;
  readonly command: string;
  constructor(command: string, errorClass: string, desc: string) {
    super(`QMP ${command} failed: ${errorClass}: ${desc}`);
    this.name = 'QmpCommandError';
    this.errorClass = errorClass;
    this.command = command;
  }
}

/** Connection-level failures: cannot connect, timeout, socket closed, garbage on the wire. */
export class QmpConnectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QmpConnectionError';
  }
}

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

interface EventWaiter {
  predicate: (e: QmpEvent) => boolean;
  resolve: (e: QmpEvent) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export interface QmpConnectOptions {
  /** Connect + greeting + capabilities negotiation (default 5 s). */
  timeoutMs?: number;
  /** Default per-command timeout (default 10 s). */
  commandTimeoutMs?: number;
}

const MAX_KEPT_EVENTS = 256;
const MAX_LINE = 16 * 1024 * 1024;

export class QmpClient {
  readonly path: string;
  private readonly socket: Socket;
  private readonly commandTimeoutMs: number;
  private buffer = '';
  private nextId = 1;
  private seq = 0;
  private closedError: Error | null = null;
  private readonly pending = new Map<string, Pending>();
  private readonly events: QmpEvent[] = [];
  private readonly waiters = new Set<EventWaiter>();
  private greetingResolve: ((g: Record<string, unknown>) => void) | null = null;
  private greeting: Record<string, unknown> | null = null;

  private constructor(path: string, socket: Socket, commandTimeoutMs: number) {
    this.path = path;
    this.socket = socket;
    this.commandTimeoutMs = commandTimeoutMs;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', (err) => this.fail(new QmpConnectionError(`QMP socket ${path}: ${err.message}`)));
    socket.on('close', () => this.fail(new QmpConnectionError(`QMP socket ${path} closed`)));
  }

  /** Connects, reads the greeting and leaves negotiation mode (`qmp_capabilities`). */
  static async connect(path: string, opts: QmpConnectOptions = {}): Promise<QmpClient> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    const socket = createConnection({ path });
    const client = new QmpClient(path, socket, opts.commandTimeoutMs ?? 10_000);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        (async () => {
          await new Promise<void>((resolve, reject) => {
            socket.once('connect', () => resolve());
            socket.once('error', (err) => reject(new QmpConnectionError(`cannot connect to QMP socket ${path}: ${err.message}`)));
          });
          await client.waitGreeting();
          await client.execute('qmp_capabilities', undefined, timeoutMs);
        })(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new QmpConnectionError(`QMP handshake on ${path} timed out after ${timeoutMs} ms (is another client connected?)`)),
            timeoutMs,
          );
        }),
      ]);
    } catch (err) {
      client.close();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return client;
  }

  /** The QEMU version from the greeting, e.g. `7.2.0`. */
  get version(): string | null {
    const v = (this.greeting?.QMP as { version?: { qemu?: { major: number; minor: number; micro: number } } } | undefined)?.version?.qemu;
    return v ? `${v.major}.${v.minor}.${v.micro}` : null;
  }

  private waitGreeting(): Promise<Record<string, unknown>> {
    if (this.greeting) return Promise.resolve(this.greeting);
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve) => {
      this.greetingResolve = resolve;
    });
  }

  /** Sends a command and resolves with its `return` value; rejects with QmpCommandError on an error reply. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<T> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = `hangar-${this.nextId++}`;
    const message = args === undefined ? { execute: command, id } : { execute: command, arguments: args, id };
    return new Promise<T>((resolve, reject) => {
      const ms = timeoutMs ?? this.commandTimeoutMs;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new QmpConnectionError(`QMP ${command} on ${this.path} timed out after ${ms} ms`));
      }, ms);
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject, timer });
      this.socket.write(`${JSON.stringify(message)}\n`);
    });
  }

  /** A mark to pass to `waitForEvent` so only events that arrive after it count. */
  eventMark(): number {
    return this.seq;
  }

  /**
   * Resolves with the first event (arrived after `afterMark`, default: any kept one) that
   * matches; rejects on timeout or when the connection closes.
   */
  waitForEvent(predicate: (e: QmpEvent) => boolean, timeoutMs: number, afterMark = 0): Promise<QmpEvent> {
    const seen = this.events.find((e) => e.seq > afterMark && predicate(e));
    if (seen) return Promise.resolve(seen);
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      const waiter: EventWaiter = {
        predicate: (e) => e.seq > afterMark && predicate(e),
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new QmpConnectionError(`no matching QMP event on ${this.path} within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** Events received so far (the most recent few hundred). */
  receivedEvents(): readonly QmpEvent[] {
    return this.events;
  }

  close(): void {
    this.fail(new QmpConnectionError(`QMP connection to ${this.path} closed by client`));
    this.socket.destroy();
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    if (this.buffer.length > MAX_LINE) {
      this.fail(new QmpConnectionError(`QMP socket ${this.path}: message too large`));
      this.socket.destroy();
      return;
    }
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line) this.onMessage(line);
    }
  }

  private onMessage(line: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      this.fail(new QmpConnectionError(`QMP socket ${this.path}: unparsable message ${line.slice(0, 200)}`));
      this.socket.destroy();
      return;
    }
    if ('QMP' in msg) {
      this.greeting = msg;
      this.greetingResolve?.(msg);
      this.greetingResolve = null;
      return;
    }
    if (typeof msg.event === 'string') {
      const event: QmpEvent = {
        event: msg.event,
        data: (msg.data as Record<string, unknown> | undefined) ?? {},
        timestamp: msg.timestamp as QmpEvent['timestamp'],
        seq: ++this.seq,
      };
      this.events.push(event);
      if (this.events.length > MAX_KEPT_EVENTS) this.events.shift();
      for (const w of [...this.waiters]) {
        if (w.predicate(event)) {
          this.waiters.delete(w);
          clearTimeout(w.timer);
          w.resolve(event);
        }
      }
      return;
    }
    const id = typeof msg.id === 'string' ? msg.id : null;
    const pending = id ? this.pending.get(id) : undefined;
    if (!id || !pending) return; // a reply to a command that already timed out
    this.pending.delete(id);
    clearTimeout(pending.timer);
    if ('error' in msg) {
      const e = (msg.error ?? {}) as { class?: string; desc?: string };
      pending.reject(new QmpCommandError(pending.command, e.class ?? 'GenericError', e.desc ?? 'unknown error'));
    } else {
      pending.resolve(msg.return);
    }
  }

  private fail(err: Error): void {
    if (this.closedError) return;
    this.closedError = err;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    this.waiters.clear();
  }
}

/** Opens a connection, runs fn, always closes. */
export async function withQmp<T>(path: string, fn: (qmp: QmpClient) => Promise<T>, opts?: QmpConnectOptions): Promise<T> {
  const qmp = await QmpClient.connect(path, opts);
  try {
    return await fn(qmp);
  } finally {
    qmp.close();
  }
}
