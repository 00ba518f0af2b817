// Cloning a machine's VM from a template: a fresh VMID, linked where the storage can and full
// where it cannot, the marker in the description, and the adoption of a clone an earlier
// attempt made (its reply lost, or a retry overlapping it).
import { HangarError } from '../../domain/errors.ts';
import type { VmSpec } from '../hypervisor.ts';
import { pvePath } from './client.ts';
import { pvePost, setConfig, settle, vmConfig, type ProxmoxCall } from './context.ts';
import { cidataIsos, uploadCidataIso } from './iso.ts';
import { configOrUndefined, findByMarker, resources, scanMarker, type MarkedVm } from './locator.ts';
import { HANGAR_TAG, MACHINE_MARKER, cidataHash, cidataIsoName, dnsName, machineTags, markedDescription, markerValue, parseTags } from './markers.ts';
import { activeTasks, waitTasks, waitUnlocked } from './tasks.ts';
import { deleteVm, withVmid } from './vms.ts';

export async function cloneMachine(c: ProxmoxCall, spec: VmSpec): Promise<{ providerId: string; created: boolean }> {
  const existing = await existingMachine(c, spec);
  if (existing) return { providerId: String(existing), created: false };
  if (!spec.template) throw new HangarError('provider_rejected', 'Proxmox create needs a template VMID');
  const templateId = Number(spec.template);
  const template = (await resources(c)).find((r) => r.vmid === templateId);
  if (!Number.isInteger(templateId) || !template) throw new HangarError('not_found', `Proxmox template ${spec.template} does not exist`);
  const node = spec.node ?? c.settings.node;
  const full = spec.cloneMode === undefined ? undefined : spec.cloneMode === 'full';

  // The seed ISO does not depend on the VM: it uploads while the clone runs (once Proxmox took
  // the clone), and configure finds it in storage (its name carries the seed's hash).
  let seedUpload: Promise<void> | undefined;
  const vmid = await withVmid(
    c,
    spec.vmid,
    async (newid) => {
      const clone = async (asFull: boolean | undefined) => {
        const upid = await pvePost(c, pvePath`/nodes/${template.node}/qemu/${templateId}/clone`, {
          newid,
          name: dnsName(spec.name),
          description: markedDescription(MACHINE_MARKER, spec.machineId),
          full: asFull,
          ...(node !== template.node ? { target: node } : {}),
          ...(asFull ? { storage: c.settings.storage } : {}),
        });
        seedUpload ??= prestageSeedIso(c, node, spec);
        await settle(c, template.node, upid);
      };
      try {
        await clone(full);
      } catch (err) {
        // No clone mode asked for: linked where the storage can, full where it cannot.
        if (full !== undefined || !(err instanceof HangarError) || !/linked clone feature is not supported/i.test(err.message)) throw err;
        c.logger.info({ template: templateId }, 'proxmox: storage cannot do linked clones; making a full clone');
        await clone(true);
      }
      return newid;
    },
    // Taken by our own earlier attempt (a lost reply) counts as success.
    async () => (await findByMarker(c, MACHINE_MARKER, spec.machineId, dnsName(spec.name)))?.ref.vmid,
  ).finally(() => seedUpload);
  // Two overlapping attempts for one machine (a retry while the first still ran) may both
  // have cloned: the lowest VMID wins and the other attempt removes its own copy.
  const twins = await scanMarker(c, await resources(c), MACHINE_MARKER, spec.machineId, dnsName(spec.name));
  const winner = twins[0]?.ref;
  if (winner && winner.vmid !== vmid) {
    const mine = twins.find((t) => t.ref.vmid === vmid);
    c.logger.warn(
      { machineId: spec.machineId, kept: winner.vmid, removed: vmid },
      'proxmox: a concurrent attempt cloned the same machine; removing the duplicate',
    );
    if (mine) await deleteVm(c, mine.ref);
    c.cache.set(`${MACHINE_MARKER}=${spec.machineId}`, winner.vmid);
    return { providerId: String(winner.vmid), created: false };
  }
  c.cache.set(`${MACHINE_MARKER}=${spec.machineId}`, vmid);
  // A clone of a Hangar template inherits the `hangar` tag (configure drops the inherited
  // `template` tag in its one config write); a clone of anyone else's template gets it now, so a
  // delete finds the VM even if configure never runs. The clone slot is not held for more.
  const ref = { node, vmid };
  const cfg = await vmConfig(c, ref);
  if (!parseTags(cfg.tags === undefined ? undefined : String(cfg.tags)).includes(HANGAR_TAG)) await setConfig(c, ref, { tags: machineTags(cfg.tags) });
  c.logger.info({ machineId: spec.machineId, vmid, node, template: templateId }, 'proxmox: cloned VM');
  return { providerId: String(vmid), created: true };
}

