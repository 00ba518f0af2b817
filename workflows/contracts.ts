// The contract between the API, the activities and the workflows: workflow ids, the signal,
// query and update definitions, and the workflow types the API may start. Side-effect free: only
// define* calls and pure id helpers, and workflow types imported as types (erased at run time),
// so the API process can import it without loading any workflow code.
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { PhoneHomePayload } from '../domain/boot.ts';
import type { Progress } from '../domain/progress.ts';
import type { deprovisionHost, forceReleaseHost } from './deprovision-host.ts';
import type { adoptVm } from './adopt-vm.ts';
import type { deprovisionVm } from './deprovision-vm.ts';
import type { hostPower, inspectHost, provisionHost } from './provision-host.ts';
import type { provisionVm } from './provision-vm.ts';
import type { reconcileHosts } from './reconcile-hosts.ts';
import type { reconcileInventory } from './reconcile-inventory.ts';
import type { reconcileMachines } from './reconcile-machines.ts';
import type { createTemplate, deleteTemplate } from './template.ts';
import type { attachDisk, detachDisk } from './vm-disk.ts';
import type { vmPower } from './vm-power.ts';
import type { allocateSubnet, releaseSubnet } from './subnets.ts';

// --- workflow ids: one per resource, which is how operations on one resource are serialised ----

/** provisionVm and provisionHost both run under it: the metadata service's phone-home signals this id. */
export const provisionWorkflowId = (machineId: string) => `provision-vm/${machineId}`;
export const deprovisionWorkflowId = (machineId: string) => `deprovision-vm/${machineId}`;
export const powerWorkflowId = (machineId: string) => `vm-power/${machineId}`;
/** One adoption per finding at a time. */
export const adoptWorkflowId = (findingId: string) => `adopt-vm/${findingId}`;
export const diskWorkflowId = (diskId: string) => `vm-disk/${diskId}`;
export const templateWorkflowId = (templateId: string) => `template/${templateId}`;
export const hostInspectWorkflowId = (hostId: string) => `host-inspect/${hostId}`;
export const hostPowerWorkflowId = (hostId: string) => `host-power/${hostId}`;
export const hostDeprovisionWorkflowId = (hostId: string) => `deprovision-host/${hostId}`;
export const hostReleaseWorkflowId = (hostId: string) => `host-release/${hostId}`;
export const allocateSubnetWorkflowId = (subnetId: string) => `allocate-subnet/${subnetId}`;
export const releaseSubnetWorkflowId = (subnetId: string) => `release-subnet/${subnetId}`;
/** One observer per target (`inventory`, `qemu:<host>`, …); its schedule starts runs under this id. */
export const reconcileWorkflowId = (target: string) => `reconcile/${target}`;

/** Every workflow that may be running on a host (force-release settles them before it acts). */
export const hostWorkflowIds = (hostId: string, claimedBy: string | null): string[] => [
  ...(claimedBy ? [provisionWorkflowId(claimedBy)] : []),
  hostDeprovisionWorkflowId(hostId),
  hostPowerWorkflowId(hostId),
  hostInspectWorkflowId(hostId),
];

// --- messages ----------------------------------------------------------------------------------

/** Sent by the metadata service when the machine's (or host's) cloud-init phones home. */
export const phoneHomeSignal = defineSignal<[PhoneHomePayload]>('phoneHome');

/** Every workflow answers it; `GET /operations/{id}` and `hangar ops watch` render it. */
export const progressQuery = defineQuery<Progress>('progress');

// No update is defined yet: a workflow that takes one declares it here with defineUpdate.

// --- the workflow types the API starts -------------------------------------------------------------

/** Name → type of every registered workflow; `startOperation` takes a name from here and typed args. */
export interface WorkflowTypes {
  provisionVm: typeof provisionVm;
  deprovisionVm: typeof deprovisionVm;
  vmPower: typeof vmPower;
  attachDisk: typeof attachDisk;
  detachDisk: typeof detachDisk;
  createTemplate: typeof createTemplate;
  deleteTemplate: typeof deleteTemplate;
  provisionHost: typeof provisionHost;
  inspectHost: typeof inspectHost;
  hostPower: typeof hostPower;
  deprovisionHost: typeof deprovisionHost;
  forceReleaseHost: typeof forceReleaseHost;
  reconcileInventory: typeof reconcileInventory;
  reconcileHosts: typeof reconcileHosts;
  reconcileMachines: typeof reconcileMachines;
  adoptVm: typeof adoptVm;
  allocateSubnet: typeof allocateSubnet;
  releaseSubnet: typeof releaseSubnet;
}

export type WorkflowName = keyof WorkflowTypes;
