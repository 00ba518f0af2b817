// Drift: what the database says should be (desired) against what a provider listing says is
// (observed). Pure functions shared by the observers' activities, the repository and the API:
//
//   compareResources(desired, observed)  → the differences one scan sees
//   evaluateScan(differences, …)         → which findings to open and resolve, with the guard
//
// The completeness guard (docs/decisions/0018-drift-completeness-guard.md): a scan that could not
// list everything never says anything is `missing`, and `missing` needs the resource absent in
// two consecutive complete scans, so one failed node or one flaky listing cannot mark live
// resources gone.

export const DRIFT_KINDS = ['missing', 'unmanaged', 'power_mismatch', 'config_mismatch', 'orphan', 'unreachable'] as const;
export type DriftKind = (typeof DRIFT_KINDS)[number];

export const DRIFT_STATES = ['open', 'resolved', 'ignored'] as const;
export type DriftState = (typeof DRIFT_STATES)[number];

/** `observe` records only; `remediate` brings reality back (never by deleting what Hangar did not create). */
export const DRIFT_POLICIES = ['observe', 'remediate'] as const;
export type DriftPolicy = (typeof DRIFT_POLICIES)[number];
export const DEFAULT_DRIFT_POLICY: DriftPolicy = 'observe';

/** What a finding is about: a machine, a host, a lease, or something a provider lists. */
export interface ResourceRef {
  type: string;
  id: string;
  name: string;
}

/** One finding's identity: at most one open finding per (resource, kind) exists. */
export const findingKey = (ref: Pick<ResourceRef, 'type' | 'id'>, kind: DriftKind): string => `${ref.type}/${ref.id}/${kind}`;
export const resourceKey = (ref: Pick<ResourceRef, 'type' | 'id'>): string => `${ref.type}/${ref.id}`;

export type PowerState = 'running' | 'stopped';

/** A resource the database says exists. `config` holds only what the provider can report back. */
export interface DesiredResource {
  ref: ResourceRef;
  power?: PowerState;
  config?: Record<string, string | number | boolean | null>;
}

/** A resource a provider listed. `managed` says it carries Hangar's marker (Hangar created it). */
export interface ObservedResource {
  ref: ResourceRef;
  managed: boolean;
  /** False when the resource answered nothing (a BMC that did not respond): a condition, not a state. */
  reachable?: boolean;
  power?: PowerState;
  config?: Record<string, string | number | boolean | null>;
}

/** One difference between desired and observed, before the guard decides what it means. */
export interface Difference {
  ref: ResourceRef;
  kind: DriftKind;
  desired: Record<string, unknown> | null;
  observed: Record<string, unknown> | null;
  /** Hangar created the resource (only then may remediation ever delete it). */
  createdByHangar: boolean;
}

/** Compares one listing with the database. Absence becomes a `missing` candidate; the guard decides. */
export function compareResources(desired: readonly DesiredResource[], observed: readonly ObservedResource[]): Difference[] {
  const seen = new Map(observed.map((o) => [resourceKey(o.ref), o]));
  const wanted = new Set(desired.map((d) => resourceKey(d.ref)));
  const out: Difference[] = [];
  for (const d of desired) {
    const o = seen.get(resourceKey(d.ref));
    if (!o) {
      out.push({ ref: d.ref, kind: 'missing', desired: { exists: true }, observed: { exists: false }, createdByHangar: true });
      continue;
    }
    if (o.reachable === false) {
      out.push({ ref: d.ref, kind: 'unreachable', desired: { reachable: true }, observed: { reachable: false }, createdByHangar: true });
      continue;
    }
    if (d.power && o.power && d.power !== o.power) {
      out.push({ ref: d.ref, kind: 'power_mismatch', desired: { power: d.power }, observed: { power: o.power }, createdByHangar: true });
    }
    const configDiff = differingConfig(d.config, o.config);
    if (configDiff) out.push({ ref: d.ref, kind: 'config_mismatch', ...configDiff, createdByHangar: true });
  }
  for (const o of observed) {
    if (wanted.has(resourceKey(o.ref))) continue;
    // Hangar's marker without a record: something Hangar made and lost track of.
    const kind: DriftKind = o.managed ? 'orphan' : 'unmanaged';
    out.push({ ref: o.ref, kind, desired: null, observed: observedValues(o), createdByHangar: o.managed });
  }
  return out;
}

