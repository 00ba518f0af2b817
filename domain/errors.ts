// The one catalogue of error codes. API envelopes, CLI messages and Temporal ApplicationFailure
// types all use these codes, so a failure keeps its meaning as it crosses process boundaries.

export const ERROR_CODES = {
  validation_failed: { status: 400, retryable: false },
  malformed_json: { status: 400, retryable: false },
  unauthorized: { status: 401, retryable: false },
  forbidden: { status: 403, retryable: false },
  not_found: { status: 404, retryable: false },
  route_not_found: { status: 404, retryable: false },
  conflict: { status: 409, retryable: false },
  already_exists: { status: 409, retryable: false },
  invalid_state: { status: 409, retryable: false },
  exhausted: { status: 409, retryable: false },
  idempotency_key_reused: { status: 422, retryable: false },
  unprocessable: { status: 422, retryable: false },
  // Inventory and IPAM
  invalid_cidr: { status: 422, retryable: false },
  invalid_address: { status: 422, retryable: false },
  invalid_ssh_key: { status: 422, retryable: false },
  outside_network: { status: 422, retryable: false },
  address_reserved: { status: 422, retryable: false },
  outside_parent: { status: 422, retryable: false },
  address_in_use: { status: 409, retryable: false },
  network_exhausted: { status: 409, retryable: false },
  pool_exhausted: { status: 409, retryable: false },
  overlap: { status: 409, retryable: false },
  has_dependents: { status: 409, retryable: false },
  // A child pool placed in another address scope than its parent's.
  scope_mismatch: { status: 422, retryable: false },
  payload_too_large: { status: 413, retryable: false },
  rate_limited: { status: 429, retryable: true },
  provider_error: { status: 502, retryable: true },
  provider_rejected: { status: 422, retryable: false },
  phone_home_timeout: { status: 504, retryable: false },
  // Providers (Proxmox, QEMU, Redfish BMCs)
  provider_auth_failed: { status: 502, retryable: false },
  tls_verification_failed: { status: 502, retryable: false },
  provider_task_failed: { status: 502, retryable: false },
  bmc_unreachable: { status: 502, retryable: true },
  bmc_write_not_persisted: { status: 502, retryable: false },
  no_host_available: { status: 409, retryable: false },
  // Clouds (AWS, GCP): the detail starts with the cloud's own error code.
  cloud_credentials_missing: { status: 422, retryable: false },
  cloud_credentials_invalid: { status: 422, retryable: false },
  cloud_rejected: { status: 422, retryable: false },
  cloud_dependency_violation: { status: 409, retryable: false },
  cloud_throttled: { status: 429, retryable: true },
  cloud_unavailable: { status: 502, retryable: true },
  cloud_operation_failed: { status: 502, retryable: false },
  // Bare-metal hosts: sealed BMC credentials that the configured key cannot open.
  secret_key_mismatch: { status: 500, retryable: false },
  unavailable: { status: 503, retryable: true },
  internal: { status: 500, retryable: true },
} as const satisfies Record<string, { status: number; retryable: boolean }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Codes that a retry can never fix; activities raise them as non-retryable failures. */
export const NON_RETRYABLE_CODES: ErrorCode[] = (Object.keys(ERROR_CODES) as ErrorCode[]).filter((code) => !ERROR_CODES[code].retryable);

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

export class HangarError extends Error {
  readonly code: ErrorCode;
  readonly fields: Record<string, string> | undefined;

  constructor(code: ErrorCode, detail: string, fields?: Record<string, string>) {
    super(detail);
    this.name = 'HangarError';
    this.code = code;
    this.fields = fields;
  }

  get status(): number {
    return ERROR_CODES[this.code].status;
  }

  get retryable(): boolean {
    return ERROR_CODES[this.code].retryable;
  }
}

export interface ErrorEnvelope {
  error: ErrorCode;
  detail: string;
  fields?: Record<string, string>;
}

export function toEnvelope(err: HangarError): ErrorEnvelope {
  return err.fields ? { error: err.code, detail: err.message, fields: err.fields } : { error: err.code, detail: err.message };
}
