// Bare-metal templates: a boot image a BMC mounts by URL as virtual media. Nothing is imported
// (the BMC fetches the image itself at provision time), so "creating" a template means checking
// that the URL answers and, when a checksum is given, that the bytes behind it match — better a
// failed template now than a host that boots nothing later.
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { HangarError } from '../../domain/errors.ts';
import { redactUrl } from '../../domain/logging.ts';

export interface BootImageCheck {
  /** What provisioning passes to InsertMedia. */
  url: string;
  /** Content-Length when the server told, else null. */
  sizeBytes: number | null;
  /** `sha256:<hex>` when the image was read through, else null. */
  checksum: string | null;
}

export interface BootImageOptions {
  /** `sha256:<64 hex>`: read the whole image and compare. */
  checksum?: string;
  /** Called while reading (activities heartbeat here). */
  onProgress?: (bytes: number) => void;
  timeoutMs?: number;
  /** Stops the check (the activity was cancelled); it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Checks a boot image URL the way a BMC will use it. http(s): the image must answer 2xx to a
 * GET (read through and hashed when a checksum is given, else only the headers are read).
 * nfs/cifs/smb URLs cannot be checked from here and are accepted as given (no checksum).
 */
export async function checkBootImage(url: string, opts: BootImageOptions = {}): Promise<BootImageCheck> {
  const shown = redactUrl(url);
  if (!/^https?:\/\//i.test(url)) {
    if (opts.checksum) {
      throw new HangarError('validation_failed', `cannot verify a checksum for ${shown}: only http(s) images can be read by Hangar`);
    }
    return { url, sizeBytes: null, checksum: null };
  }
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return new Promise<BootImageCheck>((resolve, reject) => {
    const mod = url.toLowerCase().startsWith('https:') ? https : http;
    const req = mod.get(url, { headers: { 'user-agent': 'hangar' }, ...(opts.signal ? { signal: opts.signal } : {}) }, (res) => {
      const status = res.statusCode ?? 0;
      if (status < 200 || status >= 300) {
        res.resume();
        const hint = status >= 300 && status < 400 ? ' (redirect: give the final URL, BMCs often do not follow redirects)' : '';
        reject(new HangarError('provider_rejected', `boot image ${shown} answered HTTP ${status}${hint}`));
        return;
      }
      const length = Number(res.headers['content-length']);
      const sizeBytes = Number.isFinite(length) && length >= 0 ? length : null;
      if (!opts.checksum) {
        // Headers are enough to know the BMC will find something there.
        res.destroy();
        resolve({ url, sizeBytes, checksum: null });
        return;
      }
      const hash = createHash('sha256');
      let bytes = 0;
      let reported = 0;
      res.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        bytes += chunk.length;
        if (bytes - reported >= 8 * 1024 * 1024) {
          reported = bytes;
          opts.onProgress?.(bytes);
        }
      });
      res.on('error', (err) =>
        reject(opts.signal?.aborted ? opts.signal.reason : new HangarError('provider_error', `reading boot image ${shown} failed: ${err.message}`)),
      );
      res.on('end', () => {
        const got = `sha256:${hash.digest('hex')}`;
        if (got !== opts.checksum!.toLowerCase()) {
          reject(new HangarError('provider_rejected', `boot image ${shown} has checksum ${got}, expected ${opts.checksum}`));
          return;
        }
        resolve({ url, sizeBytes: sizeBytes ?? bytes, checksum: got });
      });
    });
    // An idle socket for timeoutMs fails the check (a slow but moving download does not).
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`no data for ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (opts.signal?.aborted) return reject(opts.signal.reason);
      const transient = ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'].includes(err.code ?? '');
      reject(new HangarError(transient ? 'provider_error' : 'provider_rejected', `boot image ${shown} is not reachable: ${err.code ?? err.message}`));
    });
  });
}
