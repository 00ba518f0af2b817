// The observers' settings (schedules, intervals, policies), one part of the settings table in
// domain/settings.ts, kept apart because every observer adds its own pair.
import { z } from 'zod';
import { bool } from './setting-schemas.ts';
import type { SettingDef } from './settings.ts';

/** A hypervisor observer's interval and policy (one schedule per target of the provider). */
function hypervisorObserver(provider: 'qemu' | 'proxmox' | 'dryrun', label: string, intervalSec: number): SettingDef[] {
  const env = `HANGAR_DRIFT_${provider.toUpperCase()}`;
  return [
    {
      key: `drift.${provider}IntervalSec`,
      env: `${env}_INTERVAL_SEC`,
      schema: z.coerce.number().int().min(10).max(86_400),
      default: intervalSec,
      description: `Seconds between the ${label} observer's scans of each target (enabled providers only).`,
    },
    {
      key: `drift.${provider}Policy`,
      env: `${env}_POLICY`,
      schema: z.enum(['observe', 'remediate']),
      default: 'observe',
      description: `observe: record ${label} drift only; remediate: also start VMs that should run and delete Hangar-made leftovers (a machine's drift_policy overrides it; unmanaged VMs are never touched).`,
    },
  ];
}

export const DRIFT_SETTINGS: SettingDef[] = [
  {
    key: 'drift.schedules',
    env: 'HANGAR_DRIFT_SCHEDULES',
    schema: bool,
    default: true,
    description: "Whether the worker creates or updates the observers' Temporal Schedules at start-up.",
  },
  {
    key: 'drift.inventoryIntervalSec',
    env: 'HANGAR_DRIFT_INVENTORY_INTERVAL_SEC',
    schema: z.coerce.number().int().min(10).max(86_400),
    default: 60,
    description: "Seconds between the inventory observer's scans (its schedule's interval; catch-up window one interval, jitter a tenth).",
  },
  {
    key: 'drift.inventoryPolicy',
    env: 'HANGAR_DRIFT_INVENTORY_POLICY',
    schema: z.enum(['observe', 'remediate']),
    default: 'observe',
    description: 'observe: record inventory drift only; remediate: also release leases leaked by failed or deleted machines.',
  },
  ...hypervisorObserver('qemu', 'QEMU', 30),
  ...hypervisorObserver('proxmox', 'Proxmox', 60),
  ...hypervisorObserver('dryrun', 'dry-run', 60),
  {
    key: 'drift.redfishIntervalSec',
    env: 'HANGAR_DRIFT_REDFISH_INTERVAL_SEC',
    schema: z.coerce.number().int().min(1).max(86_400),
    default: 30,
    description: "Seconds between the Redfish observer's scans of each BMC group (power state and virtual media of every host).",
  },
  {
    key: 'drift.redfishPolicy',
    env: 'HANGAR_DRIFT_REDFISH_POLICY',
    schema: z.enum(['observe', 'remediate']),
    default: 'observe',
    description: "observe: report hosts' drift only; remediate: also power on a provisioned host found off (a host's drift_policy overrides it).",
  },
  {
    key: 'drift.redfishGroups',
    env: 'HANGAR_DRIFT_REDFISH_GROUPS',
    schema: z.string().regex(/^[a-z0-9-]*(,[a-z0-9-]+)*$/, 'must be a comma-separated list of lowercase names'),
    default: '',
    description:
      'BMC groups that get their own Redfish schedule: a host tagged bmc-group:<name> is scanned by that group; every other host by the group "default".',
  },
  {
    key: 'drift.redfishConcurrency',
    env: 'HANGAR_DRIFT_REDFISH_CONCURRENCY',
    schema: z.coerce.number().int().min(1).max(256),
    default: 8,
    description: 'BMCs one Redfish scan reads at once (each BMC still gets at most redfish.maxConcurrencyPerBmc requests).',
  },
];
