// SHA-256 of a file, streamed (images are gigabytes), calling `onProgress` every couple of
// seconds so the activity behind it can heartbeat; stops when `signal` aborts.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export async function sha256File(path: string, opts: { onProgress?: () => void; signal?: AbortSignal } = {}): Promise<string> {
  const hash = createHash('sha256');
  let last = Date.now();
  const stream = createReadStream(path, { highWaterMark: 1024 * 1024, ...(opts.signal ? { signal: opts.signal } : {}) });
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    if (opts.onProgress && Date.now() - last > 2000) {
      opts.onProgress();
      last = Date.now();
    }
  }
  return hash.digest('hex');
}
