// The Proxmox provider's observer side against the Proxmox VE simulator (test/fakes/proxmox):
// inventory() across nodes (markers, settings, templates left out, a failing node or storage
// listing, cancellation), the leftovers it reports (Hangar cidata ISOs and disks only) and
// deleteLeftover's refusals, and adopt's marker write. Every request must pass the simulator's
// schema validation (checked at the end).
import { describe, it, expect, beforeAll, afterAll, beforeEach } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { HangarError } from '../../domain/errors.ts';
import type { Leftover, VmInventory } from '../../providers/hypervisor.ts';
import { cidataIsoName, markedDescription, MACHINE_MARKER } from '../../providers/proxmox/markers.ts';
import { ProxmoxProvider } from '../../providers/proxmox/provider.ts';
import { startProxmoxSimulator, type ProxmoxSimulator } from '../fakes/proxmox/simulator.ts';

const TOKEN = { id: 'hangar@pve!ci', secret: randomUUID() };
const NODES = ['pve1', 'pve2', 'pve3'];

let sim: ProxmoxSimulator;
let p: ProxmoxProvider;
let nextVmid = 200;

/** A VM as Hangar leaves it: `hangar` tag and the machine marker. */
function hangarVm(node: string, machineId: string, config: Record<string, string | number> = {}) {
  return sim.seedVm({
    vmid: nextVmid++,
    node,
    name: `m-${machineId.slice(0, 8)}`,
    status: 'running',
    config: {
      cores: 2,
      memory: 2048,
      scsi0: 'local-lvm:10',
      net0: 'virtio,bridge=vmbr0',
      tags: 'hangar',
      description: markedDescription(MACHINE_MARKER, machineId),
      ...config,
    },
  });
}

function foreignVm(node: string, config: Record<string, string | number> = {}) {
  return sim.seedVm({ vmid: nextVmid++, node, name: `hand-made-${nextVmid}`, config: { cores: 1, memory: 512, scsi0: 'local-lvm:4', ...config } });
}

const isoName = (machineId: string) => cidataIsoName(machineId, 'abcdef0123456789');
const byId = (inv: VmInventory, vmid: number) => inv.vms.find((v) => v.providerId === String(vmid));
const volumeExists = (volid: string) => [...sim.storage.values()].flat().some((v) => v.volid === volid);

async function failure(promise: Promise<unknown>): Promise<HangarError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof HangarError) return err;
    throw err;
  }
  throw new Error('expected a HangarError');
}

beforeAll(async () => {
  sim = await startProxmoxSimulator({
    nodes: NODES,
    tokens: [TOKEN],
    taskDurationMs: 20,
    authFailureDelayMs: 20,
    seed: 11,
    storages: [
      { id: 'local', type: 'dir', content: ['iso', 'import', 'images'] },
      { id: 'local-lvm', type: 'lvmthin', content: ['images', 'rootdir'] },
      { id: 'shared-iso', type: 'dir', content: ['iso'], shared: true },
    ],
  });
  p = new ProxmoxProvider({
    connection: { url: sim.url, tokenId: TOKEN.id, tokenSecret: TOKEN.secret, caPem: sim.caPem, taskPollInitialMs: 10, taskPollMaxMs: 100, getRetryDelayMs: 5 },
    node: 'pve1',
    pollInitialMs: 10,
    pollMaxMs: 100,
  });
});

afterAll(async () => {
  p?.close();
  await sim?.close();
});

beforeEach(() => {
  sim.setFaults({});
  sim.vms.clear();
  for (const list of sim.storage.values()) list.length = 0;
});

