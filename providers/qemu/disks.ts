// Data disks: qcow2 files under the instance's disks/ folder, hot-plugged over QMP
// (blockdev-add + virtio-blk-pci on a free pcie-root-port) when the VM runs, and recorded in
// instance.json so a stopped VM picks them up at its next start. The caller holds the VM's lock.
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { HangarError } from '../../domain/errors.ts';
import type { AttachedDisk, DiskSpec } from '../hypervisor.ts';
import { hotplugPortIds } from './command-line.ts';
import { errMessage, GiB, instancePaths, saveInstance, shortHash, type InstanceRecord, type QemuContext } from './instance.ts';
import { livePid, qmp } from './process.ts';
import { QmpCommandError, type QmpClient } from './qmp.ts';
import { exists, runTool } from './tools.ts';

function diskIds(diskId: string): { nodeName: string; deviceId: string } {
  // QMP node names are limited to 31 characters; a hash of the disk id keeps them short and stable.
  const h = shortHash(`disk:${diskId}`);
  return { nodeName: `hd${h}`, deviceId: `vd${h}` };
}

async function peripheralIds(q: QmpClient): Promise<Set<string>> {
  const list = await q.execute<{ name: string }[]>('qom-list', { path: '/machine/peripheral' });
  return new Set(list.map((e) => e.name));
}

async function blockNodes(q: QmpClient): Promise<Set<string>> {
  const nodes = await q.execute<{ 'node-name': string }[]>('query-named-block-nodes', { flat: true });
  return new Set(nodes.map((n) => n['node-name']));
}

export async function attachDisk(ctx: QemuContext, dir: string, rec: InstanceRecord, disk: DiskSpec): Promise<AttachedDisk> {
  const providerId = rec.providerId;
  const p = instancePaths(dir);
  let d = rec.disks.find((x) => x.diskId === disk.diskId);
  if (d?.state === 'detaching') throw new HangarError('invalid_state', `qemu: disk ${disk.diskId} of ${providerId} is being detached`);
  if (!d) {
    const used = new Set(rec.disks.map((x) => x.port));
    const port = hotplugPortIds(ctx.opts.hotplugPorts ?? 8).find((x) => !used.has(x));
    if (!port) throw new HangarError('provider_rejected', `qemu: ${providerId} has no free hot-plug slot (${used.size} disks attached)`);
    d = { diskId: disk.diskId, file: join(p.disksDir, `${disk.diskId}.qcow2`), sizeGb: disk.sizeGb, ...diskIds(disk.diskId), port, state: 'attached' };
    if (!(await exists(d.file))) {
      await mkdir(p.disksDir, { recursive: true, mode: 0o700 });
      const partial = `${d.file}.partial`;
      await runTool(ctx.qemuImg, ['create', '-q', '-f', 'qcow2', partial, String(Math.ceil(disk.sizeGb * GiB))]);
      await rename(partial, d.file);
    }
    // Recorded before the hot-plug: a crash in between leaves a record that a retry completes
    // and that a stopped VM picks up at its next start.
    rec.disks.push(d);
    await saveInstance(ctx, rec);
  }
  const added = d;
  if (await livePid(dir)) {
    await qmp(dir, async (q) => {
      const nodes = await blockNodes(q);
      if (!nodes.has(`${added.nodeName}-f`)) {
        await q.execute('blockdev-add', { driver: 'file', 'node-name': `${added.nodeName}-f`, filename: added.file });
      }
      if (!nodes.has(added.nodeName)) {
        await q.execute('blockdev-add', { driver: 'qcow2', 'node-name': added.nodeName, file: `${added.nodeName}-f` });
      }
      if (!(await peripheralIds(q)).has(added.deviceId)) {
        await q.execute('device_add', {
          driver: 'virtio-blk-pci',
          id: added.deviceId,
          drive: added.nodeName,
          bus: added.port,
          serial: added.diskId.slice(0, 20),
        });
      }
    });
    ctx.logger.info({ machineId: providerId, diskId: disk.diskId, device: d.deviceId }, 'qemu: disk hot-plugged');
  }
  return { diskId: d.diskId, slot: d.deviceId, volume: d.file };
}

export async function detachDisk(ctx: QemuContext, dir: string, rec: InstanceRecord, diskId: string): Promise<{ detached: boolean }> {
  const providerId = rec.providerId;
  const p = instancePaths(dir);
  const d = rec.disks.find((x) => x.diskId === diskId);
  const file = d?.file ?? join(p.disksDir, `${diskId}.qcow2`);
  if (!d && !(await exists(file))) return { detached: false };
  const { nodeName, deviceId } = d ?? diskIds(diskId);

  if (await livePid(dir)) {
    if (d && d.state !== 'detaching') {
      d.state = 'detaching'; // never re-attached at the next start, whatever happens below
      await saveInstance(ctx, rec);
    }
    await qmp(dir, async (q) => {
      if ((await peripheralIds(q)).has(deviceId)) await unplug(ctx, q, providerId, deviceId);
      const nodes = await blockNodes(q);
      if (nodes.has(nodeName)) await q.execute('blockdev-del', { 'node-name': nodeName });
      if (nodes.has(`${nodeName}-f`)) await q.execute('blockdev-del', { 'node-name': `${nodeName}-f` });
    });
  }
  await rm(file, { force: true });
  await rm(`${file}.partial`, { force: true });
  rec.disks = rec.disks.filter((x) => x.diskId !== diskId);
  await saveInstance(ctx, rec);
  ctx.logger.info({ machineId: providerId, diskId }, 'qemu: disk detached');
  return { detached: true };
}

/**
 * `device_del` and wait for DEVICE_DELETED. PCIe hot-unplug needs the guest's cooperation (its
 * pciehp driver acknowledges the request; with no OS running the slot is powered off and QEMU
 * completes at once). If the guest never releases the disk, the disk stays marked `detaching`
 * (it is left out of the next start, so a power cycle completes the detach) and the call fails
 * retryably; a later retry finishes the job once the device is gone.
 */
async function unplug(ctx: QemuContext, q: QmpClient, providerId: string, deviceId: string): Promise<void> {
  const mark = q.eventMark();
  try {
    await q.execute('device_del', { id: deviceId });
  } catch (err) {
    // "already in the process of unplug" (an earlier request is pending): just wait for it.
    if (!(err instanceof QmpCommandError) || !/unplug/i.test(err.message)) throw err;
  }
  const timeoutSec = ctx.opts.unplugTimeoutSec ?? 30;
  const deadline = Date.now() + timeoutSec * 1000;
  for (;;) {
    try {
      await q.waitForEvent((e) => e.event === 'DEVICE_DELETED' && e.data.device === deviceId, Math.min(2000, Math.max(1, deadline - Date.now())), mark);
      return;
    } catch (err) {
      if (!/no matching QMP event/.test(errMessage(err))) throw err;
    }
    ctx.opts.hooks.onWait?.();
    if (!(await peripheralIds(q)).has(deviceId)) return;
    if (Date.now() >= deadline) {
      throw new HangarError(
        'provider_error',
        `qemu: the guest of ${providerId} did not release disk device ${deviceId} within ${timeoutSec} s; it is left out of the next start, retry the detach later or power-cycle the VM`,
      );
    }
  }
}
