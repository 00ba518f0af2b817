// The Redfish observer's rules: which BMC group a host belongs to, which hosts a scan judges, and
// what one host's BMC reading means against the host's state. Pure; the activity reads the BMCs.
//
//   provisioned host, power Off         → power_mismatch (desired running, observed stopped)
//   available host, virtual media in    → config_mismatch (desired ejected, observed inserted)
//   BMC did not answer                  → unreachable (a condition on the host, never a state change)
//
// A host whose BMC did not answer is left unjudged: its other findings neither open nor resolve
// from that scan (docs/decisions/0021-bmc-unreachable-is-a-condition.md).
import type { Difference, DriftPolicy } from './drift.ts';
import type { HostState } from './host-state.ts';

/** The tag that puts a host in a BMC group: `bmc-group:rack-12`. */
export const BMC_GROUP_TAG = 'bmc-group:';
export const DEFAULT_BMC_GROUP = 'default';

/** The configured groups (`drift.redfishGroups`), always with `default` first, each once. */
export function bmcGroups(setting: string): string[] {
  const named = setting
    .split(',')
    .map((g) => g.trim())
    .filter((g) => g && g !== DEFAULT_BMC_GROUP);
  return [DEFAULT_BMC_GROUP, ...new Set(named)];
}

/** A host's group: the first `bmc-group:` tag naming a configured group, else `default` (so every host has exactly one). */
export function bmcGroupOf(tags: readonly string[], groups: readonly string[]): string {
  for (const tag of tags) {
    if (!tag.startsWith(BMC_GROUP_TAG)) continue;
    const group = tag.slice(BMC_GROUP_TAG.length);
    if (group !== DEFAULT_BMC_GROUP && groups.includes(group)) return group;
  }
  return DEFAULT_BMC_GROUP;
}

/** The observer target (schedule, workflow id and findings) of one BMC group. */
export const redfishTarget = (group: string): string => `redfish:${group}`;

/**
 * Hosts a scan reads. Hosts a workflow is driving (claimed, provisioning, deprovisioning) change
 * power on purpose, and a host in maintenance is a person's; neither is judged.
 */
export const OBSERVED_HOST_STATES: readonly HostState[] = ['available', 'provisioned', 'error'];

export interface HostRecord {
  id: string;
  name: string;
  state: HostState;
  driftPolicy?: DriftPolicy | null;
}

/** One BMC's answer, or why there was none. */
export type BmcReading =
  | { reachable: true; powerState: string; media: { inserted: boolean; imageName: string | null } | null }
  | { reachable: false; code: string; reason: string; message: string };

/** The differences one host's reading shows. */
export function hostDifferences(host: HostRecord, reading: BmcReading): Difference[] {
  const ref = { type: 'host', id: host.id, name: host.name };
  if (!reading.reachable) {
    return [
      {
        ref,
        kind: 'unreachable',
        desired: { reachable: true },
        observed: { reachable: false, code: reading.code, reason: reading.reason },
        createdByHangar: true,
      },
    ];
  }
  const out: Difference[] = [];
  // Only a settled Off counts: PoweringOff/PoweringOn are judged on the next scan.
  if (host.state === 'provisioned' && reading.powerState === 'Off') {
    out.push({ ref, kind: 'power_mismatch', desired: { power: 'running' }, observed: { power: 'stopped', bmc_power_state: 'Off' }, createdByHangar: true });
  }
  // Media a provisioning left behind would boot the next claimant's installer by surprise.
  if (host.state === 'available' && reading.media?.inserted) {
    out.push({
      ref,
      kind: 'config_mismatch',
      desired: { virtual_media: 'ejected' },
      observed: { virtual_media: 'inserted', image_name: reading.media.imageName },
      createdByHangar: true,
    });
  }
  return out;
}

/**
 * Only the last path segment of an inserted image is reported: a seed URL carries a metadata
 * token, and findings are shown to every reader.
 */
export function imageName(image: string | null): string | null {
  if (!image) return null;
  try {
    return new URL(image).pathname.split('/').filter(Boolean).pop() ?? null;
  } catch {
    return null;
  }
}