/** Only keys both sides report are compared: a provider that cannot see a value is not drift. */
function differingConfig(desired: DesiredResource['config'], observed: ObservedResource['config']): Pick<Difference, 'desired' | 'observed'> | null {
  if (!desired || !observed) return null;
  const want: Record<string, unknown> = {};
  const have: Record<string, unknown> = {};
  for (const key of Object.keys(desired).sort()) {
    if (!(key in observed) || observed[key] === desired[key]) continue;
    want[key] = desired[key];
    have[key] = observed[key];
  }
  return Object.keys(want).length ? { desired: want, observed: have } : null;
}

function observedValues(o: ObservedResource): Record<string, unknown> {
  return { exists: true, ...(o.power ? { power: o.power } : {}), ...(o.config ?? {}) };
}

/** An open finding as the repository knows it. */
export interface OpenFinding {
  ref: Pick<ResourceRef, 'type' | 'id'>;
  kind: DriftKind;
}

export interface ScanInput {
  /** Every difference the scan saw (from compareResources, or an observer's own checks). */
  differences: readonly Difference[];
  /** False when any node, page or region failed to list, or the scan timed out. */
  complete: boolean;
  /** Resource keys the scan listed: from a partial scan only their findings may resolve (a missing listing proves nothing). */
  judged: ReadonlySet<string>;
  /** Unresolved (open or ignored) findings of this target: an ignored finding is not opened again. */
  open: readonly OpenFinding[];
  /** Resource keys a previous complete scan found absent (the first of the two scans `missing` needs). */
  absentOnce: readonly string[];
}

export interface ScanOutcome {
  /** Findings to open (the database ignores any already open). */
  open: Difference[];
  /** Open findings whose difference is gone. */
  resolve: OpenFinding[];
  /** The absent-once set to keep for the next complete scan (sorted, so unchanged compares equal). */
  absentOnce: string[];
}

/** Applies the completeness guard and says what changes; an unchanged scan yields empty lists and the same absentOnce. */
export function evaluateScan(input: ScanInput): ScanOutcome {
  const previouslyAbsent = new Set(input.absentOnce);
  // A resource already reported missing stays missing while absent: its count is done.
  for (const f of input.open) if (f.kind === 'missing') previouslyAbsent.add(resourceKey(f.ref));
  const current: Difference[] = [];
  const absentNow: string[] = [];
  for (const diff of input.differences) {
    if (diff.kind !== 'missing') {
      current.push(diff);
      continue;
    }
    // A partial scan proves no absence; it neither starts nor completes the two-scan count.
    if (!input.complete) continue;
    const key = resourceKey(diff.ref);
    if (previouslyAbsent.has(key)) current.push(diff);
    else absentNow.push(key);
  }
  const currentKeys = new Set(current.map((d) => findingKey(d.ref, d.kind)));
  const openKeys = new Set(input.open.map((f) => findingKey(f.ref, f.kind)));
  const open = current.filter((d) => !openKeys.has(findingKey(d.ref, d.kind)));
  // A complete scan judges everything; a partial one only what it listed.
  const resolve = input.open.filter((f) => !currentKeys.has(findingKey(f.ref, f.kind)) && (input.complete || input.judged.has(resourceKey(f.ref))));
  const absentOnce = input.complete ? [...absentNow].sort() : [...input.absentOnce].sort();
  return { open, resolve, absentOnce };
}

/** The policy that applies to one resource: its own override, else its provider's, else `observe`. */
export function effectivePolicy(providerPolicy: DriftPolicy | undefined, resourceOverride: DriftPolicy | null | undefined): DriftPolicy {
  return resourceOverride ?? providerPolicy ?? DEFAULT_DRIFT_POLICY;
}

/** What remediation does about one finding; `none` under `observe`, and for anything Hangar did not create. */
export type RemediationAction = 'none' | 'release_lease' | 'release_claim' | 'start_vm' | 'power_on_host' | 'delete_orphan';

export function remediationFor(diff: Pick<Difference, 'kind' | 'ref' | 'createdByHangar'>, policy: DriftPolicy): RemediationAction {
  if (policy !== 'remediate') return 'none';
  // Whatever the policy, Hangar never deletes or changes what it did not create.
  if (!diff.createdByHangar || diff.kind === 'unmanaged') return 'none';
  switch (diff.kind) {
    case 'orphan':
      if (diff.ref.type === 'lease') return 'release_lease';
      if (diff.ref.type === 'host') return 'release_claim';
      return 'delete_orphan';
    case 'power_mismatch':
      if (diff.ref.type === 'machine') return 'start_vm';
      if (diff.ref.type === 'host') return 'power_on_host';
      return 'none';
    default:
      return 'none';
  }
}
