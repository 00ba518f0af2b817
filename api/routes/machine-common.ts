// What the machine routers (machines, machine-actions, machine-disks) and the bare-metal
// provisioning share: loading a machine, its JSON views, the VM check, SSH key links and seed URLs.
import { z } from 'zod';
import type { EntityManager } from '@mikro-orm/postgresql';
import { HangarError } from '../../domain/errors.ts';
import type { HangarConfig } from '../../domain/config.ts';
import { Machine, type IMachine } from '../../db/entities/index.ts';
import { sqlFor } from '../../db/sql.ts';
import type { ApiDeps } from '../context.ts';
import { operationSummary as operationSummarySchema } from '../contract/schemas.ts';
import { machine as machineSchema } from '../contract/views.ts';
import { loadById } from './common.ts';

export function machineView(m: IMachine) {
  return {
    id: m.id,
    name: m.name,
    kind: m.kind,
    provider: m.provider,
    state: m.state,
    cpu: m.cpu,
    memory_mb: m.memoryMb,
    disk_gb: m.diskGb,
    provider_id: m.providerId ?? null,
    target_node: m.targetNode ?? null,
    template: m.template ?? null,
    vmid: m.vmid ?? null,
    clone_mode: m.cloneMode ?? null,
    cloud_init_mode: m.cloudInitMode ?? null,
    power_state: m.powerState ?? null,
    access: m.access ?? null,
    network_id: m.networkId ?? null,
    domain: m.domain ?? null,
    user_data_extras: m.userDataExtras ?? null,
    drift_policy: m.driftPolicy ?? null,
    conditions: m.conditions,
    last_error: m.lastError ?? null,
    phoned_home_at: m.phonedHomeAt ?? null,
    created_at: m.createdAt,
    updated_at: m.updatedAt,
  };
}

/** The short form a host shows of the machine it carries. */
export const machineBrief = (m: IMachine) => ({
  id: m.id,
  name: m.name,
  kind: m.kind,
  provider: m.provider,
  state: m.state,
  provider_id: m.providerId ?? null,
  last_error: m.lastError ?? null,
});

/** The answer of a machine-wide workflow start (deprovision, power). */
export const machineOperation = z.strictObject({ machine: machineSchema, operation: operationSummarySchema }).meta({ id: 'MachineOperation' });

export const loadMachine = (deps: ApiDeps, id: unknown): Promise<IMachine> => loadById(deps.orm.em.fork(), Machine, String(id), 'machine');

/** Provider operations need a VM: the machine must be ready (or failed with a VM left) and have a provider id. */
export function requireVm(machine: IMachine, what: string): string {
  if (machine.kind === 'baremetal') {
    throw new HangarError(
      'unprocessable',
      `machine ${machine.name} is bare metal: ${what} is done on its host (POST /api/v1/hosts/${machine.providerId}/actions/power-on|power-off|reboot)`,
      { kind: 'baremetal' },
    );
  }
  if (!machine.providerId || !['ready', 'failed'].includes(machine.state)) {
    throw new HangarError(
      'invalid_state',
      `machine ${machine.name} is ${machine.state}${machine.providerId ? '' : ' without a VM'}; ${what} needs a provisioned machine`,
    );
  }
  return machine.providerId;
}

/** Replaces the machine's SSH key links (unknown ids were refused before, by checkLinks). */
export async function setSshKeys(em: EntityManager, machineId: string, ids: string[]) {
  const sql = sqlFor(em);
  await sql(`delete from machine_ssh_keys where machine_id = ?`, [machineId]);
  if (ids.length) {
    await sql(`insert into machine_ssh_keys (machine_id, ssh_key_id) select ?, jsonb_array_elements_text(?::jsonb)::uuid on conflict do nothing`, [
      machineId,
      JSON.stringify([...new Set(ids)]),
    ]);
  }
}

/** The machine's NoCloud seed URL; it carries the metadata token, so only operators may see it. */
export const seedUrlOf = (config: HangarConfig, machineId: string, token: string): string =>
  `${config.api.publicUrl.replace(/\/+$/, '')}/cloud-init/${machineId}/${token}/`;