describe('inventory', () => {
  it('lists every VM on every node with its marker and settings; templates are left out', async () => {
    const machineId = randomUUID();
    const mine = hangarVm('pve1', machineId, { cores: 2, sockets: 2, memory: 3072, scsi0: 'local-lvm:12', net1: 'virtio,bridge=vmbr0' });
    const foreign = foreignVm('pve2');
    sim.outOfBand.setConfig(foreign.vmid, { tags: 'web' });
    const tagOnly = foreignVm('pve3', { tags: 'hangar' });
    const template = sim.seedVm({
      vmid: 9000,
      node: 'pve1',
      name: 'tpl',
      template: true,
      config: { scsi0: 'local-lvm:2', tags: 'hangar', description: 'hangar-template=x' },
    });
    // Enough VMs on one node that their configs are read in several batches.
    const many = Array.from({ length: 19 }, () => foreignVm('pve3'));
    let pages = 0;

    const inv = await p.inventory({ onPage: () => void pages++ });

    expect(inv.failures).toEqual([]);
    expect(byId(inv, mine.vmid)).toEqual({
      providerId: String(mine.vmid),
      machineId,
      name: mine.name,
      powerState: 'running',
      location: 'pve1',
      config: { cpu: 4, memory_mb: 3072, disk_gb: 12, nics: 2 },
    });
    expect(byId(inv, foreign.vmid)).toMatchObject({
      machineId: null,
      powerState: 'stopped',
      location: 'pve2',
      config: { cpu: 1, memory_mb: 512, disk_gb: 4, nics: 0 },
    });
    // The tag alone is not Hangar's marker.
    expect(byId(inv, tagOnly.vmid)?.machineId).toBeNull();
    expect(byId(inv, template.vmid)).toBeUndefined();
    expect(inv.vms).toHaveLength(3 + many.length);
    expect(many.every((vm) => byId(inv, vm.vmid)?.location === 'pve3')).toBe(true);
    // One page per node at least (and one per storage).
    expect(pages).toBeGreaterThanOrEqual(NODES.length);
  });

  it('sees a change made out of band, and a VM destroyed out of band is simply not listed', async () => {
    const a = hangarVm('pve1', randomUUID());
    const b = hangarVm('pve2', randomUUID());
    sim.outOfBand.setConfig(a.vmid, { cores: 6, net1: 'virtio,bridge=vmbr0' });
    sim.outOfBand.destroyVm(b.vmid);
    const inv = await p.inventory();
    expect(byId(inv, a.vmid)?.config).toMatchObject({ cpu: 6, nics: 2 });
    expect(byId(inv, b.vmid)).toBeUndefined();
    expect(inv.failures).toEqual([]);
  });

  it('a node that fails to list is named in failures and the other nodes are still listed', async () => {
    const on1 = hangarVm('pve1', randomUUID());
    const on2 = hangarVm('pve2', randomUUID());
    const on3 = foreignVm('pve3');
    sim.setFaults({ rejectEndpoint: { 'GET /nodes/pve2/qemu': '500 proxy loop detected' } });
    const inv = await p.inventory();
    expect(inv.failures).toHaveLength(1);
    expect(inv.failures[0]).toMatch(/^node pve2: .*proxy loop detected/);
    expect(byId(inv, on1.vmid)).toBeDefined();
    expect(byId(inv, on3.vmid)).toBeDefined();
    expect(byId(inv, on2.vmid)).toBeUndefined();
  });

  it('a storage that fails to list is named in failures; the VMs are all listed', async () => {
    const vm = hangarVm('pve3', randomUUID());
    sim.seedVolume('local', `iso/${isoName(randomUUID())}`, 4096, { node: 'pve3' });
    sim.setFaults({ rejectEndpoint: { 'GET /nodes/pve3/storage/local/content': 'storage is not online' } });
    const inv = await p.inventory();
    expect(inv.failures).toEqual([expect.stringMatching(/^node pve3 storage local: .*storage is not online/)]);
    expect(byId(inv, vm.vmid)).toBeDefined();
    expect(inv.leftovers).toEqual([]);
  });

  it('stops at cancellation instead of reporting a partial listing', async () => {
    for (const node of NODES) foreignVm(node);
    const ac = new AbortController();
    let pages = 0;
    const listing = p.inventory({
      signal: ac.signal,
      onPage: () => {
        if (++pages === 1) ac.abort(new Error('activity cancelled'));
      },
    });
    await expect(listing).rejects.toThrow('activity cancelled');
    expect(pages).toBe(1);
  });
});

