// Jest runs the TypeScript sources as ESM: @swc/jest strips types, Node's VM modules load them.
// Two lanes (projects): `unit` needs no service and runs in seconds; `integration` (integration,
// workflows, e2e) gets PostgreSQL and Temporal from its global set-up, which jest runs only when
// a test of that project is selected (`--selectProjects unit` or a unit file path starts nothing).
// Every suite runs in the leak-guard environment: it fails a suite that leaves a server, socket,
// child process, timer, thread or Temporal runtime alive after its last afterAll (see docs/testing.md).
const typescript = {
  testEnvironment: '<rootDir>/test/support/leak-guard/environment.ts',
  // Jest's runner, giving worker processes a real grace to exit at the end of a run (not 500 ms).
  runner: '<rootDir>/test/support/leak-guard/runner.cjs',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2023' },
        module: { type: 'es6' },
      },
    ],
  },
};

export default {
  projects: [
    {
      ...typescript,
      displayName: 'unit',
      testMatch: ['<rootDir>/test/unit/**/*.test.ts'],
    },
    {
      ...typescript,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts', '<rootDir>/test/workflows/**/*.test.ts', '<rootDir>/test/e2e/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
  ],
  // Jest reads the test timeout from the top level only (a project's own is ignored).
  testTimeout: 120_000,
  // Two cores: suites share no state (each has its own task queue, rows and ports), so two run at once.
  maxWorkers: 2,
  verbose: true,
};
