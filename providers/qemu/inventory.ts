// What the observer sees of the QEMU host: every folder under instances/. A folder with Hangar's
// instance record (instance.json naming the folder's machine id) is a managed VM, its power read
// from the live process and QMP, its settings from the record; any other folder is unmanaged and
// listed by its name (never deleted: Hangar did not make it). A folder that cannot be read is a
// listing failure, which makes the scan partial rather than hiding the VM.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ObservedVm } from '../hypervisor.ts';
import { errMessage, instancePaths, SAFE_ID, type InstanceRecord, type QemuContext } from './instance.ts';
import { powerState } from './process.ts';
import { exists, readJson } from './tools.ts';

/** Hangar's marker: the record exists and names the folder it is in. */
export async function markedRecord(dir: string, folder: string): Promise<InstanceRecord | null> {
  const rec = await readJson<InstanceRecord>(instancePaths(dir).record);
  return rec && rec.format === 1 && rec.machineId === folder ? rec : null;
}

/** The instance folders, or null when the instances folder does not exist yet (nothing created). */
export async function instanceFolders(ctx: QemuContext): Promise<string[] | null> {
  try {
    const names = await readdir(ctx.instancesDir, { withFileTypes: true });
    return names
      .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
      .map((d) => d.name)
      .sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** One folder as a VM; the caller holds the instance's lock (QMP serves one client at a time). */
export async function observeInstance(ctx: QemuContext, folder: string): Promise<ObservedVm> {
  const dir = join(ctx.instancesDir, folder);
  const rec = SAFE_ID.test(folder) ? await markedRecord(dir, folder) : null;
  if (!rec) {
    // Not Hangar's: report what can be seen without touching it.
    const running = SAFE_ID.test(folder) && (await stat(instancePaths(dir).pidFile).catch(() => null)) ? (await powerState(dir)).state : 'stopped';
    return { providerId: folder, machineId: null, name: folder, powerState: running, location: 'local' };
  }
  const { state } = await powerState(dir);
  return {
    providerId: rec.providerId,
    machineId: rec.machineId,
    name: rec.name,
    powerState: state,
    location: 'local',
    config: { cpu: rec.cpu, memory_mb: rec.memoryMb, disk_gb: rec.diskGb, nics: rec.nics.length },
    diskMissing: !(await exists(instancePaths(dir).disk)),
  };
}

export const listingFailure = (folder: string, err: unknown) => `instance ${folder}: ${errMessage(err)}`;
