// How the Proxmox provider waits on Proxmox, against the simulator with a slow clone: a task's
// end is seen at the next short poll (no doubling backoff), the seed ISO uploads while the clone
// runs, and a clone of a Hangar template is configured with one config write.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { ProxmoxProvider } from '../../providers/proxmox/provider.ts';
import { cidataHash, cidataIsoName } from '../../providers/proxmox/markers.ts';
import type { VmSpec } from '../../providers/hypervisor.ts';
import { WATCH_DEFAULTS } from '../../providers/support/poll-schedule.ts';
import { sleep } from '../../providers/support/sleep.ts';
import { startProxmoxSimulator, type ProxmoxSimulator } from '../fakes/proxmox/simulator.ts';
import { trackTaskTimes, writeQcow2, type TimedTask } from '../support/proxmox-sim.ts';

const TOKEN = { id: 'hangar@pve!ci', secret: randomUUID() };
const NODE = 'pve1';
/** Long enough for several watch polls, short enough for a test. */
const CLONE_MS = 1200;

let sim: ProxmoxSimulator;
let dir: string;
let templateRef: string;
let timing: ReturnType<typeof trackTaskTimes>;
let provider: ProxmoxProvider;
const sleeps: number[] = [];

function seededSpec(): VmSpec {
  const machineId = randomUUID();
  return {
    machineId,
    name: `vm-${machineId.slice(0, 8)}`,
    cpu: 2,
    memoryMb: 2048,
    diskGb: 4,
    template: templateRef,
    cloudInit: { mode: 'iso', metaData: `instance-id: ${machineId}\n`, userData: '#cloud-config\n', networkConfig: 'version: 2\nethernets: {}\n' },
  };
}

const statusPolls = (upid: string) =>
  sim.requests.filter((r) => r.method === 'GET' && (r.path.endsWith(`/tasks/${encodeURIComponent(upid)}/status`) || r.path.endsWith(`/tasks/${upid}/status`)));
const cloneOf = (vmid: number): TimedTask => {
  const req = sim.requests.find((r) => r.method === 'POST' && r.path.endsWith('/clone') && Number(r.params.newid) === vmid && r.status === 200);
  const task = timing.tasks.find((t) => t.type === 'qmclone' && req !== undefined && t.startWall >= req.at - 5 && t.startWall <= req.at + 1000);
  if (!task) throw new Error(`no clone task for VM ${vmid}`);
  return task;
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hangar-pve-waits-'));
  const image = join(dir, 'tiny.qcow2');
  writeQcow2(image, 2 * 1024 ** 3);
  sim = await startProxmoxSimulator({ nodes: [NODE], tokens: [TOKEN], taskDurationMs: 30, authFailureDelayMs: 0, seed: 11 });
  // Shipped watch schedule (no poll options): only the sleep is observed.
  provider = new ProxmoxProvider({
    connection: { url: sim.url, tokenId: TOKEN.id, tokenSecret: TOKEN.secret, caPem: sim.caPem },
    node: NODE,
    hooks: {
      sleep: (ms, signal) => {
        sleeps.push(ms);
        return sleep(ms, signal);
      },
    },
  });
  templateRef = (await provider.importTemplate({ templateId: `tpl-${randomUUID().slice(0, 8)}`, name: 'tiny', image, cpu: 1, memoryMb: 512 })).ref;
  sim.setFaults({ taskDelayMs: { qmclone: CLONE_MS } });
  timing = trackTaskTimes(sim);
});

afterAll(async () => {
  timing?.stop();
  provider?.close();
  await sim?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('task waits', () => {
  it('watches a running clone with short polls and sees its end at the next one', async () => {
    sleeps.length = 0;
    const { providerId } = await provider.create(seededSpec());
    const clone = cloneOf(Number(providerId));
    expect(clone.exitstatus).toBe('OK');
    const polls = statusPolls(clone.upid);
    const before = polls.filter((r) => r.at < clone.endWall!);
    const after = polls.filter((r) => r.at >= clone.endWall!);
    // The shipped 2 s → 30 s backoff polled twice (at 0 and 2 s); watching polls many times.
    expect(before.length).toBeGreaterThanOrEqual(5);
    // Seen at the first poll after it ended (a poll in the same millisecond may still see it running).
    expect(after.length).toBeGreaterThanOrEqual(1);
    expect(after.length).toBeLessThanOrEqual(2);
    // Every pause while watching was a watch gap (first 100 ms, never over 1 s), none a retry backoff.
    expect(sleeps[0]).toBe(WATCH_DEFAULTS.firstMs);
    expect(Math.max(...sleeps)).toBeLessThanOrEqual(WATCH_DEFAULTS.maxMs);
  });

  it('uploads the seed ISO while the clone runs; configure then writes the config once and uploads nothing', async () => {
    const s = seededSpec();
    const mark = sim.requests.length;
    const { providerId } = await provider.create(s);
    const clone = cloneOf(Number(providerId));
    const volid = `local:iso/${cidataIsoName(s.machineId, cidataHash(s.cloudInit!))}`;
    expect((sim.storage.get('local') ?? []).some((v) => v.volid === volid)).toBe(true);
    const upload = sim.requests.slice(mark).find((r) => r.method === 'POST' && r.path.endsWith('/upload'));
    expect(upload).toBeDefined();
    // Overlap: the upload was sent before the clone ended, not after it.
    expect(upload!.at).toBeLessThan(clone.endWall!);

    const created = sim.requests.length;
    await provider.configure(providerId, s);
    const writes = sim.requests.slice(mark).filter((r) => r.method === 'POST' && r.path.endsWith(`/qemu/${providerId}/config`));
    expect(writes).toHaveLength(1);
    expect(sim.requests.slice(created).some((r) => r.path.endsWith('/upload'))).toBe(false);
    const cfg = sim.vms.get(Number(providerId))!.config;
    expect(String(cfg.ide2)).toContain(volid);
    expect(String(cfg.tags).split(';')).toEqual(['hangar']);
    await provider.delete(s.machineId);
    expect(sim.leftovers(s.machineId)).toEqual({ vms: [], volumes: [] });
  });

  it('tags a clone of a template Hangar did not make at once, so a delete finds it before configure', async () => {
    const foreign = 7300;
    sim.seedVm({ vmid: foreign, node: NODE, name: 'foreign', template: true, config: { scsi0: 'local-lvm:2' } });
    const s = { ...seededSpec(), template: String(foreign), cloudInit: undefined };
    const { providerId } = await provider.create(s);
    expect(String(sim.vms.get(Number(providerId))!.config.tags).split(';')).toContain('hangar');
    await expect(provider.delete(s.machineId)).resolves.toEqual({ deleted: true });
    expect(sim.vms.has(Number(providerId))).toBe(false);
  });
});
