// `hangar leases create --count` and `hangar pools allocate --count` as a user runs them: one
// all-or-nothing request each, through the real launcher and API.
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { useCliSuite } from '../support/hangar-cli.ts';

const sfx = Date.now().toString(36);
const cli = useCliSuite({ beforeAll, afterAll });
const { ok, json, fails } = cli;
/** An API error (4xx) exits 1. */
const CONFLICT = 1;

describe('bulk allocation from the CLI', () => {
  it('leases n addresses at once, lowest free first, and refuses what does not fit', async () => {
    const net = `bulk-${sfx}`;
    await ok(['networks', 'create', '--name', net, '--cidr', '10.91.0.0/29']);
    // --json prints exactly the API's answer: `{items}`.
    const leased = (await json(['leases', 'create', net, '--count', '3', '--active'])).items as { address: string; state: string }[];
    expect(leased.map((l) => l.address)).toEqual(['10.91.0.1', '10.91.0.2', '10.91.0.3']);
    expect(leased.every((l) => l.state === 'active')).toBe(true);
    expect((await ok(['leases', 'create', net, '--count', '2'])).stdout).toContain('leased 2 addresses');
    expect(await fails(CONFLICT, ['leases', 'create', net, '--count', '5'])).toMatch(/nothing was allocated/);
    expect(await fails(2, ['leases', 'create', net, '--count', '0'])).toMatch(/--count must be between 1 and 1024/);
    expect((await json(['leases', 'list', net])).items).toHaveLength(5);
  });

  it('allocates n blocks of one length from a pool', async () => {
    const pool = `bulkpool-${sfx}`;
    await ok(['pools', 'create', '--name', pool, '--cidr', `10.251.${process.pid % 250}.0/24`]);
    const blocks = (await json(['pools', 'allocate', pool, '--prefix-length', '25', '--count', '2'])).items as { cidr: string }[];
    expect(blocks.map((b) => b.cidr.split('/')[1])).toEqual(['25', '25']);
    expect(new Set(blocks.map((b) => b.cidr)).size).toBe(2);
    expect(await fails(2, ['pools', 'allocate', pool, '--cidr', '10.0.0.0/25', '--count', '2'])).toMatch(/--count goes with --prefix-length/);
  });
});
