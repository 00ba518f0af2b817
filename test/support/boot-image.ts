// The bootable Debian cloud image for tests that boot a real guest. scripts/build-image.sh builds
// it once per machine (a few minutes, needs root and the Debian mirror) and caches it in
// $HANGAR_CACHE/images/; later calls only read the cache. Runs asynchronously so the test
// process stays responsive (the build prints progress on stderr).
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ImageManifest } from '../../providers/qemu/qemu-provider.ts';
import { ROOT } from './services.ts';

export interface BootImageManifest extends ImageManifest {
  format: string;
  name: string;
  version: string;
  suite: string;
  kernel: string;
  initrd: string;
  cmdline: string;
  rootLabel: string;
  builtAt: string;
  scriptHash: string;
}

export interface BootImage {
  /** The image directory (what `QemuProvider.importTemplate({ image })` takes). */
  dir: string;
  manifest: BootImageManifest;
}

const BUILD_SCRIPT = resolve(ROOT, 'scripts/build-image.sh');

export async function ensureBootImage(opts: { timeoutMs?: number; log?: (line: string) => void } = {}): Promise<BootImage> {
  const timeoutMs = opts.timeoutMs ?? 30 * 60_000;
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((res, rej) => {
    const child = spawn('bash', [BUILD_SCRIPT], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      out += String(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      err = (err + String(d)).slice(-20_000);
      for (const line of String(d).split('\n')) if (line.trim()) opts.log?.(line);
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      rej(e);
    });
    child.once('close', (c) => {
      clearTimeout(timer);
      res({ code: c, stdout: out, stderr: err });
    });
  });
  if (code !== 0) throw new Error(`scripts/build-image.sh failed (exit ${code}):\n${stderr.trim().split('\n').slice(-40).join('\n')}`);
  const dir = stdout.trim().split('\n').pop()?.trim();
  if (!dir) throw new Error(`scripts/build-image.sh printed no image directory:\n${stderr}`);
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as BootImageManifest;
  return { dir, manifest };
}
