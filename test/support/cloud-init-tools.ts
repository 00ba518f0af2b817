// Runs cloud-init's own tools over rendered documents, so tests check what cloud-init accepts
// rather than what we think it accepts. Needs Debian's cloud-init and xorriso
// (`HANGAR_SETUP_TEST_TOOLS=1 bash scripts/setup.sh`, which `make test` does).
// Everything is asynchronous on purpose: tests serve seeds from an in-process HTTP server,
// which a synchronous child process would block.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { ROOT } from './services.ts';

/** The Python that has the `cloudinit` module (a pyenv/venv python on PATH does not). */
export const SYSTEM_PYTHON = '/usr/bin/python3';
export const NOCLOUD_FETCH = resolve(ROOT, 'test/support/nocloud_fetch.py');

export interface RunOutcome {
  code: number;
  stdout: string;
  stderr: string;
}

export function runTool(cmd: string, args: string[], input?: string): Promise<RunOutcome> {
  return new Promise((resolvePromise, reject) => {
    const child = execFile(cmd, args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new Error(`${cmd} not found; run HANGAR_SETUP_TEST_TOOLS=1 bash scripts/setup.sh`));
        return;
      }
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolvePromise({ code, stdout, stderr });
    });
    // A tool that exits without reading stdin makes the write fail with EPIPE; its exit code
    // and output are what matter, so that error is ignored.
    child.stdin?.on('error', () => {});
    child.stdin?.end(input ?? '');
  });
}

async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'hangar-ci-tools-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `cloud-init schema --config-file FILE`: ok only on exit 0 with cloud-init's "Valid" verdict. */
export async function validateUserData(text: string): Promise<{ ok: boolean; output: string }> {
  return withTempDir(async (dir) => {
    const file = join(dir, 'user-data');
    await writeFile(file, text);
    const r = await runTool('cloud-init', ['schema', '--config-file', file]);
    const output = `${r.stdout}${r.stderr}`.trim();
    return { ok: r.code === 0 && /Valid cloud-config/.test(r.stdout), output };
  });
}

/**
 * `cloud-init devel net-convert` from network config v2 YAML to netplan or networkd, for
 * Debian. Returns the files it wrote, keyed by path relative to the target root. Fails on a
 * non-zero exit and also on any WARNING/ERROR it logs: cloud-init skips broken parts of a
 * network config with only a log line, which would otherwise pass unnoticed.
 */
export async function netConvert(text: string, kind: 'netplan' | 'networkd'): Promise<Record<string, string>> {
  return withTempDir(async (dir) => {
    const input = join(dir, 'network-config');
    const out = join(dir, 'out');
    await writeFile(input, text);
    const r = await runTool('cloud-init', [
      'devel',
      'net-convert',
      '--network-data',
      input,
      '--kind',
      'yaml',
      '--distro',
      'debian',
      '--output-kind',
      kind,
      '--directory',
      out,
    ]);
    if (r.code !== 0 || /\b(WARNING|ERROR)\b/.test(r.stderr)) {
      throw new Error(`cloud-init devel net-convert (${kind}) failed (exit ${r.code}): ${r.stderr.trim().slice(-2000)}`);
    }
    const files: Record<string, string> = {};
    for (const entry of await readdir(out, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const full = join(entry.parentPath, entry.name);
      files[relative(out, full)] = await readFile(full, 'utf8');
    }
    return files;
  });
}

/** Parses YAML with cloud-init's own loader (PyYAML, YAML 1.1) and returns it as JSON. */
export async function cloudInitLoadYaml(text: string): Promise<unknown> {
  const script =
    'import json, sys\nfrom cloudinit import util\nprint(json.dumps(util.load_yaml(sys.stdin.read(), allowed=(dict, list, str, int, float, bool, type(None)))))';
  const r = await runTool(SYSTEM_PYTHON, ['-c', script], text);
  if (r.code !== 0) throw new Error(`cloud-init load_yaml failed: ${r.stderr.trim().slice(-2000)}`);
  return JSON.parse(r.stdout) as unknown;
}

export interface NoCloudSeed {
  'meta-data': Record<string, unknown>;
  'user-data': string;
  'vendor-data': string | null;
}

/** Runs nocloud_fetch.py (cloud-init's `util.read_seeded`) against a base URL or directory ending in '/'. */
export async function nocloudFetch(base: string): Promise<NoCloudSeed> {
  const r = await runTool(SYSTEM_PYTHON, [NOCLOUD_FETCH, base]);
  if (r.code !== 0) throw new Error(`nocloud_fetch.py ${base} failed (exit ${r.code}): ${r.stderr.trim().slice(-2000)}`);
  return JSON.parse(r.stdout) as NoCloudSeed;
}

/** `blkid -p -o export IMAGE`: how udev/cloud-init would see the image (LABEL, TYPE, VERSION). */
export async function blkidProbe(path: string): Promise<Record<string, string>> {
  const r = await runTool('blkid', ['-p', '-o', 'export', path]);
  if (r.code !== 0) throw new Error(`blkid ${path} failed (exit ${r.code}): ${r.stderr.trim()}`);
  const out: Record<string, string> = {};
  for (const line of r.stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1).replace(/\\(.)/g, '$1');
  }
  return out;
}

/** Extracts a whole ISO into a directory with xorriso (what mounting it would show). */
export async function extractIso(path: string, dir: string): Promise<void> {
  const r = await runTool('xorriso', ['-osirrox', 'on', '-indev', path, '-extract', '/', dir]);
  if (r.code !== 0) throw new Error(`xorriso -extract failed (exit ${r.code}): ${r.stderr.trim().slice(-2000)}`);
}
