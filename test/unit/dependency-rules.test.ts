// The dependency rules (.dependency-cruiser.cjs) must catch what they claim to catch: each rule
// is run over a small tree with one planted violation per rule beside code that obeys them all,
// so a rule that silently matches nothing (a wrong path pattern, a dependency type that never
// occurs) fails here instead of passing the real tree by accident.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ROOT } from '../support/services.ts';

/** path → source. Every import target exists, so nothing is flagged for failing to resolve. */
const TREE: Record<string, string> = {
  // Obeys every rule: pure domain code may use zod, hashing and types from anywhere in node_modules.
  'domain/pure.ts':
    "import { z } from 'zod';\nimport { createHash } from 'node:crypto';\nimport type { Logger } from 'pino';\nexport const name = z.string();\nexport const hash = (s: string, _l?: Logger) => createHash('sha256').update(s).digest('hex');\n",
  'domain/writes-files.ts':
    "import { writeFileSync } from 'node:fs';\nimport { name } from './pure.ts';\nexport const save = () => writeFileSync('x', String(name));\n",
  'domain/reaches-up.ts': "import type { Row } from '../db/rows.ts';\nimport { hash } from './pure.ts';\nexport type R = Row;\nexport const h = hash;\n",
  'domain/uses-helper-folder.ts': "import { log } from '../system/logger.ts';\nexport const l = log;\n",
  'domain/cycle-a.ts': "import { b } from './cycle-b.ts';\nexport const a = () => b;\n",
  'domain/cycle-b.ts': "import { a } from './cycle-a.ts';\nexport const b = () => a;\n",
  // A cycle through a type-only import vanishes at compile time: allowed.
  'domain/names-types.ts': "import type { Kinds } from './uses-names.ts';\nexport const first = (k: Kinds) => k[0];\n",
  'domain/uses-names.ts': "import { first } from './names-types.ts';\nexport type Kinds = string[];\nexport const f1 = first;\n",
  // A folder for side-effecting helpers, unknown to the rules by name: it may write files.
  'system/logger.ts': "import { appendFileSync } from 'node:fs';\nexport const log = (s: string) => appendFileSync('log', s);\n",
  // ...but it ships, so it may not lean on test support.
  'system/uses-test-support.ts': "import { fixture } from '../test/support.ts';\nexport const g = fixture;\n",
  'workflows/obeys.ts':
    "import { proxyActivities } from '@temporalio/workflow';\nimport type { Duration } from '@temporalio/common';\nimport type { Acts } from '../activities/acts.ts';\nimport { hash } from '../domain/pure.ts';\nexport const acts = proxyActivities<Acts>({ startToCloseTimeout: '1m' as Duration });\nexport const h = hash;\n",
  'workflows/calls-activity.ts': "import { createActs } from '../activities/acts.ts';\nexport const run = createActs;\n",
  'workflows/uses-client.ts': "import { Client } from '@temporalio/client';\nexport const C = Client;\n",
  'workflows/type-from-db.ts': "import type { Row } from '../db/rows.ts';\nexport type R = Row;\n",
  'providers/client.ts': "import { request } from 'node:https';\nimport { hash } from '../domain/pure.ts';\nexport const call = () => request(hash('x'));\n",
  'providers/knows-temporal.ts': "import type { Context } from '@temporalio/activity';\nexport type C = Context;\n",
  'providers/reaches-db.ts': "import type { Row } from '../db/rows.ts';\nexport type R = Row;\n",
  'providers/dead.ts': 'export const unused = 1;\n',
  'providers/logs-with-dev-package.ts': "import { pino } from 'pino';\nexport const logger = pino();\n",
  'api/undeclared-package.ts': "import { parse } from 'yaml';\nexport const p = parse;\n",
  'db/rows.ts': "import { hash } from '../domain/pure.ts';\nexport interface Row { id: string }\nexport const h = hash;\n",
  'db/reaches-providers.ts': "import type { R } from '../providers/reaches-db.ts';\nexport type X = R;\n",
  'activities/acts.ts':
    "import { call } from '../providers/client.ts';\nimport { h } from '../db/rows.ts';\nexport interface Acts { call(): Promise<void> }\nexport const createActs = () => ({ call, h });\n",
  'activities/reaches-api.ts': "import { app } from '../api/app.ts';\nexport const a = app;\n",
  'api/app.ts':
    "import { createActs } from '../activities/acts.ts';\nimport { acts } from '../workflows/obeys.ts';\nexport const app = { createActs, acts };\n",
  'api/uses-test-support.ts': "import { fixture } from '../test/support.ts';\nexport const f = fixture;\n",
  'test/support.ts': "import { app } from '../api/app.ts';\nexport const fixture = app;\n",
  'test/app.test.ts':
    "import { fixture } from './support.ts';\nimport { f } from '../api/uses-test-support.ts';\nimport { save } from '../domain/writes-files.ts';\nimport { h } from '../domain/reaches-up.ts';\nimport { l } from '../domain/uses-helper-folder.ts';\nimport { g } from '../system/uses-test-support.ts';\nimport { a } from '../domain/cycle-a.ts';\nimport { f1 } from '../domain/uses-names.ts';\nimport { run } from '../workflows/calls-activity.ts';\nimport { C } from '../workflows/uses-client.ts';\nimport type { R } from '../workflows/type-from-db.ts';\nimport type { C as K } from '../providers/knows-temporal.ts';\nimport type { X } from '../db/reaches-providers.ts';\nimport { a as r } from '../activities/reaches-api.ts';\nimport { logger } from '../providers/logs-with-dev-package.ts';\nimport { p } from '../api/undeclared-package.ts';\nexport const all = [fixture, f, save, h, l, g, a, f1, run, C, r, logger, p];\nexport type T = [R, K, X];\n",
};

