// The jest test environment of every suite: Node's, plus a teardown guard. After a suite's last
// afterAll hook it waits for what the suite opened to finish closing, and fails the suite, naming
// each survivor, if anything it opened is still alive (a server, a socket, a child process, a
// timer, a worker thread, a Temporal runtime, worker, connection or test server). Such survivors
// are what made jest force-exit its workers ("A worker process has failed to exit gracefully").
import { TestEnvironment as NodeEnvironment } from 'jest-environment-node';
import { installTrackers, leaksAfterSettling, snapshot, type Snapshot } from './live-resources.ts';

/** How long a suite's resources may take to finish closing after its last hook; `testEnvironmentOptions.leakSettleMs` overrides. */
const DEFAULT_SETTLE_MS = 10_000;

type EnvironmentArgs = ConstructorParameters<typeof NodeEnvironment>;
interface CircusEvent {
  name: string;
}
interface CircusState {
  unhandledErrors: unknown[];
}

export default class LeakGuardEnvironment extends NodeEnvironment {
  private readonly settleMs: number;
  private readonly testPath: string;
  private before: Snapshot | undefined;

  constructor(config: EnvironmentArgs[0], context: EnvironmentArgs[1]) {
    super(config, context);
    const option = Number(config.projectConfig.testEnvironmentOptions?.leakSettleMs);
    this.settleMs = Number.isFinite(option) && option >= 0 ? option : DEFAULT_SETTLE_MS;
    this.testPath = context.testPath;
  }

  override async setup(): Promise<void> {
    await super.setup();
    installTrackers();
    this.before = snapshot();
  }

  async handleTestEvent(event: CircusEvent, state: CircusState): Promise<void> {
    // run_finish comes after the root block's afterAll hooks: the suite has closed what it will.
    if (event.name !== 'run_finish' || !this.before) return;
    const leaks = await leaksAfterSettling(this.before, this.settleMs);
    if (leaks.length === 0) return;
    const error = new Error(
      `the suite left ${leaks.length} thing(s) alive ${this.settleMs} ms after its last afterAll hook ` +
        `(close them in an afterAll; each keeps the jest worker from exiting):\n${leaks.map((l) => `  - ${l}`).join('\n')}`,
    );
    error.name = 'LeakedResourceError';
    error.stack = `${error.name}: ${error.message}\n    at teardown guard (${this.testPath})`;
    state.unhandledErrors.push(error);
  }
}
