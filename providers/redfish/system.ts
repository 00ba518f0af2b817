// The ComputerSystem behind a BMC: discovery (its path and the vendor's quirks profile), its
// managers, virtual media slots and allowable reset types, and the pure readers that turn
// Redfish resources into Hangar's shapes (power state, boot override, slots).
import { HangarError } from '../../domain/errors.ts';
import type { BmcConnection, Resource } from './connection.ts';
import { link, links, obj, str, strings, type Json } from './json.ts';
import { selectQuirkProfile, type QuirkProfile, type VirtualMediaLocation } from './quirks.ts';
import type { BootOverrideState, RedfishPowerState, VirtualMediaSlot } from './types.ts';

export interface SystemContext {
  root: Json;
  systemPath: string;
  profile: QuirkProfile;
}

const DEFAULT_RESET_TYPES = ['On', 'ForceOff', 'GracefulShutdown', 'GracefulRestart', 'ForceRestart'];

/** Finds the system (the configured path, or the only member of Systems) and its quirks profile. */
export async function discoverSystem(conn: BmcConnection, configuredPath: string | undefined, forcedProfile: QuirkProfile | undefined): Promise<SystemContext> {
  const root = await conn.serviceRoot();
  let systemPath = configuredPath;
  if (!systemPath) {
    const collection = link(root.Systems) ?? '/redfish/v1/Systems';
    const members = links((await conn.get(collection)).body.Members);
    if (members.length !== 1) {
      throw new HangarError(
        'validation_failed',
        members.length === 0
          ? `BMC ${conn.url.host} lists no systems in ${collection}`
          : `BMC ${conn.url.host} manages ${members.length} systems (${members.join(', ')}); give the system path explicitly`,
        { systemPath: members.length === 0 ? 'no systems' : 'ambiguous' },
      );
    }
    systemPath = members[0]!.replace(/\/$/, '');
  }
  let profile = forcedProfile;
  if (!profile) {
    const sys = await conn.get(systemPath);
    profile = selectQuirkProfile({
      vendor: str(root.Vendor),
      oemKeys: Object.keys(obj(root.Oem)),
      manufacturer: str(sys.body.Manufacturer),
      serviceName: [str(root.Name), str(root.Id), str(root.Product)].filter((s): s is string => !!s),
    });
  }
  conn.log.debug({ systemPath, quirks: profile.name }, 'Redfish system discovered');
  return { root, systemPath, profile };
}

export async function managersOf(conn: BmcConnection, system: Json): Promise<Resource[]> {
  let paths = links(obj(system.Links).ManagedBy);
  if (paths.length === 0) {
    const collection = link((await conn.serviceRoot()).Managers);
    if (collection) paths = links((await conn.get(collection)).body.Members);
  }
  const out: Resource[] = [];
  for (const p of paths) out.push(await conn.get(p));
  return out;
}

/** Every virtual media slot, looked up where the profile says (system and/or managers). */
export async function virtualMediaSlots(conn: BmcConnection, ctx: SystemContext, system: Json, managers?: Resource[]): Promise<VirtualMediaSlot[]> {
  const collections: Array<{ path: string; location: VirtualMediaLocation }> = [];
  for (const location of ctx.profile.virtualMediaLocations) {
    if (location === 'Systems') {
      const p = link(system.VirtualMedia);
      if (p) collections.push({ path: p, location });
    } else {
      for (const m of managers ?? (await managersOf(conn, system))) {
        const p = link(m.body.VirtualMedia);
        if (p) collections.push({ path: p, location });
      }
    }
  }
  const seen = new Set<string>();
  const slots: VirtualMediaSlot[] = [];
  for (const c of collections) {
    const key = c.path.replace(/\/$/, '');
    if (seen.has(key)) continue;
    seen.add(key);
    const res = await conn.exchange('GET', c.path, { idempotent: true, allow: [404] });
    if (res.status === 404) continue;
    for (const member of links(obj(res.body).Members)) {
      slots.push(slotOf(ctx.profile, await conn.get(member), c.location));
    }
  }
  return slots;
}

