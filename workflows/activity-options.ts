// The activity proxies the workflows call through, each typed with the subset of activities it may
// call (so an inventory-only local activity cannot reach a provider or a BMC), with the shared
// retry presets. Activities are imported as types only: workflow code never loads them.
import { ActivityCancellationType, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { AdoptActivities } from '../activities/adopt-activities.ts';
import type { DriftActivities } from '../activities/drift-activities.ts';
import type { MachineDriftActivities } from '../activities/machine-drift-activities.ts';
import type { HostActivities } from '../activities/host-activities.ts';
import type { MachineActivities } from '../activities/machine-activities.ts';
import type { RedfishObserverActivities } from '../activities/redfish-observer.ts';
import type { SubnetActivities } from '../activities/subnet-activities.ts';
import type { WorkflowControlActivities } from '../activities/workflow-control.ts';
import { COMPENSATION_RETRY, DEFAULT_RETRY } from '../domain/retry.ts';

/** Quick PostgreSQL writes and reads: state marks, leases, record deletions. No provider, no BMC. */
export type InventoryActivities = Pick<
  MachineActivities,
  | 'setMachineState'
  | 'reserveLease'
  | 'releaseMachineLease'
  | 'activateLease'
  | 'recordPowerState'
  | 'setDiskState'
  | 'deleteDiskRecord'
  | 'setTemplateState'
  | 'deleteTemplateRecord'
  | 'deleteMachineRecord'
> &
  Pick<
    HostActivities,
    | 'hostClaimOf'
    | 'hostStartProvisioning'
    | 'hostFinishProvisioning'
    | 'hostReleaseAfterFailure'
    | 'hostStartDeprovisioning'
    | 'hostFinishDeprovisioning'
    | 'hostFail'
    | 'hostForceRelease'
  > &
  Pick<SubnetActivities, 'markSubnet' | 'freeSubnetBlock'>;

/** Hypervisor calls. */
export type VmActivities = Pick<
  MachineActivities,
  'createVm' | 'configureVm' | 'startVm' | 'stopVm' | 'shutdownVm' | 'deleteVm' | 'vmStatus' | 'diagnoseBoot' | 'attachDisk' | 'detachDisk' | 'deleteTemplate'
>;

/** BMC calls (Redfish). */
export type BmcActivities = Pick<
  HostActivities,
  | 'hostInspect'
  | 'hostPowerOff'
  | 'hostPowerOn'
  | 'hostReboot'
  | 'hostInsertMedia'
  | 'hostEjectMedia'
  | 'hostBootFromVirtualMedia'
  | 'hostClearBootOverride'
  | 'hostDiagnoseBoot'
>;

/** The undo actions: idempotent "already so = done" calls. */
type VmCompensations = Pick<MachineActivities, 'deleteVm' | 'stopVm' | 'detachDisk' | 'deleteTemplate'>;
type BmcCleanup = Pick<HostActivities, 'hostPowerOff' | 'hostEjectMedia' | 'hostClearBootOverride'>;

/**
 * A provider call that is cancelled (the workflow was cancelled mid-step) must finish or roll back
 * before the compensation that undoes it runs: a delete racing a running clone leaves an orphan.
 * So the workflow waits for the activity to acknowledge the cancellation (its AbortSignal fires on
 * the next heartbeat) instead of moving on at once.
 */
const WAIT = ActivityCancellationType.WAIT_CANCELLATION_COMPLETED;

export const vmActs = proxyActivities<VmActivities>({
  startToCloseTimeout: '5m',
  heartbeatTimeout: '10s',
  retry: DEFAULT_RETRY,
  cancellationType: WAIT,
});

/**
 * Clones run on their own queue when the spec names one (a worker there caps them per node).
 * Heartbeats deliver cancellation, so the timeout bounds how long a cancelled clone runs on unseen.
 */
export const cloneActs = (taskQueue: string) =>
  proxyActivities<Pick<MachineActivities, 'createVm'>>({
    taskQueue,
    startToCloseTimeout: '30m',
    heartbeatTimeout: '10s',
    retry: DEFAULT_RETRY,
    cancellationType: WAIT,
  });

/** Image imports move gigabytes and wait on provider tasks: long, heartbeating. */
export const templateActs = proxyActivities<Pick<MachineActivities, 'importTemplate'>>({
  startToCloseTimeout: '2h',
  heartbeatTimeout: '60s',
  retry: DEFAULT_RETRY,
  cancellationType: WAIT,
});

/** Compensations run in a non-cancellable scope, with the more patient compensation preset. */
export const vmCompensationActs = proxyActivities<VmCompensations>({
  startToCloseTimeout: '5m',
  heartbeatTimeout: '10s',
  retry: COMPENSATION_RETRY,
});

/**
 * BMC operations: power changes wait for the BMC to report them (up to redfish.powerTimeoutSec),
 * the client beats while it waits. Transient BMC errors back off 2 s → 30 s; auth failures and
 * other 4xx answers are non-retryable codes.
 */
export const bmcActs = proxyActivities<BmcActivities>({
  startToCloseTimeout: '30m',
  heartbeatTimeout: '20s',
  retry: DEFAULT_RETRY,
  cancellationType: WAIT,
});

export const bmcCompensationActs = proxyActivities<BmcCleanup>({
  startToCloseTimeout: '30m',
  heartbeatTimeout: '20s',
  retry: COMPENSATION_RETRY,
});

/** Force-release must not hang on a dead BMC: a few tries, then it moves on and says so. */
export const bmcBestEffortActs = proxyActivities<BmcCleanup>({
  startToCloseTimeout: '10m',
  heartbeatTimeout: '20s',
  retry: { ...DEFAULT_RETRY, maximumAttempts: 3 },
});

/** Waiting for a wipe may take hours: long, heartbeating. */
export const wipeWaitActs = proxyActivities<Pick<HostActivities, 'hostWaitPoweredOff'>>({
  startToCloseTimeout: '24h',
  heartbeatTimeout: '60s',
  retry: DEFAULT_RETRY,
});

/** Waiting for another workflow (and its compensation) may take long; heartbeats prove the wait is alive. */
export const settleActs = proxyActivities<WorkflowControlActivities>({
  startToCloseTimeout: '2h',
  heartbeatTimeout: '10s',
  retry: DEFAULT_RETRY,
});

/**
 * Inventory-only steps are quick PostgreSQL writes: local activities in the worker that runs the
 * workflow, saving two server round trips each. Typed so that nothing else can run this way.
 */
export const inventoryActs = proxyLocalActivities<InventoryActivities>({
  startToCloseTimeout: '30s',
  retry: DEFAULT_RETRY,
});

export const inventoryCompensationActs = proxyLocalActivities<InventoryActivities>({
  startToCloseTimeout: '30s',
  retry: COMPENSATION_RETRY,
});

/**
 * The observers' scans and remediation. A scan is a few indexed reads, so one minute is ample;
 * a retry is safe (applying a scan twice opens nothing twice).
 */
export const driftActs = proxyActivities<DriftActivities>({
  startToCloseTimeout: '1m',
  retry: DEFAULT_RETRY,
});

/**
 * The Redfish observer: one scan reads a BMC group (each BMC once, no retries inside, a few at a
 * time) and beats after every host; a retried scan is harmless. Starting a remediation is quick.
 */
export const bmcObserverActs = proxyActivities<RedfishObserverActivities>({
  startToCloseTimeout: '10m',
  heartbeatTimeout: '30s',
  retry: { ...DEFAULT_RETRY, maximumAttempts: 3 },
  cancellationType: WAIT,
});

/**
 * The hypervisor observer: a listing may page through many nodes, so it heartbeats per page and
 * may take minutes; the fixes only start a workflow or delete one leftover.
 */
export const machineDriftActs = proxyActivities<MachineDriftActivities>({
  startToCloseTimeout: '10m',
  heartbeatTimeout: '30s',
  retry: DEFAULT_RETRY,
  cancellationType: WAIT,
});

/** Cloud subnet calls: each cloud call retries throttling itself; these retries cover the rest. */
type CloudSubnetCalls = Pick<SubnetActivities, 'findOrCreateCloudSubnet' | 'waitCloudSubnetAvailable' | 'deleteCloudSubnet'>;

export const cloudActs = proxyActivities<CloudSubnetCalls>({
  startToCloseTimeout: '10m',
  heartbeatTimeout: '30s',
  retry: DEFAULT_RETRY,
  cancellationType: WAIT,
});

/** Adoption: one provider config write (the marker) and one finding update. */
export const adoptActs = proxyActivities<AdoptActivities>({
  startToCloseTimeout: '5m',
  heartbeatTimeout: '10s',
  retry: DEFAULT_RETRY,
  cancellationType: WAIT,
});

/** Deleting a subnet left by a failed create: the patient preset, in the non-cancellable undo scope. */
export const cloudCompensationActs = proxyActivities<Pick<SubnetActivities, 'deleteCloudSubnet'>>({
  startToCloseTimeout: '10m',
  heartbeatTimeout: '30s',
  retry: COMPENSATION_RETRY,
});
