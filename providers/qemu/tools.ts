// Runs qemu-img and friends without a shell, mapping failures to HangarErrors that carry the
// tool's stderr tail; plus small file helpers (atomic JSON writes, process checks).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, readFile, rename, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { HangarError } from '../../domain/errors.ts';
import { abortReason } from '../support/sleep.ts';

const STDERR_TAIL = 2000;

export interface ToolResult {
  stdout: string;
  stderr: string;
}

export class ToolError extends HangarError {
  readonly stderr: string;
  constructor(detail: string, stderr: string) {
    super('provider_error', detail);
    this.stderr = stderr;
  }
}

/** Runs a tool without a shell; `signal` kills it (SIGKILL) and the call rejects with the signal's reason. */
export function runTool(tool: string, args: string[], opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<ToolResult> {
  if (opts.signal?.aborted) return Promise.reject(abortReason(opts.signal));
  return new Promise((resolve, reject) => {
    execFile(
      tool,
      args,
      {
        encoding: 'utf8',
        maxBuffer: 16 * 1024 * 1024,
        timeout: opts.timeoutMs ?? 120_000,
        killSignal: 'SIGKILL',
        ...(opts.signal ? { signal: opts.signal } : {}),
      },
      (err, stdout, stderr) => {
        if (!err) return resolve({ stdout, stderr });
        if (opts.signal?.aborted) return reject(abortReason(opts.signal));
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') {
          return reject(new HangarError('provider_error', `${tool} not found (install it: bash scripts/setup-qemu.sh)`));
        }
        const tail = (stderr || err.message).trim().slice(-STDERR_TAIL);
        reject(new ToolError(`${tool} ${args[0] ?? ''} failed (exit ${String(code ?? err.signal ?? '?')}): ${tail}`, stderr));
      },
    );
  });
}

export interface ImageInfo {
  format: string;
  virtualSize: number;
  backingFilename?: string;
  fullBackingFilename?: string;
}

export async function imageInfo(qemuImg: string, file: string): Promise<ImageInfo> {
  // -U: read the header even while a running QEMU holds the image lock.
  const r = await runTool(qemuImg, ['info', '-U', '--output=json', file]);
  const j = JSON.parse(r.stdout) as Record<string, unknown>;
  return {
    format: String(j.format),
    virtualSize: Number(j['virtual-size']),
    backingFilename: j['backing-filename'] as string | undefined,
    fullBackingFilename: j['full-backing-filename'] as string | undefined,
  };
}

/** Writes JSON next to the target and renames it over, so readers never see half a file. */
export async function writeJsonAtomic(path: string, value: unknown, mode = 0o600): Promise<void> {
  const tmp = join(dirname(path), `.${randomBytes(6).toString('hex')}.tmp`);
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode });
  await rename(tmp, path);
}

export async function readJson<T>(path: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * True when `pid` is a live (not zombie) process whose command line contains `marker`
 * (guards against a recycled pid).
 */
export async function processAlive(pid: number, marker: string): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The state follows the parenthesised command name, which may itself contain spaces.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replaceAll('\0', ' ');
    return cmdline.includes(marker);
  } catch {
    return false;
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('no port'))));
    });
  });
}
