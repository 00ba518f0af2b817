// `hangar hosts` and `hangar clusters` as a user runs them: the real launcher against a real API, an
// in-process worker and a sushy-tools BMC. The password goes in through a 0600 file (never argv).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useCliSuite } from '../support/hangar-cli.ts';
import { redfishGet, serveImage, startSushy, type ImageServer, type SushyEmulator } from '../support/sushy.ts';
import { unique } from '../support/api-fixture.ts';

let bmc: SushyEmulator;
let images: ImageServer;
const cli = useCliSuite({ beforeAll, afterAll }, { worker: true, config: { HANGAR_REDFISH_POLL_INTERVAL_MS: '200' } });
const { run: hangar, ok, json, items } = cli;

beforeAll(async () => {
  [bmc, images] = await Promise.all([startSushy({ systems: 1 }), serveImage()]);
}, 120_000);

afterAll(async () => {
  await Promise.all([bmc?.stop(), images?.close()]);
});

describe('hangar hosts and clusters', () => {
  it('registers, provisions with --wait, groups into a cluster, deprovisions', async () => {
    const name = unique('cli-host');
    const address = `redfish+http://${new URL(bmc.url).host}${bmc.systems[0]!.path}`;
    const pwFile = join(cli.tmp, 'bmc-password');
    writeFileSync(pwFile, `${bmc.password}\n`, { mode: 0o644 });
    const loose = await hangar(['hosts', 'register', '--name', name, '--bmc-address', address, '--username', bmc.username, '--password-file', pwFile]);
    expect(loose.code).toBe(2);
    expect(loose.stderr).toContain('chmod 600');
    const missing = await hangar(['hosts', 'register', '--name', name, '--bmc-address', address, '--username', bmc.username]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--password-file');
    chmodSync(pwFile, 0o600);

    const reg = await ok([
      'hosts',
      'register',
      '--name',
      name,
      '--bmc-address',
      address,
      '--username',
      bmc.username,
      '--password-file',
      pwFile,
      '--tag',
      'cli',
      '--wait',
    ]);
    expect(reg.stdout).toMatch(new RegExp(`^host ${name} \\([0-9a-f-]{36}\\) registered; inspecting; operation `));
    expect(reg.stdout).toMatch(/^inspect: completed in /m);
    expect(reg.stdout).toMatch(new RegExp(`${name}: available, Sushy Emulator.*bmc_reachable=True`));
    const list = await ok(['hosts', 'list', '--tag', 'cli']);
    expect(list.stdout.split('\n')[0]).toMatch(/^NAME\s+STATE\s+POWER_STATE\s+VENDOR\s+MODEL\s+BMC_ADDRESS\s+CLAIMED_BY\s+CONDITIONS$/);
    expect(list.stdout).toMatch(new RegExp(`${name}\\s+available\\s+Off\\s+Sushy Emulator`));
    const got = await ok(['hosts', 'get', name]);
    expect(got.stdout).toMatch(/bmc_reachable\s+True\s+Reachable/);
    for (const out of [reg, list, got]) expect(out.stdout + out.stderr).not.toContain(bmc.password);
    // The host's own drift policy: set, shown, and handed back to the provider's.
    await ok(['hosts', 'update', name, '--drift-policy', 'remediate']);
    expect((await json(['hosts', 'get', name])).drift_policy).toBe('remediate');
    await ok(['hosts', 'update', name, '--drift-policy', 'provider']);
    expect((await json(['hosts', 'get', name])).drift_policy).toBeNull();
    expect((await hangar(['hosts', 'update', name, '--drift-policy', 'sometimes'])).stderr).toContain('--drift-policy');

    // Provision without waiting for a phone-home (nothing boots in the emulator), watched to the end.
    const machine = unique('cli-metal').slice(0, 50);
    const tpl = unique('cli-tpl');
    const tplOut = await ok(['templates', 'create', '--name', tpl, '--provider', 'redfish', '--image', images.url('cli.iso'), '--wait']);
    expect(tplOut.stdout).toMatch(/createTemplate .*completed/);
    const both = await hangar(['hosts', 'provision', '--name', machine, '--host', name, '--image', images.url('cli.iso'), '--template', tpl]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('either --image <url> or --template <name>');
    const prov = await ok(['hosts', 'provision', '--name', machine, '--host', name, '--template', tpl, '--no-wait-phone-home', '--wait']);
    expect(prov.stdout).toContain(`on host ${name}`);
    expect(prov.stdout).toMatch(/NoCloud seed URL .*\/cloud-init\/[0-9a-f-]{36}\/[A-Za-z0-9_-]+\//);
    expect(prov.stdout).toMatch(/provisionHost .*completed/);
    expect(prov.stdout).toMatch(/^mark-provisioned: completed in /m);
    const host = await json(['hosts', 'get', name]);
    expect(host).toMatchObject({ state: 'provisioned', power_state: 'On' });
    expect(await json(['machines', 'get', machine])).toMatchObject({ kind: 'baremetal', template: tpl });

    const cl = unique('cli-cl');
    const created = await ok(['clusters', 'create', '--name', cl, '--control-plane', machine, '--vip', '192.0.2.10']);
    expect(created.stdout).toContain(`${cl}: ready; control plane https://192.0.2.10:6443`);
    expect(created.stdout).toMatch(new RegExp(`${machine}\\s+control-plane\\s+ready`));
    const clusters = await items<{ name: string; ready: boolean }>(['clusters', 'list']);
    expect(clusters.find((c) => c.name === cl)).toMatchObject({ ready: true });
    const removed = await ok(['clusters', 'remove-machine', cl, machine]);
    expect(removed.stdout).toContain(`${cl}: not ready`);
    await ok(['clusters', 'delete', cl, '--yes']);

    const busy = await hangar(['hosts', 'delete', name, '--yes']);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toMatch(/error: invalid_state: .*is provisioned/);
    const dep = await ok(['hosts', 'deprovision', name, '--wait', '--yes']);
    expect(dep.stdout).toMatch(/deprovisionHost .*completed/);
    expect((await json(['hosts', 'get', name])).state).toBe('available');
    expect((await redfishGet(bmc, bmc.systems[0]!.path)).PowerState).toBe('Off');
    await ok(['hosts', 'maintenance', name, 'on']);
    expect((await hangar(['hosts', 'provision', '--name', 'cli-nope', '--host', name, '--image', images.url()])).stderr).toMatch(
      /no_host_available: host .* is maintenance/,
    );
    const badWait = await hangar(['hosts', 'provision', '--name', 'cli-nope', '--host', name, '--image', images.url(), '--claim-timeout', 'soon']);
    expect(badWait.code).toBe(1);
    expect(badWait.stderr).toMatch(/validation_failed.*claim_timeout/s);
    await ok(['hosts', 'maintenance', name, 'off']);
    await ok(['hosts', 'delete', name, '--yes']);
  }, 180_000);
});
