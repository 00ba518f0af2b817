// Hangar-made storage volumes no VM uses: cidata ISOs (named `hangar-<machine>-cidata[-<hash>].iso`)
// whose machine has no VM any more, and disks of a Hangar VM that none of its drives refers to.
// Nothing else is ever a leftover: a volume Hangar cannot prove it made is not Hangar's to
// delete, whatever the policy (docs/decisions/0020-proxmox-adopt-and-orphans.md).
import { HangarError } from '../../domain/errors.ts';
import type { Leftover } from '../hypervisor.ts';
import { throwIfAborted } from '../support/sleep.ts';
import { pvePath } from './client.ts';
import { pveGet, type ProxmoxCall, type VmConfig } from './context.ts';
import { configOrUndefined, resources } from './locator.ts';
import { cidataIsoMachine, HANGAR_TAG, MACHINE_MARKER, markerValue } from './markers.ts';
import { volumeOf } from './properties.ts';
import { deleteVolume, listVolumes } from './volumes.ts';

/** A node whose VMs were listed, with those VMs (inventory.ts). */
export interface ListedNode {
  node: string;
  vms: { vmid: number; tags: string[]; lock?: string; config: VmConfig }[];
}

interface StorageRow {
  storage?: string;
  content?: string;
  shared?: number | boolean;
  active?: number | boolean;
}

interface ContentRow {
  volid: string;
  content?: string;
  vmid?: number | string;
}

/** Drives that use a volume (`unusedN` does not: it is what a detach leaves behind). */
const DRIVE_KEY = /^((ide|sata|scsi|virtio)\d+|efidisk0|tpmstate0)$/;

/** Every volume some drive of the config refers to. */
export function driveVolumes(cfg: VmConfig): string[] {
  return Object.keys(cfg)
    .filter((k) => DRIVE_KEY.test(k))
    .map((k) => volumeOf(String(cfg[k])));
}

const machineMarker = (cfg: VmConfig, tags: string[]) => (tags.includes(HANGAR_TAG) ? markerValue(String(cfg.description ?? ''), MACHINE_MARKER) : undefined);

/**
 * The leftovers on the listed nodes' storages. A shared storage is judged only when every node
 * was listed (a VM on a node that failed to list could be using its volumes); a storage that
 * fails to list goes into `failures`.
 */
export async function findLeftovers(c: ProxmoxCall, listed: ListedNode[], failures: string[], onPage?: () => void): Promise<Leftover[]> {
  const referenced = new Set<string>();
  const machinesWithVm = new Set<string>();
  const hangarVms = new Map<number, string>();
  for (const { vms } of listed) {
    for (const vm of vms) {
      for (const volid of driveVolumes(vm.config)) referenced.add(volid);
      const machineId = machineMarker(vm.config, vm.tags);
      if (!machineId) continue;
      machinesWithVm.add(machineId);
      // A VM in the middle of a task (clone, disk move, backup) may be between two configs.
      if (!vm.lock) hangarVms.set(vm.vmid, machineId);
    }
  }
  const judgeShared = failures.length === 0;
  const sharedDone = new Set<string>();
  const out: Leftover[] = [];
  for (const { node } of listed) {
    let storages: StorageRow[];
    try {
      storages = await pveGet<StorageRow[]>(c, pvePath`/nodes/${node}/storage`, { enabled: true });
    } catch (err) {
      throwIfAborted(c.signal);
      failures.push(`node ${node} storage list: ${firstLine(err)}`);
      continue;
    }
    for (const s of Array.isArray(storages) ? storages : []) {
      const storage = s.storage;
      const content = String(s.content ?? '').split(',');
      if (!storage || !(content.includes('iso') || content.includes('images'))) continue;
      const shared = s.shared === true || Number(s.shared) === 1;
      if (shared && (!judgeShared || sharedDone.has(storage))) continue;
      if (shared) sharedDone.add(storage);
      let rows: ContentRow[];
      try {
        rows = await listVolumes(c, node, storage, '');
      } catch (err) {
        throwIfAborted(c.signal);
        failures.push(`node ${node} storage ${storage}: ${firstLine(err)}`);
        continue;
      }
      for (const v of rows) {
        if (referenced.has(v.volid)) continue;
        const name = v.volid.slice(v.volid.indexOf(':') + 1);
        if (v.content === 'iso') {
          const machineId = cidataIsoMachine(v.volid);
          // The ISO of a machine whose VM still exists may be between upload and attach.
          if (machineId && !machinesWithVm.has(machineId)) out.push({ kind: 'iso', ref: `${node}/${v.volid}`, name, machineId });
        } else if (v.content === 'images' && v.vmid !== undefined) {
          const machineId = hangarVms.get(Number(v.vmid));
          if (machineId) out.push({ kind: 'disk', ref: `${node}/${v.volid}`, name, machineId });
        }
      }
      onPage?.();
    }
  }
  return out;
}

