// Runs the `hangar` launcher (cli/hangar) as a user would, for the e2e suites: a fresh process per
// command, with PATH and HOME only plus the environment the suite sets up (API URL, token, …).
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { ROOT, TEST_DATA_DIR } from './services.ts';

const HANGAR = resolve(ROOT, 'cli/hangar');

export interface CliRun { code: number; stdout: string; stderr: string }

export interface HangarCli {
  /** Runs a command whatever its exit code; `extraEnv` overrides the suite's environment. */
  run(args: string[], extraEnv?: Record<string, string>): Promise<CliRun>;
  /** Runs a command that must succeed; a failure shows its stderr. */
  ok(args: string[]): Promise<CliRun>;
  /** Runs a command that must succeed with `--json` added, and parses its output. */
  json<T = any>(args: string[]): Promise<T>;
  /** Runs a command that must fail with `code`; returns its stderr. */
  fails(code: number, args: string[]): Promise<string>;
}

/** `env` is read at each call, so a suite can fill it in beforeAll. */
export function hangarCli(env: () => Record<string, string>): HangarCli {
  const run = (args: string[], extraEnv: Record<string, string> = {}): Promise<CliRun> => new Promise((done) => {
    execFile(HANGAR, args, { cwd: TEST_DATA_DIR, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env(), ...extraEnv }, timeout: 90_000 }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
  const ok = async (args: string[]): Promise<CliRun> => {
    const result = await run(args);
    if (result.code !== 0) throw new Error(`hangar ${args.join(' ')} exited ${result.code}:\n${result.stderr}${result.stdout}`);
    return result;
  };
  const json = async <T = any>(args: string[]): Promise<T> => JSON.parse((await ok([...args, '--json'])).stdout) as T;
  const fails = async (code: number, args: string[]): Promise<string> => {
    const result = await run(args);
    if (result.code !== code) throw new Error(`hangar ${args.join(' ')}: expected exit ${code}, got ${result.code}:\n${result.stderr}${result.stdout}`);
    return result.stderr;
  };
  return { run, ok, json, fails };
}

/** Line `at` of a table (0: the header). */
export const tableLine = (out: string, at = 0) => out.split('\n')[at] ?? '';
/** The rows of a table, without its header. */
export const tableRows = (out: string) => out.trimEnd().split('\n').slice(1);
