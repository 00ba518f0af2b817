// AWS errors → Hangar's codes. The SDK error's `name` is AWS's own code (`RequestLimitExceeded`,
// `DependencyViolation`, `InvalidSubnetID.NotFound`); it leads the message so the API's `detail`
// shows it. Only the code and AWS's message are kept: never request data or credentials.
import { HangarError, type ErrorCode } from '../../domain/errors.ts';

const THROTTLING = new Set([
  'RequestLimitExceeded',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'SlowDown',
]);
const AUTH = new Set([
  'AuthFailure',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'UnrecognizedClientException',
  'AccessDenied',
  'AccessDeniedException',
  'UnauthorizedOperation',
  'ExpiredToken',
  'InvalidAccessKeyId',
  'OptInRequired',
]);
const DEPENDENCY = new Set(['DependencyViolation', 'InvalidSubnet.InUse']);

interface AwsErrorShape {
  name?: string;
  message?: string;
  code?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number };
}

/** AWS's error code for an SDK error (the Query API's `Code`), or the Node error code for a network failure. */
export function awsErrorCode(err: unknown): string {
  const e = err as AwsErrorShape;
  if (e?.$metadata) return e.name ?? 'UnknownError';
  return e?.code ?? e?.name ?? 'UnknownError';
}

export function isAwsNotFound(err: unknown): boolean {
  return /\.NotFound$|^NotFound$/.test(awsErrorCode(err));
}

/** Throttling, 5xx and network failures (no response at all) are worth another try; nothing else is. */
export function isAwsRetryable(err: unknown): boolean {
  if (err instanceof HangarError) return err.retryable;
  const e = err as AwsErrorShape;
  const status = e?.$metadata?.httpStatusCode;
  if (THROTTLING.has(awsErrorCode(err)) || status === 429) return true;
  if (e?.$metadata) return e.$fault === 'server' || (status !== undefined && status >= 500);
  // No response: connection refused/reset or a timeout; an abort is not retried.
  return e?.name !== 'AbortError';
}

export function awsHangarCode(err: unknown): ErrorCode {
  const code = awsErrorCode(err);
  const e = err as AwsErrorShape;
  if (THROTTLING.has(code) || e?.$metadata?.httpStatusCode === 429) return 'cloud_throttled';
  if (AUTH.has(code)) return 'cloud_credentials_invalid';
  if (DEPENDENCY.has(code)) return 'cloud_dependency_violation';
  if (isAwsNotFound(err)) return 'not_found';
  if (isAwsRetryable(err)) return 'cloud_unavailable';
  return 'cloud_rejected';
}

/** The HangarError for an AWS failure; `what` says which call failed. */
export function toAwsHangarError(err: unknown, what: string): unknown {
  if (err instanceof HangarError || (err as Error)?.name === 'AbortError') return err;
  const message = String((err as AwsErrorShape)?.message ?? '').slice(0, 500);
  return new HangarError(awsHangarCode(err), `${awsErrorCode(err)}: ${what}: ${message}`);
}
