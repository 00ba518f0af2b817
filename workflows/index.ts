// Every workflow the worker registers (one per name in contracts.ts's WorkflowTypes). Workflow code
// is deterministic and imports activities as types only (see activity-options.ts).
export { provisionVm } from './provision-vm.ts';
export { deprovisionVm } from './deprovision-vm.ts';
export { vmPower } from './vm-power.ts';
export { attachDisk, detachDisk } from './vm-disk.ts';
export { createTemplate, deleteTemplate } from './template.ts';
export { provisionHost, inspectHost, hostPower } from './provision-host.ts';
export { deprovisionHost, forceReleaseHost } from './deprovision-host.ts';
export { reconcileInventory } from './reconcile-inventory.ts';
export { reconcileHosts } from './reconcile-hosts.ts';
export { reconcileMachines } from './reconcile-machines.ts';
export { adoptVm } from './adopt-vm.ts';
export { allocateSubnet, releaseSubnet } from './subnets.ts';
export { phoneHomeSignal, progressQuery } from './contracts.ts';
