// Jest's own test runner, with a longer grace for its worker processes to exit at the end of a run.
//
// jest-worker ends a run by sending each worker process "end", then starts a 500 ms timer; if the
// timer fires before the parent has *handled* the child's exit, it SIGTERMs the worker and jest
// prints "A worker process has failed to exit gracefully and has been force exited". On a loaded
// machine the parent itself can be descheduled or in a GC pause for longer than that: the child
// exits at once, but the timer (libuv runs timers before I/O) wins the race, and the warning
// appears with nothing leaked. Per suite, the leak guard (./environment.ts) already fails any suite
// that leaves something alive, so here each worker gets GRACE_MS instead of 500 ms; one still
// alive after that is killed and reported, and jest still prints its warning, which then means a
// real leak the guard could not see. See docs/decisions/0026-teardown-guard.md.
const { Worker } = require('jest-worker');

// HANGAR_JEST_WORKER_GRACE_MS shortens it for the guard's own test (test/unit/leak-guard.test.ts).
const GRACE_MS = Number(process.env.HANGAR_JEST_WORKER_GRACE_MS) || 15_000;
const patched = Symbol.for('hangar.leak-guard.graceful-end');

if (!Worker.prototype[patched]) {
  const end = Worker.prototype.end;
  Worker.prototype[patched] = true;
  Worker.prototype.end = async function gracefulEnd() {
    const killed = [];
    for (const worker of this._workerPool?.getWorkers?.() ?? []) {
      const forceExit = worker.forceExit.bind(worker);
      // jest-worker calls this 500 ms after "end": wait out the rest of the grace first.
      worker.forceExit = () => {
        const timer = setTimeout(() => {
          killed.push(worker);
          process.stderr.write(`jest worker (pid ${worker.getWorkerSystemId?.() ?? '?'}) still alive ${GRACE_MS} ms after the end of the run: killing it\n`);
          forceExit();
        }, GRACE_MS);
        worker.waitForExit().then(() => clearTimeout(timer));
      };
    }
    await end.call(this);
    return { forceExited: killed.length > 0 };
  };
}

module.exports = require('jest-runner');
