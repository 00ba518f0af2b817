// The dependency rules of docs/architecture.md, checked by `npm run lint` (dependency-cruiser).
// Rules name folders and roles, never single files, so they keep holding as files move.
// Layers: api, workers, cli → workflows, activities → providers, db → domain.
// Any other top-level folder (say, one for side-effecting helpers such as key files or the
// process logger) counts as shipped code: domain/ and workflows/ may not import it, and it may
// not import tests or devDependencies.

/** Folders whose code does not ship: tests, fakes, benchmarks, scripts. Every other folder does. */
const NOT_SHIPPED = '^(test|bench|scripts|docs|node_modules)/';
/** Shipped code: any file inside a top-level folder that is not in NOT_SHIPPED. */
const PRODUCT = { path: '^[^/]+/', pathNot: NOT_SHIPPED };
/** npm packages without side effects that pure code may use at run time. */
const PURE_PACKAGES = '^node_modules/(zod|yaml)/';
/** Node built-ins that compute without touching the world (hashing, paths as strings, encodings). */
const PURE_BUILTINS = '^(node:)?(crypto|path|util|url|buffer|string_decoder|assert)$';
/** What a workflow may import at run time: the deterministic SDK modules, pure logic, other workflow code. */
const WORKFLOW_RUNTIME = ['^workflows/', '^domain/', '^node_modules/@temporalio/(workflow|common)/'];

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment:
        'A cycle of run-time imports makes load order matter and the layers meaningless; split the shared part out. Cycles through `import type` are erased at compile time and allowed (workflows/contracts.ts names the workflow types the workflows themselves import signals from).',
      severity: 'error',
      from: {},
      to: { circular: true, dependencyTypesNot: ['type-only'], viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'domain-imports-only-domain',
      comment: 'domain/ is the bottom layer: it may not reach up into any other folder, not even for types.',
      severity: 'error',
      from: { path: '^domain/' },
      to: { dependencyTypes: ['local'], pathNot: '^domain/' },
    },
    {
      name: 'domain-has-no-side-effects',
      comment:
        'domain/ is pure: at run time it may use only zod, yaml and computing built-ins (no fs, net, child_process, pg, ORM, Temporal, logger). Type-only imports vanish at compile time and are allowed.',
      severity: 'error',
      from: { path: '^domain/' },
      to: {
        dependencyTypesNot: ['type-only', 'local'],
        pathNot: [PURE_PACKAGES, PURE_BUILTINS],
      },
    },
    {
      name: 'workflows-are-deterministic',
      comment:
        'Workflow code runs in the deterministic sandbox: at run time only @temporalio/workflow, @temporalio/common (which the workflow package re-exports), domain/ and workflows/. Activities are imported as types only.',
      severity: 'error',
      from: { path: '^workflows/' },
      to: { dependencyTypesNot: ['type-only'], pathNot: WORKFLOW_RUNTIME },
    },
    {
      name: 'workflows-import-types-only-of-activities',
      comment:
        'Type-only imports in workflows come from activities/ (the proxies), domain/, workflows/ or the Temporal SDK; nothing else belongs in a workflow, even as a type.',
      severity: 'error',
      from: { path: '^workflows/' },
      to: { dependencyTypes: ['type-only'], pathNot: ['^(activities|domain|workflows)/', '^node_modules/@temporalio/'] },
    },
    {
      name: 'providers-know-no-temporal',
      comment: 'Providers are plain clients for external systems: no Temporal SDK (activities adapt them), so they run and test without a worker.',
      severity: 'error',
      from: { path: '^providers/' },
      to: { path: '^node_modules/@temporalio/' },
    },
    {
      name: 'providers-stay-below-activities',
      comment: 'Providers get what they need by injection; they never reach into the layers above them or into the database layer.',
      severity: 'error',
      from: { path: '^providers/' },
      to: { path: '^(api|activities|cli|db|workers|workflows)/' },
    },
    {
      name: 'db-stays-below-activities',
      comment:
        'db/ (entities, repositories, migrations) sits beside providers and above domain only: no providers, activities, workflows, API, workers or CLI, not even for types.',
      severity: 'error',
      from: { path: '^db/' },
      to: { path: '^(api|activities|cli|providers|workers|workflows)/' },
    },
    {
      name: 'activities-stay-below-entrypoints',
      comment: 'Activities get their clients by injection from the worker; they never import the API, the CLI or the worker entrypoints.',
      severity: 'error',
      from: { path: '^activities/' },
      to: { path: '^(api|cli|workers)/' },
    },
    {
      name: 'product-never-imports-tests',
      comment: 'Shipped code may not depend on test support, fakes or benchmarks.',
      severity: 'error',
      from: PRODUCT,
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'product-never-imports-dev-dependencies',
      comment: 'A devDependency is missing in a production install (npm ci --omit=dev); shipped code may use it only as a type.',
      severity: 'error',
      from: PRODUCT,
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-undeclared-packages',
      comment: 'Every package imported must be in package.json, or a fresh install breaks.',
      severity: 'error',
      from: {},
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown', 'unknown', 'undetermined'] },
    },
    {
      name: 'no-orphans',
      comment: 'A module nothing imports (and that imports nothing) is dead code; entry points and tests are exempt.',
      severity: 'error',
      from: {
        orphan: true,
        pathNot: [
          '(^|/)\\.[^/]+\\.(c|m)?js$',
          '\\.d\\.ts$',
          '^[^/]+\\.(c|m)?js$',
          '\\.test\\.ts$',
          '^bench/',
          '^db/migrations/',
          '^test/fakes/.+/(main|cli|trim-schema)\\.ts$',
        ],
      },
      to: {},
    },
  ],
  options: {
    // Everything in the repository except generated trees: new folders are checked without listing them.
    // node_modules is not excluded (that would drop every edge to a package) but not followed either.
    exclude: { path: '^(\\.data|\\.tools|\\.git|coverage)/' },
    doNotFollow: { path: 'node_modules' },
    // Keeps `import type` visible (as type-only), which the workflow and domain rules distinguish.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    moduleSystems: ['es6', 'cjs'],
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json'],
      mainFields: ['module', 'main', 'types'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
