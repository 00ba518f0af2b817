// How a failed Proxmox call is classified into Hangar's error codes, and which failures prove
// that Proxmox did nothing (so even a non-idempotent request may be sent again).
import { HangarError } from '../../domain/errors.ts';

export const LOCK_TIMEOUT = /can't lock file .*got timeout|got lock request timeout|lock .*timeout/i;
export const BUSY = /got no worker|temporarily unavailable|too many (open )?connections/i;
export const ALREADY_EXISTS = /already exists/i;
export const NOT_FOUND = /does not exist|no such (vm|volume|file|task|storage)|not found|unable to find configuration file/i;
/** Connection failures that happen before a request could reach the server. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
/** Errors for which Proxmox provably did nothing, so any request may be sent again. */
export const notApplied = new WeakSet<HangarError>();
export const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
  'ESOCKETTIMEDOUT',
  'UND_ERR_SOCKET',
  'ERR_STREAM_PREMATURE_CLOSE',
]);
export const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'INVALID_CA',
  'HOSTNAME_MISMATCH',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

/** What the client knows about a failed call, before it becomes a HangarError. */
export interface Failure {
  status?: number;
  reason?: string;
  message?: string;
  errors?: Record<string, string>;
  networkCode?: string;
}

export function classifyFailure(method: string, path: string, f: Failure, scrub: (text: string) => string, tokenId: string): HangarError {
  const where = `Proxmox ${method} ${path}`;
  const text = [f.reason, f.message].filter((s): s is string => !!s && s.trim() !== '').map((s) => s.trim());
  const uniq = [...new Set(text)];
  const paramErrors = f.errors
    ? Object.entries(f.errors)
        .map(([k, v]) => `${k}: ${v}`)
        .join('; ')
    : '';
  const summary = uniq.join(' - ') + (paramErrors ? ` (${paramErrors})` : '');
  const msg = (code: string) => scrub(`${where} failed (${code})${summary ? `: ${summary}` : ''}`);
  const unapplied = (e: HangarError) => {
    notApplied.add(e);
    return e;
  };
  if (f.networkCode) {
    const e = new HangarError('provider_error', msg(f.networkCode));
    return NOT_SENT_CODES.has(f.networkCode) ? unapplied(e) : e;
  }
  const status = f.status ?? 0;
  const all = summary;
  if (status === 401)
    return new HangarError(
      'provider_auth_failed',
      scrub(`${where} failed (HTTP 401): Proxmox rejected API token ${tokenId}${uniq.length ? ` (${uniq.join(' - ')})` : ''}`),
    );
  // A lock timeout answered in the request itself, and pveproxy's "got no worker", mean the
  // call never ran; the same text from a task (see #taskFailure) is only retryable.
  if (LOCK_TIMEOUT.test(all)) return unapplied(new HangarError('provider_error', msg(`HTTP ${status}, lock timeout`)));
  if (BUSY.test(all)) return unapplied(new HangarError('provider_error', msg(`HTTP ${status}, busy`)));
  if (ALREADY_EXISTS.test(all)) return new HangarError('already_exists', msg(`HTTP ${status}`));
  // Proxmox answers "no such VM" / "does not exist" with 500 (or 404 on some paths).
  if (status === 404 || ((status === 500 || (status > 400 && status < 500)) && NOT_FOUND.test(all))) {
    return new HangarError('not_found', msg(`HTTP ${status}`));
  }
  if (status >= 500 || status === 408 || status === 429) return new HangarError('provider_error', msg(`HTTP ${status}`));
  if (status >= 400) return new HangarError('provider_rejected', msg(`HTTP ${status}`));
  return new HangarError('provider_error', msg(`HTTP ${status}`));
}
