// Finding VMs again: by VMID (a provider id, wherever the VM runs now) or by Hangar's marker in
// the description (a machine or template id), with a cache that is verified before use.
import { HangarError } from '../../domain/errors.ts';
import { HANGAR_TAG, markerValue, parseTags } from './markers.ts';
import { errCode, pveGet, vmConfig, type ProxmoxCall, type VmConfig, type VmId } from './context.ts';

/** A VM as `/cluster/resources` reports it. */
export interface VmRef {
  vmid: number;
  node: string;
  name: string;
  template: boolean;
  status: string;
  tags: string[];
  lock?: string;
}

interface ClusterResource {
  type?: string;
  vmid?: number | string;
  node?: string;
  name?: string;
  template?: number | boolean;
  status?: string;
  tags?: string;
  lock?: string;
}

export interface MarkedVm {
  ref: VmRef;
  config: VmConfig;
}

export async function resources(c: ProxmoxCall): Promise<VmRef[]> {
  const rows = await pveGet<ClusterResource[]>(c, '/cluster/resources', { type: 'vm' });
  return (Array.isArray(rows) ? rows : [])
    .filter((r) => (r.type ?? 'qemu') === 'qemu' && r.vmid !== undefined && r.node)
    .map((r) => ({
      vmid: Number(r.vmid),
      node: String(r.node),
      name: r.name ?? '',
      template: r.template === true || Number(r.template) === 1,
      status: r.status ?? 'unknown',
      tags: parseTags(r.tags),
      ...(r.lock ? { lock: r.lock } : {}),
    }));
}

/** The VM behind a provider id (the VMID; `node/vmid` is accepted too), wherever it runs now. */
export async function resolveVm(c: ProxmoxCall, providerId: string): Promise<VmRef | undefined> {
  const m = /^(?:([^/]+)\/)?(\d+)$/.exec(providerId.trim());
  if (!m) throw new HangarError('provider_rejected', `not a Proxmox provider id: ${JSON.stringify(providerId)}`);
  const vmid = Number(m[2]);
  return (await resources(c)).find((r) => r.vmid === vmid);
}

export async function mustResolveVm(c: ProxmoxCall, providerId: string): Promise<VmRef> {
  const ref = await resolveVm(c, providerId);
  if (!ref) throw new HangarError('not_found', `Proxmox VM ${providerId} does not exist`);
  return ref;
}

export async function configOrUndefined(c: ProxmoxCall, ref: VmId): Promise<VmConfig | undefined> {
  try {
    return await vmConfig(c, ref);
  } catch (err) {
    if (errCode(err) === 'not_found') return undefined; // deleted since the listing
    throw err;
  }
}

/** Finds the VM carrying `<marker>=<id>` in its description (Hangar-tagged VMs, or one named `nameHint`). */
export async function findByMarker(c: ProxmoxCall, marker: string, id: string, nameHint?: string): Promise<MarkedVm | undefined> {
  const all = await resources(c);
  const cacheKey = `${marker}=${id}`;
  const cached = all.find((r) => r.vmid === c.cache.get(cacheKey));
  if (cached) {
    const config = await configOrUndefined(c, cached);
    if (config && markerValue(String(config.description ?? ''), marker) === id) return { ref: cached, config };
  }
  const matches = await scanMarker(c, all, marker, id, nameHint);
  if (matches.length > 1) {
    c.logger.warn({ marker, id, vmids: matches.map((m) => m.ref.vmid) }, 'proxmox: several VMs carry the same Hangar marker; using the lowest VMID');
  }
  const found = matches[0];
  if (found) c.cache.set(cacheKey, found.ref.vmid);
  else c.cache.delete(cacheKey);
  return found;
}

/** Every VM carrying the marker, lowest VMID first. */
export async function scanMarker(c: ProxmoxCall, all: VmRef[], marker: string, id: string, nameHint?: string): Promise<MarkedVm[]> {
  const candidates = all.filter((r) => r.tags.includes(HANGAR_TAG) || (nameHint !== undefined && r.name === nameHint));
  const matches: MarkedVm[] = [];
  // Small batches keep a big cluster from being hit with hundreds of parallel GETs.
  for (let i = 0; i < candidates.length; i += 8) {
    const batch = candidates.slice(i, i + 8);
    const configs = await Promise.all(batch.map((ref) => configOrUndefined(c, ref)));
    batch.forEach((ref, j) => {
      const config = configs[j];
      if (config && markerValue(String(config.description ?? ''), marker) === id) matches.push({ ref, config });
    });
  }
  return matches.sort((a, b) => a.ref.vmid - b.ref.vmid);
}

/** Every Hangar VM with its config (for listing); VMs deleted meanwhile are skipped. */
export async function markedVms(c: ProxmoxCall, filter: (r: VmRef) => boolean): Promise<MarkedVm[]> {
  const vms = (await resources(c)).filter((r) => filter(r) && r.tags.includes(HANGAR_TAG));
  const out: MarkedVm[] = [];
  for (let i = 0; i < vms.length; i += 8) {
    const batch = vms.slice(i, i + 8);
    const configs = await Promise.all(batch.map((r) => configOrUndefined(c, r)));
    batch.forEach((ref, j) => {
      const config = configs[j];
      if (config) out.push({ ref, config });
    });
  }
  return out;
}