describe('leftovers', () => {
  it('reports only Hangar cidata ISOs whose machine has no VM and Hangar disks no drive uses', async () => {
    const orphanMachine = randomUUID();
    const liveMachine = randomUUID();
    const live = hangarVm('pve1', liveMachine, { scsi1: 'local-lvm:1' });
    const orphanIso = sim.seedVolume('local', `iso/${isoName(orphanMachine)}`, 4096, { node: 'pve1' });
    // The live machine's ISO, uploaded but not attached yet (configure in progress): not a leftover.
    sim.seedVolume('local', `iso/${isoName(liveMachine)}`, 4096, { node: 'pve1' });
    // Attached to a VM: in use.
    const attachedMachine = randomUUID();
    sim.seedVolume('local', `iso/${isoName(attachedMachine)}`, 4096, { node: 'pve2' });
    foreignVm('pve2', { ide2: `local:iso/${isoName(attachedMachine)},media=cdrom` });
    // Not Hangar's names.
    sim.seedVolume('local', 'iso/ubuntu-24.04.iso', 4096, { node: 'pve1' });
    sim.seedVolume('local', 'iso/hangar-notes.iso', 4096, { node: 'pve1' });
    // A detached disk of a Hangar VM (unused0) and one of a hand-made VM.
    const detached = String(sim.vms.get(live.vmid)!.config.scsi1).split(',')[0]!;
    sim.outOfBand.setConfig(live.vmid, { scsi1: null, unused0: detached });
    const hand = foreignVm('pve2', { scsi1: 'local-lvm:1' });
    const handDisk = String(sim.vms.get(hand.vmid)!.config.scsi1).split(',')[0]!;
    sim.outOfBand.setConfig(hand.vmid, { scsi1: null, unused0: handDisk });

    const inv = await p.inventory();
    expect(inv.failures).toEqual([]);
    expect(inv.leftovers.sort((a, b) => a.kind.localeCompare(b.kind))).toEqual([
      { kind: 'disk', ref: `pve1/${detached}`, name: detached.split(':')[1], machineId: liveMachine },
      { kind: 'iso', ref: `pve1/${orphanIso.volid}`, name: `iso/${isoName(orphanMachine)}`, machineId: orphanMachine },
    ]);
  });

  it('judges no shared storage when a node failed to list (its VMs might use the volume)', async () => {
    const shared = sim.seedVolume('shared-iso', `iso/${isoName(randomUUID())}`, 4096);
    const local = sim.seedVolume('local', `iso/${isoName(randomUUID())}`, 4096, { node: 'pve1' });
    expect((await p.inventory()).leftovers.map((l) => l.ref).sort()).toEqual([`pve1/${local.volid}`, `pve1/${shared.volid}`].sort());
    sim.setFaults({ rejectEndpoint: { 'GET /nodes/pve3/qemu': '595 no route to host' } });
    const partial = await p.inventory();
    expect(partial.failures).toEqual([expect.stringMatching(/^node pve3: /)]);
    expect(partial.leftovers.map((l) => l.ref)).toEqual([`pve1/${local.volid}`]);
  });

  it('deletes an orphaned ISO once (again is a no-op) and refuses what is not Hangar-made or is in use', async () => {
    const machineId = randomUUID();
    const iso = sim.seedVolume('local', `iso/${isoName(machineId)}`, 4096, { node: 'pve1' });
    const [leftover] = (await p.inventory()).leftovers;
    expect(leftover).toMatchObject({ kind: 'iso', machineId });
    expect(await p.deleteLeftover(leftover!)).toEqual({ deleted: true });
    expect(volumeExists(iso.volid)).toBe(false);
    expect(await p.deleteLeftover(leftover!)).toEqual({ deleted: false });

    // A hand-made ISO passed off as a leftover.
    const foreignIso = sim.seedVolume('local', 'iso/ubuntu-24.04.iso', 4096, { node: 'pve1' });
    const forged: Leftover = { kind: 'iso', ref: `pve1/${foreignIso.volid}`, name: 'iso/ubuntu-24.04.iso', machineId: null };
    expect((await failure(p.deleteLeftover(forged))).code).toBe('provider_rejected');
    expect(volumeExists(foreignIso.volid)).toBe(true);

    // A disk of a VM without Hangar's marker.
    const hand = foreignVm('pve1', { scsi1: 'local-lvm:1' });
    const handDisk = String(sim.vms.get(hand.vmid)!.config.scsi1).split(',')[0]!;
    sim.outOfBand.setConfig(hand.vmid, { scsi1: null, unused0: handDisk });
    const forgedDisk: Leftover = { kind: 'disk', ref: `pve1/${handDisk}`, name: handDisk, machineId: null };
    expect((await failure(p.deleteLeftover(forgedDisk))).code).toBe('provider_rejected');
    expect(volumeExists(handDisk)).toBe(true);

    // An ISO a VM mounted since the scan.
    const laterId = randomUUID();
    const later = sim.seedVolume('local', `iso/${isoName(laterId)}`, 4096, { node: 'pve1' });
    const [stale] = (await p.inventory()).leftovers.filter((l) => l.machineId === laterId);
    foreignVm('pve1', { ide2: `${later.volid},media=cdrom` });
    expect((await failure(p.deleteLeftover(stale!))).code).toBe('invalid_state');
    expect(volumeExists(later.volid)).toBe(true);
  });

  it('deletes a detached disk of a Hangar VM', async () => {
    const vm = hangarVm('pve2', randomUUID(), { scsi1: 'local-lvm:1' });
    const disk = String(sim.vms.get(vm.vmid)!.config.scsi1).split(',')[0]!;
    sim.outOfBand.setConfig(vm.vmid, { scsi1: null, unused0: disk });
    const [leftover] = (await p.inventory()).leftovers;
    expect(leftover).toMatchObject({ kind: 'disk', ref: `pve2/${disk}` });
    sim.outOfBand.setConfig(vm.vmid, { unused0: null });
    expect(await p.deleteLeftover(leftover!)).toEqual({ deleted: true });
    expect(volumeExists(disk)).toBe(false);
    expect(sim.vms.has(vm.vmid)).toBe(true);
  });
});

