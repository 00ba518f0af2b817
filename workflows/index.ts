// Every workflow the worker registers. Workflow code is deterministic and imports activities
// as types only (see activity-options.ts).
export { provisionVm, phoneHomeSignal } from './provision-vm.ts';
export { deprovisionVm } from './deprovision-vm.ts';
export { progressQuery } from './support/progress.ts';