/** The CD/DVD slot the client uses, with its resource (for the action targets). */
export async function cdSlot(conn: BmcConnection, ctx: SystemContext): Promise<{ slot: VirtualMediaSlot; res: Resource }> {
  const sys = await conn.get(ctx.systemPath);
  const slot = (await virtualMediaSlots(conn, ctx, sys.body)).find((s) => s.cdCapable);
  if (!slot) {
    throw new HangarError(
      'provider_rejected',
      `BMC ${conn.url.host} offers no CD/DVD virtual media for ${ctx.systemPath} (looked under ${ctx.profile.virtualMediaLocations.join(' and ')}; profile ${ctx.profile.name})`,
      { systemPath: ctx.systemPath },
    );
  }
  return { slot, res: await conn.get(slot.path) };
}

export async function allowedResetTypes(conn: BmcConnection, system: Json): Promise<string[] | null> {
  const action = obj(obj(system.Actions)['#ComputerSystem.Reset']);
  const listed = strings(action['ResetType@Redfish.AllowableValues']);
  if (listed) return listed;
  const info = str(action['@Redfish.ActionInfo']);
  if (info) {
    const res = await conn.exchange('GET', info, { idempotent: true, allow: [404] });
    const params = Array.isArray(obj(res.body).Parameters) ? (obj(res.body).Parameters as unknown[]) : [];
    const resetParam = params.map(obj).find((p) => p.Name === 'ResetType');
    const values = strings(resetParam?.AllowableValues);
    if (values) return values;
  }
  return null;
}

/** The first preferred ResetType the BMC allows (DMTF's list when it publishes none). */
export function pickResetType(allowed: string[] | null, prefs: string[]): string | undefined {
  const list = allowed ?? DEFAULT_RESET_TYPES;
  return prefs.find((p) => list.includes(p));
}

export async function mustPickReset(conn: BmcConnection, system: Json, prefs: string[], what: string): Promise<string> {
  const allowed = await allowedResetTypes(conn, system);
  const type = pickResetType(allowed, prefs);
  if (!type) {
    throw new HangarError(
      'provider_rejected',
      `BMC offers no ResetType to ${what} (wanted one of ${prefs.join(', ')}; allowable: ${(allowed ?? []).join(', ')})`,
    );
  }
  return type;
}

export function powerStateOf(system: Json): RedfishPowerState {
  const s = str(system.PowerState);
  return s === 'On' || s === 'Off' || s === 'PoweringOn' || s === 'PoweringOff' || s === 'Paused' ? s : 'Unknown';
}

export function bootStateOf(system: Json): BootOverrideState {
  const boot = obj(system.Boot);
  return {
    enabled: str(boot.BootSourceOverrideEnabled),
    target: str(boot.BootSourceOverrideTarget),
    mode: str(boot.BootSourceOverrideMode),
    uefiTarget: str(boot.UefiTargetBootSourceOverride),
    allowableTargets: strings(boot['BootSourceOverrideTarget@Redfish.AllowableValues']),
    allowableModes: strings(boot['BootSourceOverrideMode@Redfish.AllowableValues']),
  };
}

export function slotOf(profile: QuirkProfile, res: Resource, location: VirtualMediaLocation): VirtualMediaSlot {
  const b = res.body;
  const mediaTypes = strings(b.MediaTypes) ?? [];
  const id = str(b.Id) ?? res.path.split('/').filter(Boolean).pop()!;
  const name = str(b.Name);
  const cdCapable = mediaTypes.length > 0 ? mediaTypes.some((t) => /^(CD|DVD)$/i.test(t)) : /cd|dvd|optical/i.test(`${id} ${name ?? ''}`);
  const actions = obj(b.Actions);
  const image = str(b.Image);
  const connectedVia = str(b.ConnectedVia);
  let inserted = typeof b.Inserted === 'boolean' ? b.Inserted : !!image;
  if (profile.notConnectedMeansEmpty && connectedVia === 'NotConnected') inserted = false;
  return {
    path: res.path,
    id,
    name,
    location,
    mediaTypes,
    cdCapable,
    insertAction: !!str(obj(actions['#VirtualMedia.InsertMedia']).target),
    ejectAction: !!str(obj(actions['#VirtualMedia.EjectMedia']).target),
    inserted,
    image,
    writeProtected: typeof b.WriteProtected === 'boolean' ? b.WriteProtected : null,
    connectedVia,
  };
}
