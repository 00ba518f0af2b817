// What the host routers (hosts, host-actions, host-provisioning) share: the host's JSON view, the
// HostOperation answer and starting an inspection.
import { z } from 'zod';
import { hostInspectWorkflowId } from '../../workflows/contracts.ts';
import type { IHost } from '../../db/entities/index.ts';
import type { ApiDeps } from '../context.ts';
import { startOperation } from '../operations.ts';
import { operationSummary as operationSummarySchema } from '../contract/schemas.ts';
import { host as hostSchema } from '../contract/views.ts';

export function hostView(h: IHost) {
  return {
    id: h.id,
    name: h.name,
    description: h.description ?? null,
    bmc_address: h.bmcAddress,
    username: h.username,
    verify_tls: h.verifyTls,
    ca_pem: h.caPem ?? null,
    fingerprint: h.fingerprint ?? null,
    boot_mac: h.bootMac ?? null,
    tags: h.tags,
    state: h.state,
    claimed_by: h.claimedBy ?? null,
    claimed_at: h.claimedAt ?? null,
    vendor: h.vendor ?? null,
    model: h.model ?? null,
    serial_number: h.serialNumber ?? null,
    power_state: h.powerState ?? null,
    boot_modes: h.bootModes ?? null,
    virtual_media_supported: h.virtualMediaSupported ?? null,
    inspected_at: h.inspectedAt ?? null,
    conditions: h.conditions,
    last_error: h.lastError ?? null,
    drift_policy: h.driftPolicy ?? null,
    created_at: h.createdAt,
    updated_at: h.updatedAt,
  };
}

/** The answer of registering a host or acting on it; operation null when no workflow runs. */
export const hostOperation = z.strictObject({ host: hostSchema, operation: operationSummarySchema.nullable() }).meta({ id: 'HostOperation' });

export async function startInspection(deps: ApiDeps, host: IHost, requestedBy: string) {
  return startOperation(deps.orm.em.fork(), deps.temporal, deps.config, {
    kind: 'inspect-host',
    workflow: 'inspectHost',
    workflowId: hostInspectWorkflowId(host.id),
    args: [{ hostId: host.id }],
    resourceType: 'host',
    resourceId: host.id,
    requestedBy,
  });
}