const EXPECTED = [
  'activities-stay-below-entrypoints activities/reaches-api.ts → api/app.ts',
  'db-stays-below-activities db/reaches-providers.ts → providers/reaches-db.ts',
  'domain-has-no-side-effects domain/writes-files.ts → fs',
  'domain-imports-only-domain domain/reaches-up.ts → db/rows.ts',
  'domain-imports-only-domain domain/uses-helper-folder.ts → system/logger.ts',
  'no-circular domain/cycle-a.ts → domain/cycle-b.ts',
  'no-orphans providers/dead.ts → providers/dead.ts',
  'no-undeclared-packages api/undeclared-package.ts → node_modules/yaml',
  'product-never-imports-dev-dependencies providers/logs-with-dev-package.ts → node_modules/pino',
  'product-never-imports-tests api/uses-test-support.ts → test/support.ts',
  'product-never-imports-tests system/uses-test-support.ts → test/support.ts',
  'providers-know-no-temporal providers/knows-temporal.ts → node_modules/@temporalio/activity',
  'providers-stay-below-activities providers/reaches-db.ts → db/rows.ts',
  'workflows-are-deterministic workflows/calls-activity.ts → activities/acts.ts',
  'workflows-are-deterministic workflows/uses-client.ts → node_modules/@temporalio/client',
  'workflows-import-types-only-of-activities workflows/type-from-db.ts → db/rows.ts',
];

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

/** node_modules/@temporalio/client/lib/index.js → node_modules/@temporalio/client */
const packageRoot = (path: string) => path.replace(/^(node_modules\/(?:@[^/]+\/)?[^/]+)\/.*$/, '$1');

let dir: string;
let violations: string[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hangar-deprules-'));
  for (const [path, source] of Object.entries(TREE)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), source);
  }
  // The packages resolve through the project's own node_modules (kept under that name, hence
  // --preserve-symlinks); package.json says which are runtime ones.
  symlinkSync(resolve(ROOT, 'node_modules'), join(dir, 'node_modules'));
  // yaml is left out on purpose (an undeclared package); pino is a devDependency here.
  const deps = Object.fromEntries(['zod', '@temporalio/workflow', '@temporalio/common', '@temporalio/client', '@temporalio/activity'].map((p) => [p, '*']));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'probe', type: 'module', dependencies: deps, devDependencies: { pino: '*' } }));
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', allowImportingTsExtensions: true, noEmit: true } }),
  );
  const stdout = await new Promise<string>((done, fail) => {
    execFile(
      process.execPath,
      [
        resolve(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs'),
        '--config',
        resolve(ROOT, '.dependency-cruiser.cjs'),
        '--output-type',
        'json',
        '--preserve-symlinks',
        '.',
      ],
      { cwd: dir, maxBuffer: 32 * 1024 * 1024 },
      // Exit code 1 means "violations found", which is what this tree is for; the JSON tells which.
      (err, out, stderr) => (out ? done(out) : fail(err ?? new Error(stderr))),
    );
  });
  const result = JSON.parse(stdout) as { summary: { violations: Violation[] } };
  violations = result.summary.violations.map((v) => `${v.rule.name} ${v.from} → ${packageRoot(v.to)}`).sort();
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('the dependency rules', () => {
  it('flag exactly the planted violations and nothing in the code that obeys them', () => {
    expect(violations).toEqual(EXPECTED);
  });

  it('have every rule of the configuration fire at least once', async () => {
    const { createRequire } = await import('node:module');
    const config = createRequire(import.meta.url)(resolve(ROOT, '.dependency-cruiser.cjs')) as { forbidden: { name: string }[] };
    const fired = new Set(violations.map((v) => v.split(' ')[0]));
    const missing = config.forbidden.map((r) => r.name).filter((n) => !fired.has(n));
    expect(missing).toEqual([]);
  });
});
