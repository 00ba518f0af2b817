// Redfish BMC client: sessions with basic-auth fallback, bounded per-BMC concurrency, verified
// writes (power, virtual media, boot override) and vendor quirks kept in one table.
export { RedfishClient, RedfishHttpError } from './client.ts';
export { QUIRK_PROFILES, selectQuirkProfile, type QuirkProfile, type QuirkProfileName } from './quirks.ts';
export type { RedfishTlsOptions } from './transport.ts';
export type {
  BootOverrideEnabled,
  BootOverrideMode,
  BootOverrideRequest,
  BootOverrideState,
  BootOverrideTarget,
  PowerResult,
  RedfishClientOptions,
  RedfishInventory,
  RedfishPowerState,
  VirtualMediaSlot,
  WriteResult,
} from './types.ts';