/** `node/storage:volname` → its parts; anything else is not a Proxmox leftover reference. */
function parseRef(ref: string): { node: string; storage: string; volid: string } {
  const m = /^([^/]+)\/(([A-Za-z][A-Za-z0-9_.-]*):(.+))$/.exec(ref);
  if (!m) throw new HangarError('provider_rejected', `not a Proxmox leftover reference: ${JSON.stringify(ref)}`);
  return { node: m[1]!, volid: m[2]!, storage: m[3]! };
}

/**
 * Deletes one leftover after checking again that it is Hangar's and unused: a cidata ISO by its
 * name whose machine has no VM and that no VM mounts, or a disk of a Hangar VM that none of its
 * drives uses. Anything else is refused; a volume already gone is `deleted: false`.
 */
export async function deleteLeftover(c: ProxmoxCall, leftover: Leftover): Promise<{ deleted: boolean }> {
  const { node, storage, volid } = parseRef(leftover.ref);
  const refuse = (why: string) => new HangarError('provider_rejected', `Proxmox volume ${volid} is not a Hangar leftover: ${why}`);
  if (leftover.kind === 'iso') {
    const machineId = cidataIsoMachine(volid);
    if (!machineId) throw refuse("its name is not Hangar's cidata ISO name");
    if (leftover.machineId && leftover.machineId !== machineId) throw refuse(`it was made for machine ${machineId}`);
  } else if (leftover.kind !== 'disk') {
    throw refuse(`kind ${leftover.kind} is not a Proxmox leftover`);
  }
  const present = (await listVolumes(c, node, storage, '')).find((v) => v.volid === volid) as ContentRow | undefined;
  if (!present) return { deleted: false };

  const vms = (await resources(c)).filter((r) => !r.template);
  if (leftover.kind === 'disk') {
    const owner = vms.find((r) => r.vmid === Number(present.vmid));
    const cfg = owner ? await configOrUndefined(c, owner) : undefined;
    if (!owner || !cfg || !machineMarker(cfg, owner.tags)) throw refuse("it does not belong to a VM carrying Hangar's marker");
    if (owner.lock) throw new HangarError('invalid_state', `Proxmox VM ${owner.vmid} is locked (${owner.lock}); not deleting its volume now`);
  }
  for (const ref of vms) {
    const cfg = await configOrUndefined(c, ref);
    if (!cfg) continue;
    if (driveVolumes(cfg).includes(volid)) throw new HangarError('invalid_state', `Proxmox volume ${volid} is in use by VM ${ref.vmid}`);
    if (leftover.kind === 'iso' && machineMarker(cfg, ref.tags) === cidataIsoMachine(volid)) {
      throw new HangarError('invalid_state', `Proxmox volume ${volid} belongs to machine VM ${ref.vmid}, which still exists`);
    }
  }
  await deleteVolume(c, node, storage, volid);
  c.logger.info({ volid, node, kind: leftover.kind }, 'proxmox: deleted a leftover volume');
  return { deleted: true };
}

export function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
}
