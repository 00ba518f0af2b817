// The dry-run provider: a pretend hypervisor that records every call it receives and keeps its
// "VMs" in a ledger (PostgreSQL in production, so state survives crashes like a real system's).
import { HangarError } from '../../domain/errors.ts';
import type {
  AttachedDisk,
  CallOptions,
  InventoryOptions,
  Leftover,
  VmInventory,
  DiskSpec,
  Hypervisor,
  TemplateRef,
  TemplateSpec,
  VmSpec,
  VmStatus,
  VmSummary,
} from '../hypervisor.ts';
import { sleep as sharedSleep } from '../support/sleep.ts';
import type { DryRunLedger, DryRunVmRecord } from '../../domain/dryrun-ledger.ts';

export type { DryRunLedger, DryRunVmRecord };

export interface DryRunOptions {
  /** Artificial latency per call, after the effect is applied (widens crash windows in tests). */
  stepDelayMs?: number;
  failStep?: 'create' | 'configure' | 'start';
  sleep?: (ms: number) => Promise<void>;
  /** Called while waiting, so activities can heartbeat. */
  onWait?: () => void;
  /** VMs per inventory page (default 1000). */
  pageSize?: number;
  /** Fault injection: this inventory page (0-based) fails to list, so the listing is partial. */
  failListingPage?: number;
}

export class DryRunProvider implements Hypervisor {
  readonly name = 'dryrun' as const;
  private readonly ledger: DryRunLedger;
  private readonly options: DryRunOptions;

  constructor(ledger: DryRunLedger, options: DryRunOptions = {}) {
    this.ledger = ledger;
    this.options = options;
  }

  private async pause(): Promise<void> {
    const total = this.options.stepDelayMs ?? 0;
    const sleep = this.options.sleep ?? sharedSleep;
    for (let waited = 0; waited < total; waited += 250) {
      this.options.onWait?.();
      await sleep(Math.min(250, total - waited));
    }
  }

  private failIfInjected(step: DryRunOptions['failStep']) {
    if (this.options.failStep === step) {
      throw new HangarError('provider_rejected', `dry-run: injected permanent failure at step "${step}"`);
    }
  }

  private async vmOrFail(providerId: string): Promise<DryRunVmRecord> {
    const vm = await this.ledger.findVm(providerId);
    if (!vm) throw new HangarError('not_found', `dry-run: VM ${providerId} does not exist`);
    return vm;
  }

  async create(spec: VmSpec): Promise<{ providerId: string; created: boolean }> {
    this.failIfInjected('create');
    const id = `dry-${spec.machineId.slice(0, 8)}`;
    const { vm, created } = await this.ledger.insertVm({ id, machineId: spec.machineId, name: spec.name });
    await this.ledger.recordCall({ machineId: spec.machineId, method: 'create', args: { ...spec }, effect: created ? 'applied' : 'noop' });
    await this.pause();
    return { providerId: vm.id, created };
  }

  async configure(providerId: string, spec: VmSpec): Promise<void> {
    this.failIfInjected('configure');
    await this.vmOrFail(providerId);
    const changed = await this.ledger.updateVm(providerId, { cpu: spec.cpu, memoryMb: spec.memoryMb, diskGb: spec.diskGb });
    await this.ledger.recordCall({
      machineId: spec.machineId,
      method: 'configure',
      args: { providerId, cpu: spec.cpu, memoryMb: spec.memoryMb, diskGb: spec.diskGb },
      effect: changed ? 'applied' : 'noop',
    });
    await this.pause();
  }

  async start(providerId: string): Promise<void> {
    this.failIfInjected('start');
    const vm = await this.vmOrFail(providerId);
    const changed = await this.ledger.updateVm(providerId, { powerState: 'running' });
    await this.ledger.recordCall({ machineId: vm.machineId, method: 'start', args: { providerId }, effect: changed ? 'applied' : 'noop' });
    await this.pause();
  }

  async stop(providerId: string): Promise<void> {
    const vm = await this.ledger.findVm(providerId);
    if (!vm) return; // already gone is stopped
    const changed = await this.ledger.updateVm(providerId, { powerState: 'stopped' });
    await this.ledger.recordCall({ machineId: vm.machineId, method: 'stop', args: { providerId }, effect: changed ? 'applied' : 'noop' });
    await this.pause();
  }

  async delete(machineId: string): Promise<{ deleted: boolean }> {
    const deleted = await this.ledger.deleteVmByMachine(machineId);
    await this.ledger.recordCall({ machineId, method: 'delete', args: { machineId }, effect: deleted ? 'applied' : 'noop' });
    await this.pause();
    return { deleted };
  }

  async status(machineId: string): Promise<VmStatus> {
    const vm = await this.ledger.findVmByMachine(machineId);
    return vm ? { providerId: vm.id, powerState: vm.powerState } : { providerId: null, powerState: 'absent' };
  }

  async shutdown(providerId: string, timeoutSec: number): Promise<void> {
    const vm = await this.ledger.findVm(providerId);
    if (!vm) return;
    const changed = await this.ledger.updateVm(providerId, { powerState: 'stopped' });
    await this.ledger.recordCall({ machineId: vm.machineId, method: 'shutdown', args: { providerId, timeoutSec }, effect: changed ? 'applied' : 'noop' });
    await this.pause();
  }

  async list(): Promise<VmSummary[]> {
    const vms = await this.ledger.listVms();
    return vms.map((vm) => ({ providerId: vm.id, machineId: vm.machineId, name: vm.name, powerState: vm.powerState }));
  }

