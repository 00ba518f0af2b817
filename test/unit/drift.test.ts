// Drift comparison and the completeness guard: a partial scan never says `missing`, `missing`
// needs two consecutive complete scans, gone differences resolve, and remediation never touches
// what Hangar did not create.
import { describe, expect, it } from '@jest/globals';
import {
  compareResources,
  effectivePolicy,
  evaluateScan,
  remediationFor,
  resourceKey,
  type DesiredResource,
  type Difference,
  type ObservedResource,
  type OpenFinding,
} from '../../domain/drift.ts';

const vm = (id: string) => ({ type: 'machine', id, name: `vm-${id}` });
const want = (id: string, extra: Partial<DesiredResource> = {}): DesiredResource => ({ ref: vm(id), power: 'running', config: { cores: 2 }, ...extra });
const seen = (id: string, extra: Partial<ObservedResource> = {}): ObservedResource => ({
  ref: vm(id),
  managed: true,
  power: 'running',
  config: { cores: 2 },
  ...extra,
});
const judgedOf = (observed: ObservedResource[]) => new Set(observed.map((o) => resourceKey(o.ref)));
const kinds = (diffs: readonly Difference[]) => diffs.map((d) => `${d.ref.id}:${d.kind}`).sort();

function scan(desired: DesiredResource[], observed: ObservedResource[], complete: boolean, open: OpenFinding[] = [], absentOnce: string[] = []) {
  return evaluateScan({ differences: compareResources(desired, observed), complete, judged: judgedOf(observed), open, absentOnce });
}

describe('compareResources', () => {
  it('finds nothing when the listing matches the database', () => {
    expect(compareResources([want('a'), want('b')], [seen('a'), seen('b')])).toEqual([]);
  });

  it('reports power and config differences with desired and observed values', () => {
    const diffs = compareResources([want('a'), want('b')], [seen('a', { power: 'stopped' }), seen('b', { config: { cores: 4 } })]);
    expect(kinds(diffs)).toEqual(['a:power_mismatch', 'b:config_mismatch']);
    expect(diffs.find((d) => d.kind === 'config_mismatch')).toMatchObject({ desired: { cores: 2 }, observed: { cores: 4 } });
    expect(diffs.find((d) => d.kind === 'power_mismatch')).toMatchObject({ desired: { power: 'running' }, observed: { power: 'stopped' } });
  });

  it('compares only config keys both sides report', () => {
    expect(compareResources([want('a', { config: { cores: 2, nic: 'vmbr0' } })], [seen('a', { config: { cores: 2 } })])).toEqual([]);
  });

  it('tells unmanaged (no marker) from orphan (Hangar marker, no record)', () => {
    const diffs = compareResources([], [seen('x', { managed: false }), seen('y', { managed: true })]);
    expect(kinds(diffs)).toEqual(['x:unmanaged', 'y:orphan']);
    expect(diffs.find((d) => d.kind === 'unmanaged')?.createdByHangar).toBe(false);
  });

  it('reports an unreachable resource as unreachable, not as a power difference', () => {
    expect(kinds(compareResources([want('a')], [seen('a', { reachable: false, power: 'stopped' })]))).toEqual(['a:unreachable']);
  });
});

