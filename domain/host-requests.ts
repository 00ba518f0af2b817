// Request schemas of the host API (create, update, provision, deprovision, actions), shared by
// the API, the CLI and the OpenAPI document.
import { z } from 'zod';
import { DRIFT_POLICIES } from './drift.ts';
import { HangarError } from './errors.ts';
import { parseBmcAddress } from './bmc-address.ts';
import { safeDescription, safeJson, safeName, safeRef, safeText, VARCHAR } from './text.ts';

/** A host's (and a cluster's) name. */
export const hostName = safeName;
const tag = safeText(63, 1).regex(/^[A-Za-z0-9]([A-Za-z0-9._:=/-]*[A-Za-z0-9])?$/, 'a tag is letters, digits and . _ : = / -');
const mac = z.string().regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/, 'must be a MAC address aa:bb:cc:dd:ee:ff');
const fingerprint = z.string().regex(/^(sha256:)?([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$/, 'must be a SHA-256 certificate fingerprint');
const caPem = safeText(64 * 1024).regex(/-----BEGIN CERTIFICATE-----/, 'must be PEM certificate(s)');
const bmcAddress = safeText(2048).superRefine((v, ctx) => {
  try {
    parseBmcAddress(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});
/** Passwords are write-only; the schema message never repeats the value. */
const password = safeText(1024, 1);
const imageUrl = safeText(2048).regex(/^(https?|nfs|cifs|smb):\/\/[^\s]+$/i, 'must be a URL the BMC can fetch (http, https, nfs, cifs)');
const duration = z.string().regex(/^\d+(ms|s|m|h)$/, 'must be a duration like 90s, 15m or 1h');

/** Milliseconds of a duration like 500ms, 90s, 15m or 2h. */
export function durationMs(d: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(d);
  if (!m) throw new HangarError('validation_failed', `"${d}" is not a duration like 90s, 15m or 1h`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
}

/** A host's own drift policy; null follows drift.redfishPolicy. */
const driftPolicy = z.enum(DRIFT_POLICIES).meta({ description: "this host's drift policy (observe or remediate); null follows drift.redfishPolicy" });

export const createHostSchema = z.strictObject({
  name: hostName,
  bmc_address: bmcAddress,
  username: safeText(VARCHAR, 1),
  password,
  verify_tls: z.boolean().optional(),
  ca_pem: caPem.optional(),
  fingerprint: fingerprint.optional(),
  boot_mac: mac.optional(),
  tags: z.array(tag).max(32).optional(),
  description: safeDescription().optional(),
  drift_policy: driftPolicy.nullable().optional(),
});
export type CreateHostRequest = z.infer<typeof createHostSchema>;

export const updateHostSchema = z.strictObject({
  bmc_address: bmcAddress.optional(),
  username: safeText(VARCHAR, 1).optional(),
  password: password.optional(),
  verify_tls: z.boolean().optional(),
  ca_pem: caPem.nullable().optional(),
  fingerprint: fingerprint.nullable().optional(),
  boot_mac: mac.nullable().optional(),
  tags: z.array(tag).max(32).optional(),
  description: safeDescription().nullable().optional(),
  drift_policy: driftPolicy.nullable().optional(),
});
export type UpdateHostRequest = z.infer<typeof updateHostSchema>;

/** Which host to claim: by name (or id), by tags (all of them), or any available one. */
export const hostSelectorSchema = z.strictObject({
  host: safeRef.optional(),
  tags: z.array(tag).min(1).max(32).optional(),
});

export const provisionHostBaseSchema = z.strictObject({
  /** The machine's name (its hostname). */
  name: z
    .string()
    .min(1)
    .max(63)
    .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'must be a lowercase hostname label (a-z, 0-9, "-", not at either end)'),
  /** The installer or live image the BMC mounts; or name a redfish `template` instead. */
  image_url: imageUrl.optional(),
  /** A redfish template (name or id) whose image the BMC mounts. */
  template: safeRef.optional(),
  ...hostSelectorSchema.shape,
  boot_mode: z.enum(['UEFI', 'Legacy']).optional(),
  wait_for_phone_home: z.boolean().optional(),
  phone_home_timeout: duration.optional(),
  network_id: z.uuid().optional(),
  ssh_key_ids: z.array(z.uuid()).max(100).optional(),
  domain: z
    .string()
    .max(253)
    .regex(/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/, 'must be a lowercase DNS domain')
    .optional(),
  user_data_extras: safeJson(64 * 1024).optional(),
  /** With no host available, keep trying for up to this long (at most 10m) before the 409. */
  // The regex check does not stop zod from running this refinement: only measure a valid duration.
  claim_timeout: duration.refine((d) => !/^\d+(ms|s|m|h)$/.test(d) || durationMs(d) <= 600_000, 'must be at most 10m').optional(),
  // Informational: the hardware's size, recorded on the machine (1 when not given).
  cpu: z.number().int().min(1).max(4096).optional(),
  memory_mb: z
    .number()
    .int()
    .min(1)
    .max(64 * 1024 * 1024)
    .optional(),
  disk_gb: z
    .number()
    .int()
    .min(1)
    .max(1024 * 1024)
    .optional(),
});
export const provisionHostSchema = provisionHostBaseSchema
  .refine((v) => !(v.host && v.tags), { message: 'give either host or tags, not both', path: ['host'] })
  .refine((v) => (v.image_url === undefined) !== (v.template === undefined), {
    message: 'give either image_url or template (exactly one)',
    path: ['image_url'],
  });
export type ProvisionHostRequest = z.infer<typeof provisionHostSchema>;

export const deprovisionHostSchema = z.strictObject({
  /** Boot this image after power-off (a disk wiper that powers the host off when done). */
  wipe_image_url: imageUrl.optional(),
  wipe_timeout: duration.optional(),
});

export const HOST_ACTIONS = ['inspect', 'power-on', 'power-off', 'reboot', 'force-release', 'deprovision', 'maintenance-on', 'maintenance-off'] as const;
export type HostAction = (typeof HOST_ACTIONS)[number];
