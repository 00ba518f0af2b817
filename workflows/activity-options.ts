// Activity proxies shared by the workflows, with the shared retry presets.
import { ActivityCancellationType, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { MachineActivities } from '../activities/machine-activities.ts';
import type { HostActivities } from '../activities/host-activities.ts';
import { COMPENSATION_RETRY, DEFAULT_RETRY } from '../domain/retry.ts';

/**
 * Provider steps: a cancelled workflow waits until the step has stopped (its provider call sees the
 * cancellation and ends, or finishes what cannot be interrupted) before compensation runs, so an
 * undo never races the step it undoes.
 */
const WAIT_FOR_STEP = ActivityCancellationType.WAIT_CANCELLATION_COMPLETED;

export const machineActs = proxyActivities<MachineActivities>({
  startToCloseTimeout: '5m',
  heartbeatTimeout: '10s',
  retry: DEFAULT_RETRY,
  cancellationType: WAIT_FOR_STEP,
});

export const compensationActs = proxyActivities<MachineActivities>({
  startToCloseTimeout: '5m',
  heartbeatTimeout: '10s',
  retry: COMPENSATION_RETRY,
});

/** Image imports move gigabytes and wait on provider tasks: long, heartbeating. */
export const templateActs = proxyActivities<MachineActivities>({
  startToCloseTimeout: '2h',
  heartbeatTimeout: '60s',
  retry: DEFAULT_RETRY,
  cancellationType: WAIT_FOR_STEP,
});

/** Waiting for another workflow may take long; heartbeats prove the wait is alive. */
export const settleActs = proxyActivities<MachineActivities>({
  startToCloseTimeout: '2h',
  heartbeatTimeout: '10s',
  retry: DEFAULT_RETRY,
});

/**
 * Inventory-only steps (a state mark, a record deletion) are quick PostgreSQL writes: run them as
 * local activities in the worker that runs the workflow, saving two server round trips each.
 */
export const inventoryActs = proxyLocalActivities<MachineActivities>({
  startToCloseTimeout: '30s',
  retry: DEFAULT_RETRY,
});

export const inventoryCompensationActs = proxyLocalActivities<MachineActivities>({
  startToCloseTimeout: '30s',
  retry: COMPENSATION_RETRY,
});

/**
 * BMC operations: power changes wait for the BMC to report them (up to redfish.powerTimeoutSec),
 * the client beats while it waits. Transient BMC errors back off 2 s → 30 s; auth failures and
 * other 4xx answers are non-retryable codes.
 */
export const hostActs = proxyActivities<HostActivities>({
  startToCloseTimeout: '30m',
  heartbeatTimeout: '20s',
  retry: DEFAULT_RETRY,
  cancellationType: WAIT_FOR_STEP,
});

export const hostCompensationActs = proxyActivities<HostActivities>({
  startToCloseTimeout: '30m',
  heartbeatTimeout: '20s',
  retry: COMPENSATION_RETRY,
});

/** Cancelling another workflow and waiting for its compensation to finish. */
export const hostSettleActs = proxyActivities<HostActivities>({
  startToCloseTimeout: '2h',
  heartbeatTimeout: '10s',
  retry: DEFAULT_RETRY,
});

/** Host state transitions are quick PostgreSQL writes: local activities. */
export const hostInventoryActs = proxyLocalActivities<HostActivities>({
  startToCloseTimeout: '30s',
  retry: DEFAULT_RETRY,
});

export const hostInventoryCompensationActs = proxyLocalActivities<HostActivities>({
  startToCloseTimeout: '30s',
  retry: COMPENSATION_RETRY,
});
