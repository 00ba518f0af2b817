// Builds and reads NoCloud "cidata" ISO images. cloud-init finds the seed by the filesystem
// label `cidata`; Joliet + Rock Ridge keep long names such as `network-config` intact (plain
// ISO 9660 would shorten them to 8.3 upper-case names that NoCloud never looks for).
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

export type IsoTool = 'xorriso' | 'genisoimage';

export const CIDATA_VOLUME_ID = 'cidata';
const STDERR_TAIL = 2000;
const MAX_BUFFER = 16 * 1024 * 1024;

interface RunResult {
  stdout: string;
  stderr: string;
}

/** Runs a tool without a shell; failures name the tool and carry its stderr tail. `signal` kills it. */
function run(tool: string, args: string[], signal?: AbortSignal): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(tool, args, { maxBuffer: MAX_BUFFER, encoding: 'utf8', killSignal: 'SIGKILL', ...(signal ? { signal } : {}) }, (err, stdout, stderr) => {
      if (!err) return resolve({ stdout, stderr });
      if (signal?.aborted) return reject(signal.reason ?? err);
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return reject(new Error(`${tool} not found on PATH (install it: apt-get install ${tool})`));
      const tail = (stderr || err.message).trim().slice(-STDERR_TAIL);
      reject(new Error(`${tool} ${args[0] ?? ''} failed (exit ${String(code ?? err.signal ?? '?')}): ${tail}`));
    });
  });
}

function checkName(name: string): void {
  // Seed files live in the image root; anything path-like is a bug in the caller.
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new Error(`invalid cidata file name: ${JSON.stringify(name)}`);
}

export async function writeCidataIso(outPath: string, files: Record<string, string>, opts: { tool?: IsoTool; signal?: AbortSignal } = {}): Promise<void> {
  const tool = opts.tool ?? 'xorriso';
  const names = Object.keys(files);
  names.forEach(checkName);
  const dir = await mkdtemp(join(tmpdir(), 'hangar-cidata-'));
  // Build next to the target and rename, so a reader never sees a half-written image.
  const partial = join(dirname(outPath), `.${randomBytes(6).toString('hex')}.cidata.partial`);
  try {
    for (const name of names) await writeFile(join(dir, name), files[name] ?? '', { mode: 0o600 });
    const mkisofs = ['-output', partial, '-volid', CIDATA_VOLUME_ID, '-joliet', '-rock', dir];
    await run(tool, tool === 'xorriso' ? ['-as', 'mkisofs', ...mkisofs] : mkisofs, opts.signal);
    await rename(partial, outPath);
  } finally {
    await rm(dir, { recursive: true, force: true });
    await rm(partial, { force: true });
  }
}

// xorriso prints paths in single quotes, an embedded quote as '"'"'.
function unquote(line: string): string {
  const s = line.trim();
  if (s.length >= 2 && s.startsWith("'") && s.endsWith("'")) return s.slice(1, -1).replaceAll(`'"'"'`, "'");
  return s;
}

export async function listIso(path: string): Promise<{ volumeId: string; files: string[] }> {
  const pvd = await run('xorriso', ['-indev', path, '-pvd_info']);
  const match = /^Volume Id\s*:\s?(.*)$/m.exec(pvd.stdout);
  if (!match) throw new Error(`xorriso -pvd_info printed no Volume Id for ${path}`);
  const found = await run('xorriso', ['-indev', path, '-find', '/', '-type', 'f']);
  const files = found.stdout
    .split('\n')
    .filter((l) => l.trim().startsWith("'/"))
    .map((l) => unquote(l).replace(/^\//, ''))
    .sort();
  return { volumeId: (match[1] ?? '').trim(), files };
}

export async function readIsoFile(path: string, name: string): Promise<string> {
  checkName(name);
  const dir = await mkdtemp(join(tmpdir(), 'hangar-iso-read-'));
  try {
    const out = join(dir, 'file');
    await run('xorriso', ['-osirrox', 'on', '-indev', path, '-extract', `/${name}`, out]);
    return await readFile(out, 'utf8');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
