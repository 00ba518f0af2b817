// The teardown guard (test/support/leak-guard) proven in a child jest run over fixtures that leak
// on purpose: each leaking suite fails naming what it left alive, the suite that closes everything
// (some of it a moment after its last hook) passes.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

const ROOT = resolve(import.meta.dirname, '../..');
const FIXTURES = 'test/support/leak-guard/fixtures';

interface FileResult {
  name: string;
  status: string;
  message: string;
}

let results: Map<string, FileResult>;
let childOutput: string;
const work = mkdtempSync(join(tmpdir(), 'hangar-leak-guard-'));

beforeAll(async () => {
  const config = {
    rootDir: ROOT,
    roots: [`<rootDir>/${FIXTURES}`],
    testMatch: ['**/*.fixture.ts'],
    testEnvironment: '<rootDir>/test/support/leak-guard/environment.ts',
    runner: '<rootDir>/test/support/leak-guard/runner.cjs',
    testEnvironmentOptions: { leakSettleMs: 1_500 },
    extensionsToTreatAsEsm: ['.ts'],
    transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2023' }, module: { type: 'es6' } }] },
    // A fresh cache: no recorded timings, so jest runs the suites in worker processes as CI does.
    cacheDirectory: join(work, 'cache'),
  };
  const outputFile = join(work, 'results.json');
  const args = ['--experimental-vm-modules', '--no-warnings=ExperimentalWarning', 'node_modules/jest/bin/jest.js', '--ci', '--maxWorkers=2'];
  args.push('--config', JSON.stringify(config), '--json', '--outputFile', outputFile);
  childOutput = await new Promise<string>((done) => {
    // The child run fails (the leaking suites fail): that is the point, so its exit code is not an error here.
    const env = { ...process.env, HANGAR_JEST_WORKER_GRACE_MS: '1000' };
    execFile(process.execPath, args, { cwd: ROOT, env, timeout: 200_000 }, (_err, stdout, stderr) => done(`${stdout}${stderr}`));
  });
  const report = JSON.parse(readFileSync(outputFile, 'utf8')) as { testResults: { name: string; status: string; message: string }[] };
  results = new Map(report.testResults.map((r) => [r.name.slice(r.name.lastIndexOf('/') + 1).replace('.fixture.ts', ''), r]));
}, 210_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

const result = (name: string): FileResult => {
  const r = results.get(name);
  if (!r) throw new Error(`no result for fixture ${name}; child jest said:\n${childOutput}`);
  return r;
};

describe('the teardown guard', () => {
  it('fails a suite that leaves a server listening, naming its address', () => {
    const r = result('leaks-server');
    expect(r.status).toBe('failed');
    expect(r.message).toContain('LeakedResourceError');
    expect(r.message).toMatch(/a server listening on 127\.0\.0\.1:\d+/);
  });

  it('fails a suite that leaves a timer and a child process, naming both', () => {
    const r = result('leaks-timer-and-child');
    expect(r.status).toBe('failed');
    expect(r.message).toMatch(/a child process \(pid \d+: sleep 30\)/);
    expect(r.message).toContain('1 × timer');
  });

  it('fails a suite that leaves a worker thread running, which Node does not list as a resource', () => {
    const r = result('leaks-thread');
    expect(r.status).toBe('failed');
    expect(r.message).toContain('a worker thread');
    expect(r.message).toContain('leaks-thread.fixture.ts');
  });

  it('fails a suite that leaves a Temporal native runtime up, which Node does not list either', () => {
    const r = result('leaks-temporal-runtime');
    expect(r.status).toBe('failed');
    expect(r.message).toContain('a Temporal native runtime');
    expect(r.message).toContain('leaks-temporal-runtime.fixture.ts');
  });

  it('still kills, and jest still reports, a worker that a leak keeps alive past the end-of-run grace', () => {
    expect(childOutput).toMatch(/jest worker \(pid \d+\) still alive 1000 ms after the end of the run: killing it/);
    expect(childOutput).toContain('A worker process has failed to exit gracefully');
  });

  it('passes a suite that closes everything, waiting for closes still in flight after its last hook', () => {
    const r = result('closes-in-time');
    expect(r.message).toBe('');
    expect(r.status).toBe('passed');
  });
});
