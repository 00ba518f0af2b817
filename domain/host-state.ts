// The bare-metal host's state machine and its status conditions, shared by the API, the
// repositories, activities and (as types only) the workflows.
//
//   available → claimed → provisioning → provisioned → deprovisioning → available
//   any busy state → error;  available/error ⇄ maintenance;  force-release: anything held → available
//
// Every change of state goes through `transition()`: the table below is the only place that says
// which changes are legal, and each one says which conditions it sets, so a user can always see why
// a host is where it is. The database applies a transition with a conditional UPDATE (see
// db/repositories/hosts.ts), so two writers can never both move a host out of the same state.
import { HangarError } from './errors.ts';

export const HOST_STATES = ['available', 'claimed', 'provisioning', 'provisioned', 'deprovisioning', 'error', 'maintenance'] as const;
export type HostState = (typeof HOST_STATES)[number];

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface HostCondition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime: string;
}

/** A condition to set: lastTransitionTime changes only when the status does. */
export type ConditionUpdate = Omit<HostCondition, 'lastTransitionTime'>;

export const CONDITION_TYPES = ['bmc_reachable', 'claimed', 'provisioned', 'healthy', 'maintenance'] as const;

interface TransitionDef {
  from: readonly HostState[];
  to: HostState;
  /** Conditions set by the transition; `message` is the caller's explanation. */
  conditions: (message: string) => ConditionUpdate[];
}

/** A condition update; also used for the cluster's ready condition. */
export const condition = (type: string, status: ConditionStatus, reason: string, message: string): ConditionUpdate => ({ type, status, reason, message });
const HELD: readonly HostState[] = ['claimed', 'provisioning', 'provisioned', 'deprovisioning', 'error', 'maintenance'];

export const HOST_TRANSITIONS = {
  claim: {
    from: ['available'],
    to: 'claimed',
    conditions: (m) => [condition('claimed', 'True', 'Claimed', m)],
  },
  'start-provisioning': {
    from: ['claimed'],
    to: 'provisioning',
    conditions: (m) => [condition('provisioned', 'False', 'Provisioning', m)],
  },
  'finish-provisioning': {
    from: ['provisioning'],
    to: 'provisioned',
    conditions: (m) => [condition('provisioned', 'True', 'Provisioned', m), condition('healthy', 'True', 'Provisioned', m)],
  },
  /** A provision that failed or was cancelled, after its compensation put the hardware back. */
  release: {
    from: ['claimed', 'provisioning'],
    to: 'available',
    conditions: (m) => [condition('claimed', 'False', 'Released', m), condition('provisioned', 'False', 'ProvisioningFailed', m)],
  },
  'start-deprovisioning': {
    from: ['provisioned', 'error'],
    to: 'deprovisioning',
    conditions: (m) => [condition('provisioned', 'False', 'Deprovisioning', m)],
  },
  'finish-deprovisioning': {
    from: ['deprovisioning'],
    to: 'available',
    conditions: (m) => [
      condition('claimed', 'False', 'Deprovisioned', m),
      condition('provisioned', 'False', 'Deprovisioned', m),
      condition('healthy', 'True', 'Deprovisioned', m),
    ],
  },
  /** Something went wrong that Hangar could not undo: a person has to look (then deprovision or force-release). */
  fail: {
    from: ['claimed', 'provisioning', 'provisioned', 'deprovisioning'],
    to: 'error',
    conditions: (m) => [condition('healthy', 'False', 'Error', m)],
  },
  /** Admin action: out of any held state, whatever ran before (its workflows are cancelled first). */
  'force-release': {
    from: HELD.filter((s) => s !== 'maintenance'),
    to: 'available',
    conditions: (m) => [
      condition('claimed', 'False', 'ForceReleased', m),
      condition('provisioned', 'False', 'ForceReleased', m),
      condition('healthy', 'True', 'ForceReleased', m),
    ],
  },
  'enter-maintenance': {
    from: ['available', 'error'],
    to: 'maintenance',
    conditions: (m) => [condition('maintenance', 'True', 'MaintenanceRequested', m)],
  },
  'exit-maintenance': {
    from: ['maintenance'],
    to: 'available',
    conditions: (m) => [condition('maintenance', 'False', 'MaintenanceEnded', m), condition('healthy', 'True', 'MaintenanceEnded', m)],
  },
} as const satisfies Record<string, TransitionDef>;

export type HostEvent = keyof typeof HOST_TRANSITIONS;

/** The state after `event`, or 409 invalid_state naming the current state and what would be needed. */
export function transition(current: HostState, event: HostEvent, hostName = 'host'): HostState {
  const def: TransitionDef = HOST_TRANSITIONS[event];
  if (!def.from.includes(current)) {
    throw new HangarError('invalid_state', `${hostName} is ${current}; "${event}" needs it to be ${def.from.join(' or ')}`, { state: current });
  }
  return def.to;
}

export function canTransition(current: HostState, event: HostEvent): boolean {
  return (HOST_TRANSITIONS[event] as TransitionDef).from.includes(current);
}

/** The states `event` may start from (for conditional UPDATEs). */
export function transitionSources(event: HostEvent): HostState[] {
  return [...(HOST_TRANSITIONS[event] as TransitionDef).from];
}

export function transitionConditions(event: HostEvent, message: string): ConditionUpdate[] {
  return (HOST_TRANSITIONS[event] as TransitionDef).conditions(message);
}

/** Merges updates into a condition list: one entry per type, lastTransitionTime kept while the status holds. */
export function mergeConditions(existing: HostCondition[], updates: ConditionUpdate[], now: Date = new Date()): HostCondition[] {
  const out = existing.map((c) => ({ ...c }));
  for (const u of updates) {
    const at = out.findIndex((c) => c.type === u.type);
    const prev = at >= 0 ? out[at] : undefined;
    const next: HostCondition = {
      ...u,
      lastTransitionTime: prev && prev.status === u.status ? prev.lastTransitionTime : now.toISOString(),
    };
    if (at >= 0) out[at] = next;
    else out.push(next);
  }
  return out.sort((a, b) => a.type.localeCompare(b.type));
}
