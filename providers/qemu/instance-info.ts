// What operators (and `hangar machines get`) learn about a running QEMU instance: how to reach it,
// how it runs, and where its files are. Read from the instance folder; the provider holds the lock.
import type { VmAccess } from '../hypervisor.ts';
import { instancePaths, type InstanceRecord, type QemuInstanceInfo } from './instance.ts';
import { powerState } from './process.ts';
import { exists, readJson } from './tools.ts';

/** The forwarded SSH port (user networking) and the accelerator with its reason; null unless the VM runs. */
export async function instanceAccess(dir: string): Promise<VmAccess | null> {
  const rec = await readJson<InstanceRecord>(instancePaths(dir).record);
  const { pid } = await powerState(dir);
  if (!rec?.runtime || !pid) return null;
  const rt = rec.runtime;
  return {
    ...(rt.sshPort !== undefined ? { ssh_host: '127.0.0.1', ssh_port: rt.sshPort } : {}),
    accel: rt.accel,
    cpu_model: rt.cpuModel,
    ...(rt.accelReason ? { accel_reason: rt.accelReason } : {}),
    started_at: rt.startedAt,
  };
}

/** Paths, pid and forwarded SSH port of an instance; null when it has no record. */
export async function instanceInfo(machineId: string, dir: string): Promise<QemuInstanceInfo | null> {
  const rec = await readJson<InstanceRecord>(instancePaths(dir).record);
  if (!rec) return null;
  const p = instancePaths(dir);
  const { pid, state } = await powerState(dir);
  return {
    machineId,
    dir,
    pid,
    powerState: state,
    sshPort: pid ? (rec.runtime?.sshPort ?? null) : null,
    accel: pid ? (rec.runtime?.accel ?? null) : null,
    serialLog: p.serialLog,
    qmpSocket: p.qmpSocket,
    disk: p.disk,
    cidataIso: (await exists(p.iso)) ? p.iso : null,
  };
}
