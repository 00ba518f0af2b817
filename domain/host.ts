// The host workflows' inputs (which carry no secrets). Their ids are in workflows/contracts.ts.

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