describe('evaluateScan: the completeness guard', () => {
  it('never produces missing from a partial scan, and keeps the absent-once set untouched', () => {
    const first = scan([want('a'), want('b')], [seen('a')], false, [], ['machine/b']);
    expect(first.open).toEqual([]);
    expect(first.absentOnce).toEqual(['machine/b']);
  });

  it('needs absence in two consecutive complete scans before missing', () => {
    const first = scan([want('a'), want('b')], [seen('a')], true);
    expect(first.open).toEqual([]);
    expect(first.absentOnce).toEqual(['machine/b']);
    const second = scan([want('a'), want('b')], [seen('a')], true, [], first.absentOnce);
    expect(kinds(second.open)).toEqual(['b:missing']);
    expect(second.absentOnce).toEqual([]);
  });

  it('forgets a first absence when the resource comes back', () => {
    const first = scan([want('b')], [], true);
    const back = scan([want('b')], [seen('b')], true, [], first.absentOnce);
    expect(back.absentOnce).toEqual([]);
    const gone = scan([want('b')], [], true, [], back.absentOnce);
    expect(gone.open).toEqual([]);
  });

  it('a partial scan between two complete scans neither starts nor resets the count', () => {
    const first = scan([want('b')], [], true);
    const partial = scan([want('b')], [], false, [], first.absentOnce);
    const second = scan([want('b')], [], true, [], partial.absentOnce);
    expect(kinds(second.open)).toEqual(['b:missing']);
  });

  it('opens a finding once: an open finding is not opened again', () => {
    const open: OpenFinding[] = [{ ref: vm('a'), kind: 'power_mismatch' }];
    const again = scan([want('a')], [seen('a', { power: 'stopped' })], true, open);
    expect(again).toEqual({ open: [], resolve: [], absentOnce: [] });
  });

  it('resolves a finding whose difference is gone', () => {
    const open: OpenFinding[] = [
      { ref: vm('a'), kind: 'power_mismatch' },
      { ref: vm('b'), kind: 'missing' },
    ];
    const out = scan([want('a'), want('b')], [seen('a'), seen('b')], true, open);
    expect(out.resolve).toEqual(open);
  });

  it('from a partial scan resolves only findings of resources it listed', () => {
    const open: OpenFinding[] = [
      { ref: vm('a'), kind: 'power_mismatch' },
      { ref: vm('b'), kind: 'missing' },
      { ref: vm('c'), kind: 'unmanaged' },
    ];
    const out = scan([want('a'), want('b')], [seen('a')], false, open);
    expect(out.resolve).toEqual([{ ref: vm('a'), kind: 'power_mismatch' }]);
  });

  it('keeps a missing finding open while the resource stays absent', () => {
    const open: OpenFinding[] = [{ ref: vm('b'), kind: 'missing' }];
    expect(scan([want('b')], [], true, open)).toEqual({ open: [], resolve: [], absentOnce: [] });
    expect(scan([want('b')], [], false, open)).toEqual({ open: [], resolve: [], absentOnce: [] });
  });
});

describe('policies', () => {
  it('defaults to observe and lets a resource override its provider', () => {
    expect(effectivePolicy(undefined, undefined)).toBe('observe');
    expect(effectivePolicy('remediate', null)).toBe('remediate');
    expect(effectivePolicy('remediate', 'observe')).toBe('observe');
    expect(effectivePolicy('observe', 'remediate')).toBe('remediate');
  });

  it('does nothing under observe', () => {
    expect(remediationFor({ kind: 'power_mismatch', ref: vm('a'), createdByHangar: true }, 'observe')).toBe('none');
    expect(remediationFor({ kind: 'orphan', ref: { type: 'lease', id: 'l', name: '10.0.0.5' }, createdByHangar: true }, 'observe')).toBe('none');
  });

  it('under remediate releases a leaked lease, starts a stopped VM, deletes a Hangar orphan', () => {
    expect(remediationFor({ kind: 'orphan', ref: { type: 'lease', id: 'l', name: '10.0.0.5' }, createdByHangar: true }, 'remediate')).toBe('release_lease');
    expect(remediationFor({ kind: 'power_mismatch', ref: vm('a'), createdByHangar: true }, 'remediate')).toBe('start_vm');
    expect(remediationFor({ kind: 'orphan', ref: { type: 'proxmox_iso', id: 'i', name: 'x.iso' }, createdByHangar: true }, 'remediate')).toBe('delete_orphan');
  });

  it('never deletes or changes what Hangar did not create, whatever the policy', () => {
    for (const kind of ['unmanaged', 'orphan', 'power_mismatch'] as const)
      expect(remediationFor({ kind, ref: { type: 'proxmox_vm', id: '105', name: 'hand-made' }, createdByHangar: false }, 'remediate')).toBe('none');
  });
});