describe('adopt', () => {
  it("writes the marker and tag, keeps the operator's description and settings, and is idempotent", async () => {
    const vm = foreignVm('pve2', { description: 'database, ask ops', tags: 'prod', cores: 3 });
    const before = { ...sim.vms.get(vm.vmid)!.config };
    const machineId = randomUUID();
    expect(await p.adopt(String(vm.vmid), machineId)).toEqual({ marked: true });
    const after = sim.vms.get(vm.vmid)!.config;
    expect(String(after.description)).toMatch(new RegExp(`^database, ask ops\\n.*\\nhangar-machine=${machineId}$`));
    expect(String(after.tags).split(/[;,]/).sort()).toEqual(['hangar', 'prod']);
    const { description: _d, tags: _t, digest: _g, ...rest } = after as Record<string, unknown>;
    const { description: _d0, tags: _t0, ...restBefore } = before as Record<string, unknown>;
    expect(rest).toEqual(restBefore);
    expect(sim.vms.get(vm.vmid)!.status).toBe('stopped');
    expect(await p.adopt(String(vm.vmid), machineId)).toEqual({ marked: false });
    expect(byId(await p.inventory(), vm.vmid)?.machineId).toBe(machineId);
    expect((await failure(p.adopt(String(vm.vmid), randomUUID()))).code).toBe('invalid_state');
    expect((await failure(p.adopt('99999', machineId))).code).toBe('not_found');
  });
});

describe('the simulator', () => {
  it('every request the provider sent passed schema validation', () => {
    const bad = sim.requests.filter((r) => r.schemaErrors || r.status === 400 || r.status === 501);
    expect(bad).toEqual([]);
    expect(sim.requests.some((r) => r.template === '/nodes/{node}/qemu')).toBe(true);
    expect(sim.requests.some((r) => r.template === '/nodes/{node}/storage/{storage}/content')).toBe(true);
  });
});
