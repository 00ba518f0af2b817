// Runs schemathesis (installed by scripts/setup-schemathesis.sh) against a running API. The bearer
// token never appears on a command line: the generated schemathesis.toml refers to it as
// ${HANGAR_SCHEMATHESIS_TOKEN}, which schemathesis expands from its environment.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ROOT } from './services.ts';

export const SCHEMATHESIS_BIN = resolve(ROOT, '.tools/bin/schemathesis');

/** Pins a path parameter of the operations whose path matches `pathRegex` (a seeded resource). */
export interface PinnedParameters {
  pathRegex: string;
  methods?: string[];
  parameters: Record<string, string>;
}

export interface SchemathesisRun {
  exitCode: number | null;
  output: string;
  /** The JUnit report: one testcase per operation. */
  junit: string;
}

const tomlString = (s: string) => JSON.stringify(s);

export function schemathesisConfig(pins: PinnedParameters[]): string {
  const lines = ['headers = { Authorization = "Bearer ${HANGAR_SCHEMATHESIS_TOKEN}" }', 'color = false', ''];
  for (const pin of pins) {
    lines.push('[[operations]]', `include-path-regex = ${tomlString(pin.pathRegex)}`);
    if (pin.methods) lines.push(`include-method = [${pin.methods.map(tomlString).join(', ')}]`);
    lines.push(
      `parameters = { ${Object.entries(pin.parameters)
        .map(([k, v]) => `${tomlString(k)} = ${tomlString(v)}`)
        .join(', ')} }`,
      '',
    );
  }
  return lines.join('\n');
}

export async function runSchemathesis(opts: {
  schemaUrl: string;
  token: string;
  checks: string[];
  maxExamples: number;
  pins: PinnedParameters[];
  extraEnv?: Record<string, string>;
  args?: string[];
}): Promise<SchemathesisRun> {
  if (!existsSync(SCHEMATHESIS_BIN)) throw new Error(`${SCHEMATHESIS_BIN} is missing: run HANGAR_SETUP_TEST_TOOLS=1 bash scripts/setup.sh`);
  const dir = mkdtempSync(join(tmpdir(), 'hangar-schemathesis-'));
  const config = join(dir, 'schemathesis.toml');
  writeFileSync(config, schemathesisConfig(opts.pins));
  const junit = join(dir, 'junit.xml');
  const args = [
    '--config-file',
    config,
    'run',
    opts.schemaUrl,
    '--checks',
    opts.checks.join(','),
    '--max-examples',
    String(opts.maxExamples),
    '--seed',
    '1',
    // One worker: Python 3.11's ast.parse is not thread-safe, and hypothesis calls it while generating.
    '--workers',
    '1',
    '--request-timeout',
    '20',
    '--report',
    'junit',
    '--report-junit-path',
    junit,
    ...(opts.args ?? []),
  ];
  const child = spawn(SCHEMATHESIS_BIN, args, {
    cwd: dir,
    env: { ...process.env, ...opts.extraEnv, HANGAR_SCHEMATHESIS_TOKEN: opts.token, NO_COLOR: '1', COLUMNS: '160' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => {
    output += String(d);
  });
  child.stderr.on('data', (d) => {
    output += String(d);
  });
  const exitCode = await new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const report = existsSync(junit) ? readFileSync(junit, 'utf8') : '';
  rmSync(dir, { recursive: true, force: true });
  return { exitCode, output, junit: report };
}
