// GCP errors → Hangar's codes. The REST transport's GoogleError carries the HTTP status and GCP's
// error `reason` (`rateLimitExceeded`, `notFound`, `resourceInUseByAnotherResource`); the reason
// leads the message so the API's `detail` shows it. Operation errors (an operation that ended DONE
// with `error.errors[]`) map the same way by their code.
import { HangarError, type ErrorCode } from '../../domain/errors.ts';

interface GcpErrorShape {
  name?: string;
  message?: string;
  code?: number | string;
  httpStatusCode?: number;
  reason?: string;
  errors?: Array<{ reason?: string; message?: string }>;
  statusDetails?: Array<{ reason?: string }>;
}

const THROTTLING = new Set(['rateLimitExceeded', 'userRateLimitExceeded', 'quotaExceeded', 'RATE_LIMIT_EXCEEDED']);
const AUTH = new Set(['authError', 'forbidden', 'accessNotConfigured', 'invalid_grant', 'unauthorized_client', 'PERMISSION_DENIED', 'UNAUTHENTICATED']);
const DEPENDENCY = new Set(['resourceInUseByAnotherResource', 'RESOURCE_IN_USE_BY_ANOTHER_RESOURCE']);

/**
 * The `reason` of GCP's error body. The REST transport's GoogleError drops `errors[]`; the body
 * survives as the message of the error's cause chain (gaxios keeps the raw response text there).
 */
function reasonInCauses(err: unknown): string | undefined {
  let cause = (err as { cause?: unknown })?.cause;
  for (let depth = 0; cause && depth < 4; depth++) {
    const text = (cause as { message?: unknown }).message;
    if (typeof text === 'string' && text.startsWith('{')) {
      try {
        const body = JSON.parse(text) as { error?: { errors?: Array<{ reason?: string }> } };
        const reason = body.error?.errors?.find((x) => x.reason)?.reason;
        if (reason) return reason;
      } catch {
        // not GCP's JSON body
      }
    }
    cause = (cause as { cause?: unknown }).cause;
  }
  return undefined;
}

/** GCP's reason for the error (its own code), or the HTTP status when it gave none. */
export function gcpErrorReason(err: unknown): string {
  const e = err as GcpErrorShape;
  const fromBody = e?.errors?.find((x) => x.reason)?.reason ?? e?.reason ?? e?.statusDetails?.find((d) => d.reason)?.reason ?? reasonInCauses(err);
  if (fromBody) return fromBody;
  // google-auth-library's token errors: `invalid_grant: Invalid JWT Signature.`
  const oauth = /^(invalid_grant|unauthorized_client|invalid_client)\b/.exec(e?.message ?? '');
  if (oauth) return oauth[1]!;
  if (e?.httpStatusCode) return `HTTP${e.httpStatusCode}`;
  return typeof e?.code === 'string' ? e.code : (e?.name ?? 'UnknownError');
}

function httpStatus(err: unknown): number | undefined {
  const e = err as GcpErrorShape & { response?: { status?: number } };
  return e?.httpStatusCode ?? e?.response?.status;
}

export function isGcpNotFound(err: unknown): boolean {
  return httpStatus(err) === 404 || gcpErrorReason(err) === 'notFound';
}

/** Throttling (429, or 403 rateLimitExceeded), 5xx and network failures are retried; nothing else. */
export function isGcpRetryable(err: unknown): boolean {
  if (err instanceof HangarError) return err.retryable;
  if ((err as Error)?.name === 'AbortError') return false;
  const status = httpStatus(err);
  if (THROTTLING.has(gcpErrorReason(err)) || status === 429) return true;
  if (status !== undefined) return status >= 500;
  // No HTTP status: a connection failure (ECONNREFUSED, reset) is retried, a token refusal is not.
  const code = (err as NodeJS.ErrnoException)?.code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code);
}

export function gcpHangarCode(err: unknown): ErrorCode {
  const reason = gcpErrorReason(err);
  const status = httpStatus(err);
  if (THROTTLING.has(reason) || status === 429) return 'cloud_throttled';
  if (AUTH.has(reason) || status === 401 || (status === 403 && !THROTTLING.has(reason))) return 'cloud_credentials_invalid';
  if (DEPENDENCY.has(reason)) return 'cloud_dependency_violation';
  if (isGcpNotFound(err)) return 'not_found';
  if (isGcpRetryable(err)) return 'cloud_unavailable';
  return 'cloud_rejected';
}

/** The HangarError for a GCP failure; `what` says which call failed. Only GCP's message is kept. */
export function toGcpHangarError(err: unknown, what: string): unknown {
  if (err instanceof HangarError || (err as Error)?.name === 'AbortError') return err;
  const message = String((err as GcpErrorShape)?.message ?? '')
    .split('\n')[0]!
    .slice(0, 500);
  return new HangarError(gcpHangarCode(err), `${gcpErrorReason(err)}: ${what}: ${message}`);
}

/** An operation that ended DONE with errors: the first error's code leads, every message follows. */
export function operationError(
  op: { error?: { errors?: Array<{ code?: string | null; message?: string | null }> | null } | null; name?: string | null },
  what: string,
): HangarError {
  const errors = op.error?.errors ?? [];
  const code = errors[0]?.code ?? 'OPERATION_FAILED';
  const message = errors
    .map((e) => e.message)
    .filter(Boolean)
    .join('; ');
  const hangarCode: ErrorCode = DEPENDENCY.has(code) ? 'cloud_dependency_violation' : 'cloud_operation_failed';
  return new HangarError(hangarCode, `${code}: ${what}: operation ${op.name ?? '?'} failed: ${message}`.slice(0, 800));
}
