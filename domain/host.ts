// The host workflows' ids (derived from the host, so one runs per host at a time) and inputs
// (which carry no secrets). The ids stay here, next to the inputs, until the workflow contracts
// module becomes their single home.

export const hostInspectWorkflowId = (hostId: string) => `host-inspect/${hostId}`;
export const hostPowerWorkflowId = (hostId: string) => `host-power/${hostId}`;
export const hostDeprovisionWorkflowId = (hostId: string) => `deprovision-host/${hostId}`;
export const hostReleaseWorkflowId = (hostId: string) => `host-release/${hostId}`;
// provisionHost runs under provisionWorkflowId(machineId) (domain/machine.ts): the metadata
// service's phone-home signals that id, for VMs and hosts alike.

export interface ProvisionHostInput {
  hostId: string;
  hostName: string;
  machineId: string;
  machineName: string;
  imageUrl: string;
  bootMode?: 'UEFI' | 'Legacy';
  /** Wait for the phone-home signal after power-on, up to this duration; absent: no wait. */
  phoneHomeTimeout?: string;
  networkId?: string;
  mac?: string;
}

export interface DeprovisionHostInput {
  hostId: string;
  /** The machine the host carries (deleted at the end), if any. */
  machineId: string | null;
  shutdownTimeoutSec: number;
  wipeImageUrl?: string;
  wipeTimeout?: string;
}

export type HostPowerAction = 'power-on' | 'power-off' | 'reboot';

export interface HostPowerInput {
  hostId: string;
  action: HostPowerAction;
  shutdownTimeoutSec: number;
}

export interface ForceReleaseInput {
  hostId: string;
  reason: string;
}