/** Uploads the machine's cidata ISO unless storage holds it; best effort (configure uploads what is missing). */
async function prestageSeedIso(c: ProxmoxCall, node: string, spec: VmSpec): Promise<void> {
  const ci = spec.cloudInit;
  if (!ci || ci.mode !== 'iso') return;
  const volid = `${c.settings.isoStorage}:iso/${cidataIsoName(spec.machineId, cidataHash(ci))}`;
  try {
    if (!(await cidataIsos(c, node, spec.machineId)).includes(volid)) await uploadCidataIso(c, node, volid, ci);
  } catch (err) {
    c.logger.info(
      { machineId: spec.machineId, err: err instanceof Error ? err.message : String(err) },
      'proxmox: early seed upload failed; configure uploads it',
    );
  }
}

async function existingMachine(c: ProxmoxCall, spec: VmSpec): Promise<number | undefined> {
  const hint = dnsName(spec.name);
  // A clone whose reply was lost may still be running: until it ends, its config holds only
  // `lock: clone` (no name, no marker). So note the running clones of this template *before*
  // looking, and if the VM is not there, wait for them and look again. Clones of one template
  // serialise on its lock anyway, so the wait costs little.
  const template = spec.template ? (await resources(c)).find((r) => r.vmid === Number(spec.template)) : undefined;
  const running = template ? await activeTasks(c, template.node, 'qmclone', template.vmid, true) : [];
  let found = await findByMarker(c, MACHINE_MARKER, spec.machineId, hint);
  if (!found && template && (await waitTasks(c, template.node, running))) {
    found = await findByMarker(c, MACHINE_MARKER, spec.machineId, hint);
  }
  if (!found) return undefined;
  // A clone task may still be running (its reply was lost): wait until it finishes or vanishes.
  const cfg = await waitUnlocked(c, found.ref, found.config);
  if (!cfg) return undefined;
  return found.ref.vmid;
}

/**
 * The machine's VM when a clone of it is still running. Until a clone task ends, its target
 * holds only `lock: clone` (no name, no marker), so a delete that arrives meanwhile (a cancelled
 * provision's compensation) cannot recognise it by its marker. Every unmarked VM locked for a
 * clone is waited for (clones of one template run one at a time, so the wait is one clone at
 * most) while clone tasks of ours run, and the one that turns out to carry the machine's marker is
 * returned.
 */
export async function awaitInFlightClone(c: ProxmoxCall, machineId: string): Promise<MarkedVm | undefined> {
  const all = await resources(c);
  const cloning = all.filter((r) => !r.template && r.lock === 'clone');
  if (cloning.length === 0) return undefined;
  // Only while clones of ours run: a stale `lock: clone` (a crashed node) must not hold every delete.
  const nodes = [...new Set(all.map((r) => r.node))];
  const running = (await Promise.all(nodes.map((node) => activeTasks(c, node, 'qmclone', undefined, true)))).flat();
  if (running.length === 0) return undefined;
  for (const ref of cloning) {
    const config = await configOrUndefined(c, ref);
    if (!config) continue;
    const marker = markerValue(String(config.description ?? ''), MACHINE_MARKER);
    if (marker !== undefined && marker !== machineId) continue;
    c.logger.info({ machineId, vmid: ref.vmid }, 'proxmox: waiting for a running clone before deleting');
    const done = await waitUnlocked(c, ref, config);
    if (done && markerValue(String(done.description ?? ''), MACHINE_MARKER) === machineId) {
      c.cache.set(`${MACHINE_MARKER}=${machineId}`, ref.vmid);
      return { ref, config: done };
    }
  }
  return undefined;
}
