// Runs the `hangar` launcher (cli/hangar) as a user would, for the e2e suites: a fresh process per
// command, with PATH and HOME only plus the environment the suite sets up (API URL, token, …).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { RunningWorker } from '../../workers/worker.ts';
import { createToken, startApi, startInProcessWorker, testConfig, testEnv, type TestApi } from './harness.ts';
import { ROOT, TEST_DATA_DIR } from './services.ts';

const HANGAR = resolve(ROOT, 'cli/hangar');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface HangarCli {
  /** Runs a command whatever its exit code; `extraEnv` overrides the suite's environment. */
  run(args: string[], extraEnv?: Record<string, string>): Promise<CliRun>;
  /** Runs a command that must succeed; a failure shows its stderr. */
  ok(args: string[]): Promise<CliRun>;
  /** Runs a command that must succeed with `--json` added, and parses its output. */
  json<T = any>(args: string[]): Promise<T>;
  /** Runs a command that must fail with `code`; returns its stderr. */
  fails(code: number, args: string[]): Promise<string>;
  /** Runs a list command with `--all --json`; checks it printed the API's page shape and returns the items. */
  items<T = any>(args: string[]): Promise<T[]>;
}

/** `env` is read at each call, so a suite can fill it in beforeAll. */
export function hangarCli(env: () => Record<string, string>): HangarCli {
  const run = (args: string[], extraEnv: Record<string, string> = {}): Promise<CliRun> =>
    new Promise((done) => {
      execFile(
        HANGAR,
        args,
        { cwd: TEST_DATA_DIR, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env(), ...extraEnv }, timeout: 90_000 },
        (err, stdout, stderr) => {
          done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
        },
      );
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
  const items = async <T = any>(args: string[]): Promise<T[]> => {
    const page = await json<{ items: T[]; next_cursor: string | null }>([...args, '--all']);
    if (!Array.isArray(page.items) || page.next_cursor !== null)
      throw new Error(`hangar ${args.join(' ')} --all --json did not print {items, next_cursor: null}`);
    return page.items;
  };
  return { run, ok, json, fails, items };
}

/** Line `at` of a table (0: the header). */
export const tableLine = (out: string, at = 0) => out.split('\n')[at] ?? '';
/** The rows of a table, without its header. */
export const tableRows = (out: string) => out.trimEnd().split('\n').slice(1);

type Hook = (fn: () => Promise<void>, timeout?: number) => void;

export interface CliSuite extends HangarCli {
  api: TestApi;
  /** Present when the suite asked for a worker. */
  worker?: RunningWorker;
  /** The operator token the commands run with. */
  token: string;
  /** A folder removed after the suite. */
  tmp: string;
  /** A clean-up that needs the API's clients: it runs before they close (see ApiFixture.beforeClose). */
  beforeClose: (fn: () => Promise<void>) => void;
}

/**
 * A real API (and, with `worker`, an in-process worker on its own task queue) for a suite that
 * runs `hangar` commands as an operator. `config` adds settings to the servers' configuration.
 */
export function useCliSuite(hooks: { beforeAll: Hook; afterAll: Hook }, opts: { worker?: boolean; config?: Record<string, string> } = {}): CliSuite {
  let env: Record<string, string> = {};
  const suite = hangarCli(() => env) as CliSuite;
  const cleanups: (() => Promise<void>)[] = [];
  suite.beforeClose = (fn) => void cleanups.push(fn);
  hooks.beforeAll(async () => {
    const config = testConfig({ HANGAR_TASK_QUEUE: testEnv().HANGAR_TASK_QUEUE!, ...opts.config });
    suite.api = await startApi(config);
    if (opts.worker) suite.worker = await startInProcessWorker(config);
    suite.token = await createToken(suite.api.orm, 'operator');
    suite.tmp = mkdtempSync(join(tmpdir(), 'hangar-cli-'));
    // Every command is a fresh Node process; a compile cache shared by them saves about a quarter of each start.
    env = { HANGAR_API_URL: suite.api.url, HANGAR_TOKEN: suite.token, HANGAR_LOG_LEVEL: 'silent', NODE_COMPILE_CACHE: join(suite.tmp, 'node-cache') };
  }, 120_000);
  hooks.afterAll(async () => {
    const failures: unknown[] = [];
    if (suite.api) for (const cleanup of cleanups) await cleanup().catch((err: unknown) => failures.push(err));
    await suite.worker?.shutdown();
    await suite.api?.close();
    if (suite.tmp) rmSync(suite.tmp, { recursive: true, force: true });
    if (failures.length) throw new AggregateError(failures, `${failures.length} clean-up(s) before the API closed failed`);
  });
  return suite;
}
