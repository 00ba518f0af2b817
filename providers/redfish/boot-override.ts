// Boot override: the standard BootSourceOverride fields, set and cleared with a verified PATCH,
// and "boot from the virtual CD" the way the vendor needs it (the standard `Cd` target, or the
// Dell OEM attributes in oem/dell.ts, as the quirks profile says).
import { HangarError } from '../../domain/errors.ts';
import type { BmcConnection } from './connection.ts';
import { obj, strings, type Json } from './json.ts';
import * as dell from './oem/dell.ts';
import { bootStateOf, type SystemContext } from './system.ts';
import type { BootOverrideRequest, BootOverrideState, WriteResult } from './types.ts';
import { writeVerified } from './verified-write.ts';

/**
 * Sets the boot source override (default Enabled=Once), PATCHing with If-Match when the BMC gives
 * ETags, then reads it back; a write that did not stick is re-applied (3 writes in all) before
 * failing with bmc_write_not_persisted naming what the BMC reports.
 */
export async function setBootOverride(conn: BmcConnection, ctx: SystemContext, req: BootOverrideRequest): Promise<WriteResult> {
  const sys = await conn.get(ctx.systemPath);
  const state = bootStateOf(sys.body);
  const enabled = req.enabled ?? 'Once';
  const boot = obj(sys.body.Boot);
  if (state.allowableTargets && !state.allowableTargets.includes(req.target) && req.target !== 'None') {
    throw new HangarError('provider_rejected', `boot target ${req.target} is not allowed by this BMC (allowable: ${state.allowableTargets.join(', ')})`, {
      target: req.target,
    });
  }
  const enabledAllowed = strings(boot['BootSourceOverrideEnabled@Redfish.AllowableValues']);
  if (enabledAllowed && !enabledAllowed.includes(enabled)) {
    throw new HangarError('provider_rejected', `BootSourceOverrideEnabled=${enabled} is not allowed by this BMC (allowable: ${enabledAllowed.join(', ')})`, {
      enabled,
    });
  }
  if (req.mode && state.allowableModes && !state.allowableModes.includes(req.mode)) {
    throw new HangarError('provider_rejected', `boot mode ${req.mode} is not allowed by this BMC (allowable: ${state.allowableModes.join(', ')})`, {
      mode: req.mode,
    });
  }
  const want: Json = { BootSourceOverrideEnabled: enabled, BootSourceOverrideTarget: req.target };
  if (req.mode) want.BootSourceOverrideMode = req.mode;
  if (req.uefiTargetPath) want.UefiTargetBootSourceOverride = req.uefiTargetPath;
  if (req.httpBootUri) want.HttpBootUri = req.httpBootUri;
  const checkEnabled = ctx.profile.bootOverride.enabledReadBack === 'reliable';
  const matches = (b: BootOverrideState) =>
    (!checkEnabled || b.enabled === enabled) &&
    b.target === req.target &&
    (!req.mode || b.mode === req.mode) &&
    (!req.uefiTargetPath || b.uefiTarget === req.uefiTargetPath);
  if (matches(state)) return { changed: false, writes: 0 };
  const result = await writeVerified(conn, {
    what: 'boot override',
    write: async () => {
      await conn.patch(ctx.systemPath, { Boot: want }, ctx.profile.ifMatchOnPatch);
    },
    read: async () => bootStateOf((await conn.get(ctx.systemPath)).body),
    matches,
    describe: (b) =>
      `BootSourceOverrideEnabled=${b.enabled ?? 'unset'}, BootSourceOverrideTarget=${b.target ?? 'unset'}, BootSourceOverrideMode=${b.mode ?? 'unset'}` +
      `; wanted ${Object.entries(want)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(', ')}`,
    fields: (b) => ({ BootSourceOverrideEnabled: b.enabled ?? '', BootSourceOverrideTarget: b.target ?? '', BootSourceOverrideMode: b.mode ?? '' }),
  });
  conn.log.info({ ...want, writes: result.writes }, 'boot override set and verified');
  return result;
}

/** Clears the boot override (Enabled=Disabled; the profile may also reset the target to None), verified. */
export async function clearBootOverride(conn: BmcConnection, ctx: SystemContext): Promise<WriteResult> {
  const sys = await conn.get(ctx.systemPath);
  const reliable = ctx.profile.bootOverride.enabledReadBack === 'reliable';
  const cleared = (b: BootOverrideState) => (reliable && b.enabled === 'Disabled') || b.target === 'None' || (!reliable && b.target === null);
  let total = 0;
  const how = ctx.profile.virtualCdBoot;
  if (how.kind === 'dell-scp') total += (await dell.clearVirtualCdBoot(conn, ctx, how)).writes;
  if (cleared(bootStateOf(sys.body))) return { changed: total > 0, writes: total };
  const want: Json = { BootSourceOverrideEnabled: 'Disabled' };
  if (ctx.profile.bootOverride.clearWithTargetNone) want.BootSourceOverrideTarget = 'None';
  const result = await writeVerified(conn, {
    what: 'boot override clear',
    write: async () => {
      await conn.patch(ctx.systemPath, { Boot: want }, ctx.profile.ifMatchOnPatch);
    },
    read: async () => bootStateOf((await conn.get(ctx.systemPath)).body),
    matches: cleared,
    describe: (b) => `BootSourceOverrideEnabled=${b.enabled ?? 'unset'}, BootSourceOverrideTarget=${b.target ?? 'unset'}; wanted it disabled`,
    fields: (b) => ({ BootSourceOverrideEnabled: b.enabled ?? '', BootSourceOverrideTarget: b.target ?? '' }),
  });
  return { changed: true, writes: total + result.writes };
}

/**
 * Makes the next boot (or every boot) come from the virtual CD, the way this BMC needs it: the
 * standard `Cd` override, or (Dell iDRAC) the OEM `ServerBoot.1#FirstBootDevice=VCD-DVD` attributes.
 */
export function bootFromVirtualMedia(
  conn: BmcConnection,
  ctx: SystemContext,
  opts: { enabled?: 'Once' | 'Continuous'; mode?: 'UEFI' | 'Legacy' },
): Promise<WriteResult> {
  const how = ctx.profile.virtualCdBoot;
  if (how.kind === 'standard') {
    return setBootOverride(conn, ctx, { target: how.target, enabled: opts.enabled ?? 'Once', ...(opts.mode ? { mode: opts.mode } : {}) });
  }
  if (opts.mode) conn.log.warn({ mode: opts.mode }, 'Dell virtual CD boot keeps the BIOS boot mode; the requested mode is not applied');
  return dell.bootFromVirtualCd(conn, ctx, how, (opts.enabled ?? 'Once') === 'Once');
}
