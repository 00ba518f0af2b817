// `hangar drift adopt` as a user runs it: the real launcher against a real API, worker and
// Temporal, with the Proxmox provider pointed at the simulator. A hand-made VM's finding is
// adopted and watched to the end; a finding that is not an unmanaged VM is refused.
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { applyScan } from '../../db/repositories/drift.ts';
import { MACHINE_MARKER, markerValue } from '../../providers/proxmox/markers.ts';
import { startProxmoxSimulator } from '../fakes/proxmox/simulator.ts';
import { useCliSuite } from '../support/hangar-cli.ts';
import { proxmoxEnv, writeSimFiles } from '../support/proxmox-sim.ts';

const sim = await startProxmoxSimulator({ nodes: ['pve1'], taskDurationMs: 20, authFailureDelayMs: 20, seed: 5 });
const files = writeSimFiles(sim);
const cli = useCliSuite({ beforeAll, afterAll }, { worker: true, config: proxmoxEnv(sim, files, 'pve1') });
const { json, fails, items } = cli;
const SLOW = 300_000;

afterAll(async () => {
  await sim.close();
  files.cleanup();
});

describe('hangar drift adopt', () => {
  it(
    "adopts a hand-made VM's finding as a machine and refuses any other finding",
    async () => {
      sim.seedVm({ vmid: 4300, node: 'pve1', name: 'by-hand', status: 'running', config: { cores: 2, memory: 1024, scsi0: 'local-lvm:3' } });
      const target = `proxmox/cli-${randomUUID().slice(0, 8)}`;
      const machineRef = { type: 'machine', id: randomUUID(), name: 'vm-a' };
      await applyScan(cli.api.orm.em, {
        target,
        provider: 'proxmox',
        complete: true,
        differences: [
          {
            ref: { type: 'vm', id: `${target}/4300`, name: 'by-hand' },
            kind: 'unmanaged',
            desired: null,
            observed: { exists: true, power: 'running', provider_id: '4300', location: 'pve1', cpu: 2, memory_mb: 1024, disk_gb: 3, nics: 0 },
            createdByHangar: false,
          },
          { ref: machineRef, kind: 'power_mismatch', desired: { power: 'running' }, observed: { power: 'stopped' }, createdByHangar: true },
        ],
        judged: [],
      });
      const [unmanaged] = await items(['drift', 'list', '--resource', `${target}/4300`]);
      const [mismatch] = await items(['drift', 'list', '--resource', machineRef.id]);

      expect(await fails(1, ['drift', 'adopt', mismatch.id])).toContain('error: invalid_state');
      const watched = await cli.ok(['drift', 'adopt', unmanaged.id, '--name', 'adopted-by-cli', '--wait']);
      expect(watched.stdout).toContain('adopting VM by-hand as machine adopted-by-cli');
      expect(await json(['drift', 'get', unmanaged.id])).toMatchObject({ state: 'resolved', action_taken: 'adopted' });
      const machine = (await items(['machines', 'list', '--provider', 'proxmox', '--all'])).find((m: { name: string }) => m.name === 'adopted-by-cli');
      expect(machine).toMatchObject({ name: 'adopted-by-cli', state: 'ready', provider_id: '4300', cpu: 2, memory_mb: 1024, disk_gb: 3 });
      expect(markerValue(String(sim.vms.get(4300)!.config.description), MACHINE_MARKER)).toBe(machine.id);
      expect(await fails(1, ['drift', 'adopt', unmanaged.id])).toContain('error: invalid_state');
    },
    SLOW,
  );
});
