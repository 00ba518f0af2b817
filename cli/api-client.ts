// The CLI's HTTP client. Errors come back as the API's envelope and are shown as such; the exit
// code says whose fault it was (cli/exit-codes.ts): 4xx → 1, 5xx or unreachable → 3.
import type { ErrorEnvelope } from '../domain/errors.ts';
import { EXIT } from './exit-codes.ts';

export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.user) {
    super(message);
    this.exitCode = exitCode;
  }
}

export interface ApiClientOptions {
  baseUrl: string;
  token?: string;
}

export class ApiClient {
  private readonly options: ApiClientOptions;
  constructor(options: ApiClientOptions) {
    this.options = options;
  }

  /** Sends one request; returns the raw response text, or throws the API's error envelope as a CliError. */
  private async send(
    method: string,
    path: string,
    body: unknown,
    headers: Record<string, string>,
    accept = 'application/json',
  ): Promise<{ status: number; text: string }> {
    if (!this.options.token && path.startsWith('/api/')) {
      throw new CliError('no API token: set HANGAR_TOKEN (or HANGAR_TOKEN_FILE), or run `make up` for a local development token', 2);
    }
    const url = new URL(path, this.options.baseUrl);
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, {
        method,
        headers: {
          accept,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}),
          ...headers,
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(30_000),
      });
      text = await res.text();
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new CliError(`cannot reach the Hangar API at ${this.options.baseUrl} (${cause}); is it running? (make up)`, EXIT.system);
    }
    if (!res.ok) {
      // A 4xx is the request's fault (the user can fix it); a 5xx is the service's.
      const code = res.status >= 500 ? EXIT.system : EXIT.user;
      let env: Partial<ErrorEnvelope> | null = null;
      try {
        env = text ? (JSON.parse(text) as Partial<ErrorEnvelope>) : null;
      } catch {
        throw new CliError(`the API answered ${res.status} with a body that is not JSON`, EXIT.system);
      }
      const fields = env?.fields
        ? '\n' +
          Object.entries(env.fields)
            .map(([k, v]) => `  ${k}: ${v}`)
            .join('\n')
        : '';
      throw new CliError(`error: ${env?.error ?? res.status}: ${env?.detail ?? res.statusText}${fields}`, code);
    }
    return { status: res.status, text };
  }

  /** A JSON request; an empty body (204 No Content) comes back as null. */
  async request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> {
    const { status, text } = await this.send(method, path, body, headers);
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      throw new CliError(`the API answered ${status} with a body that is not JSON`, EXIT.system);
    }
    return { status, body: parsed as T };
  }

  /** A GET whose body is returned as text (CSV exports); errors are still the JSON envelope. */
  async getText(path: string, accept = 'text/csv, text/plain;q=0.9, */*;q=0.5'): Promise<{ status: number; text: string }> {
    return this.send('GET', path, undefined, {}, accept);
  }

  get<T>(path: string) {
    return this.request<T>('GET', path);
  }
  post<T>(path: string, body: unknown, headers?: Record<string, string>) {
    return this.request<T>('POST', path, body, headers);
  }
  patch<T>(path: string, body: unknown, headers?: Record<string, string>) {
    return this.request<T>('PATCH', path, body, headers);
  }
  delete<T>(path: string) {
    return this.request<T>('DELETE', path);
  }
}

/** Builds the client when a command runs, not when the commands are registered. */
export type ApiFactory = () => ApiClient;

/** The operation a mutation answers with. */
export interface OperationRef {
  id: string;
  links: { history: string };
}
