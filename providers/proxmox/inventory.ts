// What the observer sees on a Proxmox cluster: every VM on every node (`/nodes`, then
// `/nodes/{node}/qemu` and each VM's config), Hangar's or not, with the settings Hangar compares
// (vCPUs, memory, root disk size, NIC count), and the Hangar-made leftovers no VM uses
// (leftovers.ts). A node that fails to list goes into `failures` and the others are still
// listed: the observer then treats the scan as partial (docs/decisions/0018). Templates are not
// VMs here. Cancellation is the call's signal: it is never mistaken for a node failure.
import type { ObservedVm, VmInventory } from '../hypervisor.ts';
import { throwIfAborted } from '../support/sleep.ts';
import { pvePath } from './client.ts';
import { configOrUndefined } from './locator.ts';
import { pveGet, type ProxmoxCall, type VmConfig } from './context.ts';
import { rootDiskKey } from './config-plan.ts';
import { findLeftovers, firstLine } from './leftovers.ts';
import { HANGAR_TAG, MACHINE_MARKER, markerValue, parseTags } from './markers.ts';
import { parsePropertyString, parseSize, powerState } from './properties.ts';

/** One row of `GET /nodes/{node}/qemu`. */
interface NodeVmRow {
  vmid?: number | string;
  name?: string;
  status?: string;
  qmpstatus?: string;
  template?: number | boolean;
  tags?: string;
  lock?: string;
}

/** A listed VM with its config (the config tells the marker and the settings). */
export interface ListedVm {
  vmid: number;
  node: string;
  name: string;
  status: string;
  tags: string[];
  lock?: string;
  config: VmConfig;
}

// Config reads per batch: a big node is not hit with hundreds of parallel GETs.
const BATCH = 8;
const GiB = 1024 ** 3;

/** Every node, every VM, and the leftovers; `onPage` after each node so an activity can heartbeat. */
export async function inventory(c: ProxmoxCall, onPage?: () => void): Promise<VmInventory> {
  const rows = await pveGet<{ node?: string; status?: string }[]>(c, '/nodes');
  const nodes = (Array.isArray(rows) ? rows : []).filter((n) => n.node).sort((a, b) => String(a.node).localeCompare(String(b.node)));
  const failures: string[] = [];
  const listed: { node: string; vms: ListedVm[] }[] = [];
  for (const n of nodes) {
    const node = String(n.node);
    // An offline node answers nothing; asking would only wait for its proxy to time out.
    if (n.status !== undefined && n.status !== 'online') {
      failures.push(`node ${node}: ${n.status}`);
      continue;
    }
    try {
      listed.push({ node, vms: await listNode(c, node) });
    } catch (err) {
      throwIfAborted(c.signal);
      failures.push(`node ${node}: ${firstLine(err)}`);
      c.logger.warn({ node, err: firstLine(err) }, 'proxmox: node listing failed; the scan is partial');
    }
    onPage?.();
  }
  const leftovers = await findLeftovers(c, listed, failures, onPage);
  const vms = listed.flatMap((l) => l.vms.flatMap((vm) => observed(vm) ?? []));
  return { vms, leftovers, failures };
}

/** The node's VMs (templates left out) with their configs; a VM deleted since the listing is skipped. */
async function listNode(c: ProxmoxCall, node: string): Promise<ListedVm[]> {
  const rows = await pveGet<NodeVmRow[]>(c, pvePath`/nodes/${node}/qemu`);
  const vms = (Array.isArray(rows) ? rows : [])
    .filter((r) => r.vmid !== undefined && !(r.template === true || Number(r.template) === 1))
    .sort((a, b) => Number(a.vmid) - Number(b.vmid));
  const out: ListedVm[] = [];
  for (let i = 0; i < vms.length; i += BATCH) {
    const batch = vms.slice(i, i + BATCH);
    const configs = await Promise.all(batch.map((r) => configOrUndefined(c, { node, vmid: Number(r.vmid) })));
    batch.forEach((r, j) => {
      const config = configs[j];
      if (!config) return;
      // `template` can also be set in the config only (a conversion finishing meanwhile).
      if (String(config.template ?? '0') === '1') return;
      out.push({
        vmid: Number(r.vmid),
        node,
        name: r.name ?? String(config.name ?? ''),
        status: r.status ?? 'unknown',
        tags: parseTags(r.tags ?? (config.tags === undefined ? undefined : String(config.tags))),
        ...(r.lock ? { lock: r.lock } : {}),
        config,
      });
    });
  }
  return out;
}

/** The machine a VM belongs to, when it carries Hangar's tag and machine marker. */
export function machineOf(vm: Pick<ListedVm, 'tags' | 'config'>): string | null {
  if (!vm.tags.includes(HANGAR_TAG)) return null;
  return markerValue(String(vm.config.description ?? ''), MACHINE_MARKER) ?? null;
}

/**
 * The observer's view of one VM; undefined for an unmarked VM a clone or create is still making
 * (until the task ends it holds only its lock, so it cannot be told apart from a foreign VM yet).
 */
function observed(vm: ListedVm): ObservedVm | undefined {
  const machineId = machineOf(vm);
  if (!machineId && (vm.lock === 'clone' || vm.lock === 'create')) return undefined;
  return {
    providerId: String(vm.vmid),
    machineId,
    name: vm.name,
    powerState: powerState(vm.status),
    location: vm.node,
    config: observedConfig(vm.config),
  };
}

/** vCPUs (cores × sockets), memory, root disk size and NIC count, as the VM's config says; unknown keys are left out. */
export function observedConfig(cfg: VmConfig): NonNullable<ObservedVm['config']> {
  const out: NonNullable<ObservedVm['config']> = {};
  out.cpu = Number(cfg.cores ?? 1) * Number(cfg.sockets ?? 1);
  const memory = parsePropertyString(String(cfg.memory ?? '512'));
  const mb = Number(memory.current ?? memory._);
  if (Number.isFinite(mb)) out.memory_mb = mb;
  const root = rootDiskKey(cfg);
  const bytes = root ? parseSize(parsePropertyString(String(cfg[root])).size) : undefined;
  // Whole GiB as machines record them; an odd size keeps two decimals so it still differs.
  if (bytes !== undefined) out.disk_gb = Math.round((bytes / GiB) * 100) / 100;
  out.nics = Object.keys(cfg).filter((k) => /^net\d+$/.test(k)).length;
  return out;
}
