// moto's server (a local AWS for EC2 and STS) for the cloud tests: one process per suite on
// 127.0.0.1:<free port> (moto binds every interface unless given the host), built by
// scripts/setup-moto.sh when missing, reset through its reset endpoint between suites.
//
//   const moto = await startMoto();
//   ... new AwsNetworks({ endpoint: moto.url, ... })
//   await moto.reset(); await moto.stop();
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ROOT } from './services.ts';
import { freePort } from './sushy.ts';

export const MOTO_BIN = resolve(ROOT, '.tools/moto-venv/bin/moto_server');
export const MOTO_PYTHON = resolve(ROOT, '.tools/moto-venv/bin/python');

export interface MotoServer {
  url: string;
  /** Everything moto printed so far (for failure messages). */
  output: () => string;
  /** POST /moto-api/reset: every account's resources are dropped. */
  reset: () => Promise<void>;
  stop: () => Promise<void>;
}

export function ensureMoto(): string {
  if (!existsSync(MOTO_BIN)) execFileSync('bash', [resolve(ROOT, 'scripts/setup-moto.sh')], { stdio: ['ignore', 'pipe', 'inherit'], timeout: 600_000 });
  return MOTO_BIN;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Starts moto_server; `env` adds settings such as INITIAL_NO_AUTH_ACTION_COUNT (IAM auth on). */
export async function startMoto(env: Record<string, string> = {}): Promise<MotoServer> {
  const bin = ensureMoto();
  const port = await freePort();
  const child = spawn(bin, ['-H', '127.0.0.1', '-p', String(port)], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  child.stdout!.on('data', (d) => {
    out += String(d);
  });
  child.stderr!.on('data', (d) => {
    out += String(d);
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with ${child.exitCode}:\n${out}`);
    try {
      const res = await fetch(`${url}/moto-api/`);
      if (res.status < 500) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`moto_server did not start on ${url}:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    output: () => out,
    reset: async () => {
      const res = await fetch(`${url}/moto-api/reset`, { method: 'POST' });
      if (!res.ok) throw new Error(`moto reset answered ${res.status}`);
    },
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      running.delete(child);
    },
  };
}
