// Clusters: named groups of machines with roles, and the control-plane endpoint and readiness
// derived from their members.
import { z } from 'zod';
import { safeDescription } from './text.ts';
import { condition, type ConditionUpdate } from './host-state.ts';
import { hostName } from './host-requests.ts';

export const CLUSTER_ROLES = ['control-plane', 'worker'] as const;
export type ClusterRole = (typeof CLUSTER_ROLES)[number];

const address = z
  .string()
  .max(253)
  .regex(/^([0-9.]+|[0-9a-fA-F:]+|[a-z0-9]([a-z0-9.-]*[a-z0-9])?)$/, 'must be an IP address or DNS name');
const clusterMember = z.strictObject({ machine_id: z.uuid(), role: z.enum(CLUSTER_ROLES) });

export const createClusterSchema = z.strictObject({
  name: hostName,
  control_plane_vip: address.optional(),
  control_plane_port: z.number().int().min(1).max(65535).optional(),
  machines: z.array(clusterMember).max(1000).optional(),
  description: safeDescription().optional(),
});
export const updateClusterSchema = z.strictObject({
  control_plane_vip: address.nullable().optional(),
  control_plane_port: z.number().int().min(1).max(65535).optional(),
  description: safeDescription().nullable().optional(),
});
export const clusterMemberSchema = clusterMember;

export interface ClusterMemberView {
  machine_id: string;
  name: string;
  role: ClusterRole;
  state: string;
  addresses: string[];
}

/**
 * The control-plane endpoint: the explicit VIP, else the first address of the first control-plane
 * machine (by name) that has one; `ready` when the endpoint is known and every control-plane
 * machine is ready.
 */
export function deriveControlPlane(
  vip: string | null,
  port: number,
  members: ClusterMemberView[],
): {
  endpoint: { host: string; port: number; url: string; source: 'vip' | 'machine'; machine_id?: string } | null;
  ready: ConditionUpdate;
} {
  const cps = members.filter((m) => m.role === 'control-plane').sort((a, b) => a.name.localeCompare(b.name));
  const hostPart = (h: string) => (h.includes(':') ? `[${h}]` : h);
  let endpoint: ReturnType<typeof deriveControlPlane>['endpoint'] = null;
  if (vip) endpoint = { host: vip, port, url: `https://${hostPart(vip)}:${port}`, source: 'vip' };
  else {
    const first = cps.find((m) => m.addresses.length > 0);
    if (first)
      endpoint = { host: first.addresses[0]!, port, url: `https://${hostPart(first.addresses[0]!)}:${port}`, source: 'machine', machine_id: first.machine_id };
  }
  let ready: ConditionUpdate;
  if (cps.length === 0) ready = condition('ready', 'False', 'NoControlPlane', 'the cluster has no control-plane machine');
  else if (!endpoint) ready = condition('ready', 'False', 'NoEndpoint', 'no control-plane machine has an address yet and no VIP is set');
  else {
    const notReady = cps.filter((m) => m.state !== 'ready');
    ready = notReady.length
      ? condition('ready', 'False', 'ControlPlaneNotReady', `control-plane machine(s) not ready: ${notReady.map((m) => `${m.name} (${m.state})`).join(', ')}`)
      : condition('ready', 'True', 'ControlPlaneReady', `${cps.length} control-plane machine(s) ready; endpoint ${endpoint.url}`);
  }
  return { endpoint, ready };
}
