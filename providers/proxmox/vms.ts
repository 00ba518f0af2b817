// Making and removing VMs: a collision-free VMID for a create or clone, and a delete (stop,
// purge, unreferenced disks) that treats "already gone" as done.
import { HangarError } from '../../domain/errors.ts';
import { errCode, pveDelete, pveGet, pvePost, settle, vmPath, type ProxmoxCall } from './context.ts';
import { resources, type VmRef } from './locator.ts';
import { waitActiveTasks } from './tasks.ts';

async function nextId(c: ProxmoxCall): Promise<number> {
  const id = Number(await pveGet<number | string>(c, '/cluster/nextid'));
  if (!Number.isInteger(id) || id < 100) throw new HangarError('provider_error', `Proxmox /cluster/nextid answered ${String(id)}`);
  return id;
}

/**
 * Runs `make(vmid)` with a fresh VMID until Proxmox stops answering "already exists"
 * (another client took the id between nextid and our call). A requested VMID is used as-is.
 * `onTaken` tells whether the taken VMID is ours after all (an earlier attempt's lost reply).
 */
export async function withVmid<T>(
  c: ProxmoxCall,
  requested: number | undefined,
  make: (vmid: number) => Promise<T>,
  onTaken: (vmid: number) => Promise<T | undefined>,
): Promise<T> {
  const attempts = c.settings.vmidAttempts;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const vmid = requested ?? (await nextId(c));
    try {
      return await make(vmid);
    } catch (err) {
      if (errCode(err) !== 'already_exists') throw err;
      const mine = await onTaken(vmid);
      if (mine !== undefined) return mine;
      if (requested !== undefined) {
        throw new HangarError('already_exists', `Proxmox VMID ${vmid} is already used by another VM`);
      }
      c.logger.info({ vmid, attempt: attempt + 1 }, 'proxmox: VMID taken meanwhile, picking another');
    }
  }
  throw new HangarError('provider_error', `Proxmox: no free VMID after ${attempts} attempts (VMIDs keep colliding)`);
}

/** Stops and destroys a VM with its disks; a VM already gone is done. */
export async function deleteVm(c: ProxmoxCall, ref: VmRef): Promise<void> {
  try {
    await waitActiveTasks(c, ref.node, undefined, ref.vmid);
    const st = await pveGet<{ status?: string }>(c, vmPath(ref, '/status/current'));
    if (st?.status === 'running') await settle(c, ref.node, await pvePost(c, vmPath(ref, '/status/stop')));
    const upid = await pveDelete(c, vmPath(ref), { purge: true, 'destroy-unreferenced-disks': true }, { idempotent: true });
    await settle(c, ref.node, upid);
  } catch (err) {
    if (errCode(err) === 'not_found') return;
    // An earlier attempt whose reply was lost may have removed it meanwhile: gone is done.
    if (err instanceof HangarError && !(await resources(c)).some((r) => r.vmid === ref.vmid)) return;
    throw err;
  }
}
