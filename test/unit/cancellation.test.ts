// An aborted signal stops what a provider call waits on: a Proxmox task poll (the task itself
// still running), an HTTP request in flight, a child process (killed, not left behind), and the
// shared sleep. Canned local responders and real child processes; no services.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as http from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { ProxmoxClient } from '../../providers/proxmox/client.ts';
import { runTool } from '../../providers/qemu/tools.ts';
import { sleep } from '../../providers/support/sleep.ts';

const UPID = 'UPID:pve1:00001234:00005678:65000000:qmclone:9000:hangar@pve!ci:';
let server: http.Server;
let base = '';
let statusPolls = 0;
let heldRequests = 0;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url?.includes('/status')) {
      // The task never ends: only the abort can end the wait.
      statusPolls += 1;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ data: { upid: UPID, node: 'pve1', status: 'running' } }));
      return;
    }
    // Anything else hangs: only the abort can end the request.
    heldRequests += 1;
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

const client = () =>
  new ProxmoxClient({
    url: base,
    tokenId: 'hangar@pve!ci',
    tokenSecret: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
    taskPollInitialMs: 5,
    taskPollMaxMs: 5,
    taskTimeoutMs: 3_600_000,
  });

/** Processes whose command line contains `marker`. */
function processesWith(marker: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ').includes(marker)) out.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

describe('an aborted signal', () => {
  it('stops a Proxmox task poll while the task still runs, with the abort reason', async () => {
    const c = client();
    const abort = new AbortController();
    const reason = new Error('activity cancelled');
    const wait = c.waitForTask('pve1', UPID, {
      signal: abort.signal,
      hooks: {
        onWait: () => {
          if (statusPolls >= 3) abort.abort(reason);
        },
      },
    });
    await expect(wait).rejects.toBe(reason);
    expect(statusPolls).toBeGreaterThanOrEqual(3);
    c.close();
  });

  it('ends a Proxmox request that is waiting for its answer', async () => {
    const c = client();
    const abort = new AbortController();
    const reason = new Error('activity cancelled');
    const call = c.get('/cluster/resources', undefined, { signal: abort.signal });
    while (heldRequests === 0) await sleep(5);
    abort.abort(reason);
    await expect(call).rejects.toBe(reason);
    c.close();
  });

  it('kills a child process and rejects with the abort reason', async () => {
    const marker = `${Math.floor(Math.random() * 1e6) + 100000}.5`;
    const abort = new AbortController();
    const reason = new Error('activity cancelled');
    const run = runTool('sleep', [marker], { signal: abort.signal });
    while (processesWith(`sleep ${marker}`).length === 0) await sleep(5);
    abort.abort(reason);
    await expect(run).rejects.toBe(reason);
    // Killed, not orphaned (a zombie is reaped by Node once the exit is seen).
    while (processesWith(`sleep ${marker}`).length > 0) await sleep(5);
    expect(processesWith(`sleep ${marker}`)).toEqual([]);
  });

  it('ends the shared sleep at once, and a signal aborted before the call is refused before it starts', async () => {
    const abort = new AbortController();
    const long = sleep(3_600_000, abort.signal);
    abort.abort(new Error('stop'));
    await expect(long).rejects.toThrow('stop');
    await expect(sleep(1, abort.signal)).rejects.toThrow('stop');
    await expect(runTool('true', [], { signal: abort.signal })).rejects.toThrow('stop');
  });
});
