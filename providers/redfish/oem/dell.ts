// Dell iDRAC's OEM path: the virtual CD is made the boot device through iDRAC attributes
// (`ServerBoot.1#FirstBootDevice=VCD-DVD`, `ServerBoot.1#BootOnce`) written with the Manager's OEM
// ImportSystemConfiguration action (a Server Configuration Profile) and verified through
// Managers/<id>/Attributes — the standard `Cd` override boots the physical drive on iDRAC. Used
// only when the quirks profile says `virtualCdBoot.kind: 'dell-scp'`.
import { HangarError } from '../../../domain/errors.ts';
import type { BmcConnection, Resource } from '../connection.ts';
import { obj, str } from '../json.ts';
import type { QuirkProfile } from '../quirks.ts';
import { managersOf, type SystemContext } from '../system.ts';
import type { WriteResult } from '../types.ts';
import { writeVerified } from '../verified-write.ts';

type DellScp = Extract<QuirkProfile['virtualCdBoot'], { kind: 'dell-scp' }>;

/** Next boot (or every boot, `once: false`) from the virtual CD. */
export function bootFromVirtualCd(conn: BmcConnection, ctx: SystemContext, how: DellScp, once: boolean): Promise<WriteResult> {
  return setAttributes(conn, ctx, how, { 'ServerBoot.1.BootOnce': once ? 'Enabled' : 'Disabled', 'ServerBoot.1.FirstBootDevice': how.device });
}

/** Puts the first boot device back to normal when it is still the virtual CD. */
export async function clearVirtualCdBoot(conn: BmcConnection, ctx: SystemContext, how: DellScp): Promise<WriteResult> {
  const manager = await firstManager(conn, ctx);
  const attrs = await readAttributes(conn, manager);
  if (!attrs || attrs['ServerBoot.1.FirstBootDevice'] !== how.device) return { changed: false, writes: 0 };
  return setAttributes(conn, ctx, how, { 'ServerBoot.1.BootOnce': 'Disabled', 'ServerBoot.1.FirstBootDevice': 'Normal' });
}

async function firstManager(conn: BmcConnection, ctx: SystemContext): Promise<Resource> {
  const sys = await conn.get(ctx.systemPath);
  const [manager] = await managersOf(conn, sys.body);
  if (!manager) throw new HangarError('provider_rejected', `BMC ${conn.url.host} lists no manager for ${ctx.systemPath}`);
  return manager;
}

async function readAttributes(conn: BmcConnection, manager: Resource): Promise<Record<string, unknown> | null> {
  const res = await conn.exchange('GET', `${manager.path.replace(/\/$/, '')}/Attributes`, { idempotent: true, allow: [404] });
  return res.status === 404 ? null : obj(obj(res.body).Attributes);
}

/** iDRAC attributes through the OEM ImportSystemConfiguration (SCP) action, verified through Managers/<id>/Attributes. */
async function setAttributes(conn: BmcConnection, ctx: SystemContext, how: DellScp, want: Record<string, string>): Promise<WriteResult> {
  const manager = await firstManager(conn, ctx);
  const current = await readAttributes(conn, manager);
  const matches = (attrs: Record<string, unknown> | null) => !!attrs && Object.entries(want).every(([k, v]) => attrs[k] === v);
  if (matches(current)) return { changed: false, writes: 0 };
  const oem = obj(obj(manager.body.Actions).Oem);
  const key = Object.keys(oem).find((k) => k.endsWith(how.actionSuffix));
  const target = (key && str(obj(oem[key]).target)) ?? `${manager.path.replace(/\/$/, '')}${how.fallbackActionPath}`;
  const fqdd = str(manager.body.Id) ?? 'iDRAC.Embedded.1';
  const xmlAttrs = Object.entries(want)
    .map(([k, v]) => `<Attribute Name="${xmlEscape(k.replace(/\.(?=[^.]*$)/, '#'))}">${xmlEscape(v)}</Attribute>`)
    .join('');
  const buffer = `<SystemConfiguration><Component FQDD="${xmlEscape(fqdd)}">${xmlAttrs}</Component></SystemConfiguration>`;
  return writeVerified(conn, {
    what: `iDRAC attributes ${Object.entries(want)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')}`,
    write: async () => {
      const res = await conn.exchange('POST', target, { body: { ShareParameters: { Target: 'IDRAC' }, ImportBuffer: buffer } });
      await conn.followTask(res, 'ImportSystemConfiguration');
    },
    read: async () => readAttributes(conn, manager),
    matches: (attrs) => (attrs === null ? true : matches(attrs)),
    describe: (attrs) =>
      attrs
        ? Object.keys(want)
            .map((k) => `${k}=${String(attrs[k] ?? 'unset')}`)
            .join(', ')
        : 'no attributes',
    fields: (attrs) => Object.fromEntries(Object.keys(want).map((k) => [k, String(attrs?.[k] ?? '')])),
  });
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
