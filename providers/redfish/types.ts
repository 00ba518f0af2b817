// Public shapes of the Redfish client: options, the inspect() summary and operation results.
import type { Logger } from 'pino';
import type { ProviderHooks } from '../hypervisor.ts';
import type { QuirkProfileName, VirtualMediaLocation } from './quirks.ts';
import type { RedfishTlsOptions } from './transport.ts';

export interface RedfishClientOptions {
  /** `https://host[:port]` of the BMC (`http://` only for test fixtures; it is logged as insecure). */
  endpoint: string;
  /** `/redfish/v1/Systems/<id>`; absent: discovered from the Systems collection, which must have exactly one member. */
  systemPath?: string;
  username: string;
  password: string;
  tls?: RedfishTlsOptions;
  /** Requests in flight to this BMC at once, shared by all clients of the endpoint (default 2). */
  maxConcurrency?: number;
  hooks?: ProviderHooks;
  logger?: Logger;
  /** Sleep implementation; defaults to hooks.sleep, then a timer. Must reject when `signal` aborts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Cancels every request, task poll and wait of this client (the activity's cancellation). */
  signal?: AbortSignal;
  /** Backoff for retried reads, session creation and re-writes (default 500 ms → 10 s, 4 attempts for reads). */
  retry?: { initialMs?: number; maxMs?: number; attempts?: number };
  /** Power-state / read-back polling interval (default 2 s). */
  pollIntervalMs?: number;
  /** Per-request timeout (default 30 s). */
  requestTimeoutMs?: number;
  /** Give up on a task monitor after this long (default 600 s). */
  taskTimeoutSec?: number;
  /** Force a quirks profile instead of detecting it. */
  quirks?: QuirkProfileName;
}

export type RedfishPowerState = 'On' | 'Off' | 'PoweringOn' | 'PoweringOff' | 'Paused' | 'Unknown';

export type BootOverrideEnabled = 'Once' | 'Continuous' | 'Disabled';
export type BootOverrideTarget =
  | 'None'
  | 'Pxe'
  | 'Cd'
  | 'Hdd'
  | 'Usb'
  | 'BiosSetup'
  | 'UefiHttp'
  | 'UefiTarget'
  | 'UefiShell'
  | 'Floppy'
  | 'RemoteDrive'
  | (string & {});
export type BootOverrideMode = 'UEFI' | 'Legacy';

export interface BootOverrideState {
  enabled: string | null;
  target: string | null;
  mode: string | null;
  uefiTarget: string | null;
  allowableTargets: string[] | null;
  allowableModes: string[] | null;
}

export interface BootOverrideRequest {
  target: BootOverrideTarget;
  /** Default `Once`. */
  enabled?: Exclude<BootOverrideEnabled, 'Disabled'>;
  mode?: BootOverrideMode;
  /** `UefiTargetBootSourceOverride` (UEFI device path) for target `UefiTarget`. */
  uefiTargetPath?: string;
  /** `HttpBootUri` for target `UefiHttp`, when the BMC supports it. */
  httpBootUri?: string;
}

export interface VirtualMediaSlot {
  path: string;
  id: string;
  name: string | null;
  /** Where the link to the slot was found. */
  location: VirtualMediaLocation;
  mediaTypes: string[];
  cdCapable: boolean;
  insertAction: boolean;
  ejectAction: boolean;
  inserted: boolean;
  image: string | null;
  writeProtected: boolean | null;
  connectedVia: string | null;
}

export interface RedfishInventory {
  endpoint: string;
  service: {
    vendor: string | null;
    product: string | null;
    name: string | null;
    redfishVersion: string | null;
    uuid: string | null;
    oemKeys: string[];
    sessionService: boolean;
  };
  system: {
    path: string;
    id: string;
    name: string | null;
    uuid: string | null;
    manufacturer: string | null;
    model: string | null;
    serialNumber: string | null;
    powerState: RedfishPowerState;
    boot: BootOverrideState;
    resetTypes: string[] | null;
  };
  managers: Array<{ path: string; id: string; model: string | null; firmwareVersion: string | null; virtualMedia: string | null }>;
  virtualMedia: VirtualMediaSlot[];
  /** A CD/DVD slot exists and can be inserted (action, or PATCH where the profile allows it). */
  virtualMediaSupported: boolean;
  quirks: { profile: QuirkProfileName; description: string; notes: string[] };
  auth: 'session' | 'basic' | 'unknown';
}

export interface PowerResult {
  /** False when the system was already in the wanted state. */
  changed: boolean;
  /** ResetTypes posted, in order. */
  resetTypes: string[];
  powerState: RedfishPowerState;
}

export interface WriteResult {
  changed: boolean;
  /** Writes it took (0 when nothing had to change). */
  writes: number;
}
