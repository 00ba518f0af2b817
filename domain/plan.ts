// Dry-run plans: the provider calls a workflow would make for a request, computed from the
// request alone (`?dry_run=true`, `hangar ... --dry-run`). Nothing is written or called.
import { redactUrl } from './logging.ts';
import type { DiskInput, MachineSpec, PowerAction, ProviderName, TemplateInput } from './machine.ts';

export interface PlannedCall {
  step: string;
  /** `provider.method` for provider calls, `hangar.method` for inventory changes. */
  call: string;
  args: Record<string, unknown>;
}

export interface Plan {
  dry_run: true;
  workflow: string;
  workflow_id: string;
  calls: PlannedCall[];
}

const provider = (name: ProviderName, method: string) => `${name}.${method}`;

/** The create call in the provider's own terms: VMIDs, nodes and clone modes are Proxmox notions. */
function createArgs(spec: MachineSpec): Record<string, unknown> {
  const common = { template: spec.template ?? null, name: spec.name };
  switch (spec.provider) {
    case 'proxmox':
      return {
        ...common,
        vmid: spec.vmid ?? 'next free',
        node: spec.node ?? null,
        clone_mode: spec.cloneMode ?? 'linked',
        queue: spec.cloneQueue ?? null,
      };
    case 'qemu':
      return {
        ...common,
        disk: "qcow2 overlay on the template's image",
        instance: 'named by the machine id',
        network: spec.bridge ? `bridge ${spec.bridge}` : 'the configured QEMU network (user-mode NAT by default: SSH forwarded from a free 127.0.0.1 port)',
      };
    default:
      return common;
  }
}

export function planProvision(spec: MachineSpec, workflowId: string): Plan {
  const calls: PlannedCall[] = [{ step: 'mark-provisioning', call: 'hangar.setMachineState', args: { state: 'provisioning' } }];
  if (spec.networkId)
    calls.push({
      step: 'reserve-lease',
      call: 'hangar.reserveLease',
      args: { network_id: spec.networkId, address: 'lowest free', mac: spec.mac ?? 'generated' },
    });
  calls.push({
    step: 'create',
    call: provider(spec.provider, spec.template ? 'clone' : 'create'),
    args: createArgs(spec),
  });
  calls.push({
    step: 'configure',
    call: provider(spec.provider, 'configure'),
    args: {
      cpu: spec.cpu,
      memory_mb: spec.memoryMb,
      disk_gb: spec.diskGb,
      bridge: spec.bridge ?? null,
      vlan: spec.vlan ?? null,
      cloud_init: spec.provider === 'dryrun' ? null : (spec.cloudInitMode ?? 'iso') === 'iso' ? 'cidata ISO attached as CD-ROM' : 'Proxmox cloud-init drive',
    },
  });
  calls.push({ step: 'start', call: provider(spec.provider, 'start'), args: {} });
  if (spec.phoneHomeTimeout) calls.push({ step: 'wait-phone-home', call: 'hangar.waitForPhoneHome', args: { timeout: spec.phoneHomeTimeout } });
  calls.push({ step: 'mark-ready', call: 'hangar.setMachineState', args: { state: 'ready' } });
  return { dry_run: true, workflow: 'provisionVm', workflow_id: workflowId, calls };
}

export function planDeprovision(input: { machineId: string; provider: ProviderName; shutdownTimeoutSec: number }, workflowId: string): Plan {
  return {
    dry_run: true,
    workflow: 'deprovisionVm',
    workflow_id: workflowId,
    calls: [
      { step: 'settle-provisioning', call: 'hangar.settleProvisioning', args: { cancels: 'a running provision (it compensates)' } },
      { step: 'mark-deprovisioning', call: 'hangar.setMachineState', args: { state: 'deprovisioning' } },
      // biome-ignore lint/suspicious/noThenProperty: `then` is a field of the plan document shown to users; the object is never awaited
      { step: 'stop', call: provider(input.provider, 'shutdown'), args: { timeout_sec: input.shutdownTimeoutSec, then: 'hard stop' } },
      { step: 'delete-vm', call: provider(input.provider, 'delete'), args: { with: ['cloud-init ISO', 'unreferenced disks'] } },
      { step: 'delete-record', call: 'hangar.deleteMachineRecord', args: { releases: 'leases', cascades: 'disk records' } },
    ],
  };
}

export function planPower(action: PowerAction, prov: ProviderName, providerId: string, shutdownTimeoutSec: number, workflowId: string): Plan {
  const calls: PlannedCall[] = [];
  if (action !== 'start')
    calls.push({ step: 'shutdown', call: provider(prov, 'shutdown'), args: { provider_id: providerId, timeout_sec: shutdownTimeoutSec } });
  if (action !== 'stop') calls.push({ step: 'start', call: provider(prov, 'start'), args: { provider_id: providerId } });
  calls.push({ step: 'record-power-state', call: provider(prov, 'status'), args: {} });
  return { dry_run: true, workflow: 'vmPower', workflow_id: workflowId, calls };
}

export function planAttachDisk(input: DiskInput, workflowId: string): Plan {
  return {
    dry_run: true,
    workflow: 'attachDisk',
    workflow_id: workflowId,
    calls: [
      {
        step: 'attach',
        call: provider(input.provider, 'attachDisk'),
        args: { provider_id: input.providerId, size_gb: input.sizeGb, storage: input.storage ?? null },
      },
      { step: 'mark-attached', call: 'hangar.setDiskState', args: { state: 'attached' } },
    ],
  };
}

export function planDetachDisk(prov: ProviderName, providerId: string, diskId: string, workflowId: string): Plan {
  return {
    dry_run: true,
    workflow: 'detachDisk',
    workflow_id: workflowId,
    calls: [
      { step: 'mark-detaching', call: 'hangar.setDiskState', args: { state: 'detaching' } },
      { step: 'detach', call: provider(prov, 'detachDisk'), args: { provider_id: providerId, disk_id: diskId, deletes: 'the volume' } },
      { step: 'delete-record', call: 'hangar.deleteDiskRecord', args: {} },
    ],
  };
}

export function planTemplate(input: TemplateInput, workflowId: string): Plan {
  return {
    dry_run: true,
    workflow: 'createTemplate',
    workflow_id: workflowId,
    calls: [
      { step: 'mark-creating', call: 'hangar.setTemplateState', args: { state: 'creating' } },
      {
        step: 'import',
        call: provider(input.provider, 'importTemplate'),
        args: {
          image: redactUrl(input.image),
          checksum: input.checksum ?? null,
          node: input.node ?? null,
          storage: input.storage ?? null,
          vmid: input.vmid ?? 'next free',
        },
      },
      { step: 'mark-ready', call: 'hangar.setTemplateState', args: { state: 'ready' } },
    ],
  };
}
