// Making a VM's disk and starting its QEMU process: the root disk (an overlay on the template's
// disk, or a full copy), the SMBIOS seed blob, the command line, and the daemonised launch
// (retried when a forwarded SSH port raced away).
import { rename, rm, writeFile } from 'node:fs/promises';
import { HangarError } from '../../domain/errors.ts';
import { chooseAccel, type AccelChoice } from './accel.ts';
import { buildQemuArgs, hotplugPortIds, type NicArg } from './command-line.ts';
import { instancePaths, saveInstance, type InstanceRecord, type QemuContext } from './instance.ts';
import { cleanRuntimeFiles, livePid } from './process.ts';
import { noCloudSerial, smbiosType1 } from './smbios.ts';
import { exists, freeLoopbackPort, runTool, ToolError } from './tools.ts';

/** The VM's root disk: a qcow2 overlay on the template disk, or (full clone) a copy of it. A cancelled copy leaves no partial file. */
export async function createRootDisk(ctx: QemuContext, templateDisk: string, disk: string, mode: 'linked' | 'full', signal?: AbortSignal): Promise<void> {
  const partial = `${disk}.partial`;
  await rm(partial, { force: true });
  const beat = setInterval(() => ctx.opts.hooks.onWait?.(), 2000);
  try {
    if (mode === 'full') {
      await runTool(ctx.qemuImg, ['convert', '-q', '-f', 'qcow2', '-O', 'qcow2', templateDisk, partial], {
        timeoutMs: 3_600_000,
        ...(signal ? { signal } : {}),
      });
    } else {
      await runTool(ctx.qemuImg, ['create', '-q', '-f', 'qcow2', '-b', templateDisk, '-F', 'qcow2', partial], signal ? { signal } : {});
    }
    await rename(partial, disk);
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  } finally {
    clearInterval(beat);
  }
}

/** Starts QEMU for the instance (daemonised: it outlives the worker) and records its runtime. */
export async function launch(ctx: QemuContext, dir: string, rec: InstanceRecord, signal?: AbortSignal): Promise<void> {
  const p = instancePaths(dir);
  await cleanRuntimeFiles(dir);
  if (!(await exists(p.disk))) await createRootDisk(ctx, rec.templateDisk, p.disk, rec.cloneMode ?? 'linked', signal);
  const accel: AccelChoice = await chooseAccel(ctx.qemuBinary, ctx.opts.accel ?? 'auto', ctx.logger, ctx.opts.cpuModel);

  const seedUrl = rec.cloudInit?.seedUrl;
  if (seedUrl) {
    const blob = smbiosType1({ manufacturer: 'QEMU', product: 'Hangar VM', version: 'q35', serial: noCloudSerial(seedUrl), uuid: rec.uuid, family: 'Hangar' });
    await writeFile(p.smbios, blob, { mode: 0o600 });
  } else {
    await rm(p.smbios, { force: true });
  }
  // Keep the previous boot's console for diagnosis.
  if (await exists(p.serialLog)) await rename(p.serialLog, `${p.serialLog}.1`).catch(() => undefined);

  const ports = hotplugPortIds(Math.max(ctx.opts.hotplugPorts ?? 8, rec.disks.length));
  const cidata = (await exists(p.iso)) ? p.iso : undefined;
  for (let attempt = 1; ; attempt++) {
    let sshPort: number | undefined;
    const nics: NicArg[] = [];
    for (const nic of rec.nics) {
      const bridge = nic.bridge ?? (ctx.opts.network.mode === 'bridge' ? ctx.opts.network.bridge : undefined);
      if (bridge) {
        nics.push({ mac: nic.mac, netdev: { kind: 'bridge', bridge } });
      } else {
        const forward = sshPort === undefined ? (sshPort = await freeLoopbackPort()) : undefined;
        nics.push({ mac: nic.mac, netdev: forward ? { kind: 'user', sshHostPort: forward } : { kind: 'user' } });
      }
    }
    const args = buildQemuArgs({
      name: rec.name || rec.machineId,
      uuid: rec.uuid,
      accel: accel.accel,
      cpuModel: accel.cpuModel,
      cpus: rec.cpu,
      memoryMb: rec.memoryMb,
      rootDisk: p.disk,
      cidataIso: cidata,
      cidataBus: ctx.opts.cidataBus ?? 'virtio-scsi',
      smbiosFile: seedUrl ? p.smbios : undefined,
      kernel: rec.kernel,
      nics,
      dataDisks: rec.disks
        .filter((d) => d.state === 'attached')
        .map((d) => ({
          file: d.file,
          nodeName: d.nodeName,
          deviceId: d.deviceId,
          port: d.port,
          serial: d.diskId.slice(0, 20),
        })),
      hotplugPorts: ports,
      serialLog: p.serialLog,
      qmpSocket: p.qmpSocket,
      pidFile: p.pidFile,
    });
    try {
      // -daemonize: the parent exits once the VM is set up (or reports why it could not be).
      // Not given the signal: killing the parent mid-setup could leave a daemon nobody records.
      await runTool(ctx.qemuBinary, args, { timeoutMs: 120_000 });
    } catch (err) {
      const stderr = err instanceof ToolError ? err.stderr : '';
      if (attempt < 3 && /host forwarding rule|Could not set up host forwarding/i.test(stderr)) continue; // port raced away
      throw err;
    }
    const pid = await livePid(dir);
    if (!pid) throw new HangarError('provider_error', `qemu: ${rec.machineId} exited right after starting (see ${p.serialLog})`);
    rec.runtime = { accel: accel.accel, cpuModel: accel.cpuModel, accelReason: accel.reason, startedAt: new Date().toISOString() };
    if (sshPort !== undefined) rec.runtime.sshPort = sshPort;
    await saveInstance(ctx, rec);
    ctx.logger.info({ machineId: rec.machineId, pid, accel: accel.accel, sshPort }, 'qemu: VM started');
    return;
  }
}
