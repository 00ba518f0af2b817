// Every workflow the worker registers. Workflow code is deterministic and imports activities
// as types only (see activity-options.ts).
export { provisionVm, phoneHomeSignal } from './provision-vm.ts';
export { deprovisionVm } from './deprovision-vm.ts';
export { vmPower } from './vm-power.ts';
export { attachDisk, detachDisk } from './vm-disk.ts';
export { createTemplate, deleteTemplate } from './template.ts';
export { progressQuery } from './support/progress.ts';
export { provisionHost, inspectHost, hostPower } from './provision-host.ts';
export { deprovisionHost, forceReleaseHost } from './deprovision-host.ts';
