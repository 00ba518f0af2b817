// Adopting a VM Hangar did not create: its description gets Hangar's machine marker and its tags
// the `hangar` tag, so every later call (and the observer) finds it as the machine's VM. Nothing
// else about the VM changes: no restart, no resize, no new drive (docs/decisions/0020).
import { HangarError } from '../../domain/errors.ts';
import { setConfig, type ProxmoxCall } from './context.ts';
import { configOrUndefined, mustResolveVm } from './locator.ts';
import { DESCRIPTION_HEADER, HANGAR_TAG, MACHINE_MARKER, markerValue, parseTags } from './markers.ts';

/** Writes the marker; a VM already marked for this machine is left alone (`marked: false`). */
export async function markAdoptedVm(c: ProxmoxCall, providerId: string, machineId: string): Promise<{ marked: boolean }> {
  const ref = await mustResolveVm(c, providerId);
  if (ref.template) throw new HangarError('provider_rejected', `Proxmox VM ${ref.vmid} is a template; templates are not adopted as machines`);
  const cfg = await configOrUndefined(c, ref);
  if (!cfg) throw new HangarError('not_found', `Proxmox VM ${providerId} does not exist`);
  const description = String(cfg.description ?? '');
  const current = markerValue(description, MACHINE_MARKER);
  const tags = parseTags(cfg.tags === undefined ? undefined : String(cfg.tags));
  if (current !== undefined && current !== machineId) {
    throw new HangarError('invalid_state', `Proxmox VM ${ref.vmid} already belongs to Hangar machine ${current}`);
  }
  if (current === machineId && tags.includes(HANGAR_TAG)) return { marked: false };
  // The operator's own description stays; the marker lines go below it.
  const marked =
    current === machineId ? description : [description.replace(/\n+$/, ''), DESCRIPTION_HEADER, `${MACHINE_MARKER}=${machineId}`].filter(Boolean).join('\n');
  await setConfig(c, ref, {
    description: marked,
    tags: tags.includes(HANGAR_TAG) ? tags.join(';') : [HANGAR_TAG, ...tags].join(';'),
    // Guarded: an edit someone makes meanwhile fails this write instead of being overwritten.
    ...(typeof cfg.digest === 'string' ? { digest: cfg.digest } : {}),
  });
  c.cache.set(`${MACHINE_MARKER}=${machineId}`, ref.vmid);
  c.logger.info({ machineId, vmid: ref.vmid }, 'proxmox: adopted VM (marker written)');
  return { marked: true };
}