  /** The ledger's VMs page by page (keyset on id), each with the settings configure gave it. */
  async inventory(opts: InventoryOptions = {}): Promise<VmInventory> {
    const out: VmInventory = { vms: [], leftovers: [], failures: [] };
    const pageSize = this.options.pageSize ?? 1000;
    let after: string | null = null;
    for (let page = 0; ; page++) {
      opts.signal?.throwIfAborted();
      opts.onPage?.();
      const vms = await this.ledger.listVmPage(after, pageSize);
      if (page === this.options.failListingPage) out.failures.push(`dry-run: injected failure listing page ${page}`);
      else
        for (const vm of vms) {
          const config = { cpu: vm.cpu, memory_mb: vm.memoryMb, disk_gb: vm.diskGb };
          out.vms.push({
            providerId: vm.id,
            machineId: vm.machineId,
            name: vm.name,
            powerState: vm.powerState,
            // Settings configure never set are not reported (so not compared).
            config: Object.fromEntries(Object.entries(config).filter(([, v]) => v !== null)),
          });
        }
      if (vms.length < pageSize) return out;
      after = vms.at(-1)!.id;
    }
  }

  /** Deletes a pretend VM whose machine is gone (an `instance` leftover); nothing else is a dry-run leftover. */
  async deleteLeftover(leftover: Leftover, _opts?: CallOptions): Promise<{ deleted: boolean }> {
    if (leftover.kind !== 'instance' || !leftover.machineId) return { deleted: false };
    const vm = await this.ledger.findVmByMachine(leftover.machineId);
    if (!vm || vm.id !== leftover.ref) return { deleted: false };
    const deleted = await this.ledger.deleteVmByMachine(leftover.machineId);
    await this.ledger.recordCall({ machineId: leftover.machineId, method: 'deleteLeftover', args: { ...leftover }, effect: deleted ? 'applied' : 'noop' });
    return { deleted };
  }

  // Disks and templates have no pretend state beyond the call record: the identifiers are derived
  // from Hangar's own ids, so repeating a call returns the same answer.
  async attachDisk(providerId: string, disk: DiskSpec): Promise<AttachedDisk> {
    const vm = await this.vmOrFail(providerId);
    await this.ledger.recordCall({ machineId: vm.machineId, method: 'attachDisk', args: { providerId, ...disk }, effect: 'applied' });
    await this.pause();
    return { diskId: disk.diskId, slot: `dry-disk-${disk.diskId.slice(0, 8)}`, volume: `dryrun:${disk.diskId}` };
  }

  async detachDisk(providerId: string, diskId: string): Promise<{ detached: boolean }> {
    const vm = await this.ledger.findVm(providerId);
    if (!vm) return { detached: false };
    await this.ledger.recordCall({ machineId: vm.machineId, method: 'detachDisk', args: { providerId, diskId }, effect: 'applied' });
    await this.pause();
    return { detached: true };
  }

  async importTemplate(spec: TemplateSpec): Promise<TemplateRef> {
    await this.pause();
    return { ref: `dry-template-${spec.templateId.slice(0, 8)}`, created: true };
  }

  async deleteTemplate(_templateId: string): Promise<{ deleted: boolean }> {
    await this.pause();
    return { deleted: true };
  }
}

/** An in-memory ledger for plans (`?dry_run=true`), demos and unit tests. */
export class MemoryDryRunLedger implements DryRunLedger {
  readonly vms = new Map<string, DryRunVmRecord & { name: string; cpu?: number; memoryMb?: number; diskGb?: number }>();
  readonly calls: { machineId: string; method: string; args: Record<string, unknown>; effect: 'applied' | 'noop' }[] = [];

  async insertVm(vm: { id: string; machineId: string; name: string }) {
    const existing = [...this.vms.values()].find((v) => v.machineId === vm.machineId);
    if (existing) return { vm: existing, created: false };
    const record = { ...vm, powerState: 'stopped' as const };
    this.vms.set(vm.id, record);
    return { vm: record, created: true };
  }
  async findVmByMachine(machineId: string) {
    return [...this.vms.values()].find((v) => v.machineId === machineId) ?? null;
  }
  async findVm(id: string) {
    return this.vms.get(id) ?? null;
  }
  async listVms() {
    return [...this.vms.values()];
  }
  async listVmPage(afterId: string | null, limit: number) {
    return [...this.vms.values()]
      .filter((v) => afterId === null || v.id > afterId)
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .slice(0, limit)
      .map((v) => ({ ...v, cpu: v.cpu ?? null, memoryMb: v.memoryMb ?? null, diskGb: v.diskGb ?? null }));
  }
  async updateVm(id: string, change: { cpu?: number; memoryMb?: number; diskGb?: number; powerState?: 'running' | 'stopped' }) {
    const vm = this.vms.get(id);
    if (!vm) return false;
    const changed = (Object.keys(change) as (keyof typeof change)[]).some((k) => change[k] !== undefined && vm[k] !== change[k]);
    Object.assign(vm, change);
    return changed;
  }
  async deleteVmByMachine(machineId: string) {
    const vm = await this.findVmByMachine(machineId);
    return vm ? this.vms.delete(vm.id) : false;
  }
  async recordCall(call: { machineId: string; method: string; args: Record<string, unknown>; effect: 'applied' | 'noop' }) {
    this.calls.push(call);
  }
}
