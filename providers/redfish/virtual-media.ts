// Virtual media: inserting an image into the CD/DVD slot (InsertMedia with the body the BMC
// accepts, or the PATCH fallback the profile allows) and ejecting it, each read back to verify.
import { HangarError } from '../../domain/errors.ts';
import { RedfishHttpError, type BmcConnection, type Resource } from './connection.ts';
import { obj, safeUrl, str, type Json } from './json.ts';
import { transferProtocolFor } from './quirks.ts';
import { cdSlot, slotOf, type SystemContext } from './system.ts';
import type { VirtualMediaSlot, WriteResult } from './types.ts';
import { writeVerified } from './verified-write.ts';

/** The InsertMedia body shape that worked on this BMC (remembered per client). */
export interface InsertShape {
  optional: boolean;
  protocol: boolean;
}

function sameImage(a: string | null, b: string): boolean {
  if (!a) return false;
  const norm = (s: string) => {
    try {
      return decodeURI(s).replace(/\/+$/, '');
    } catch {
      return s.replace(/\/+$/, '');
    }
  };
  return norm(a) === norm(b);
}

/** Refuses an image the BMC could not fetch, before anything is sent. */
export function checkImageUrl(image: string): void {
  if (!/^(https?|nfs|cifs|smb|ftp|sftp|tftp|scp):\/\/\S+$/i.test(image)) {
    throw new HangarError('validation_failed', 'the image must be a URL the BMC can fetch (http, https, nfs, cifs…)', { image: 'not a URL' });
  }
}

/** Inserts an image into the virtual CD/DVD, read back to verify; the same image already inserted is a no-op. */
export async function insertMedia(
  conn: BmcConnection,
  ctx: SystemContext,
  image: string,
  writeProtected: boolean,
  shape: { current?: InsertShape },
): Promise<WriteResult> {
  checkImageUrl(image);
  let { slot, res } = await cdSlot(conn, ctx);
  if (slot.inserted && sameImage(slot.image, image)) return { changed: false, writes: 0 };
  let writes = 0;
  if (slot.inserted) {
    conn.log.info({ slot: slot.path, image: slot.image ? safeUrl(slot.image) : null }, 'ejecting the image currently inserted before inserting the new one');
    writes += (await ejectSlot(conn, ctx, slot, res)).writes;
    ({ slot, res } = await cdSlot(conn, ctx));
  }
  if (!slot.insertAction && !ctx.profile.virtualMediaPatchFallback) {
    throw new HangarError('provider_rejected', `virtual media slot ${slot.path} has no InsertMedia action`, { slot: slot.path });
  }
  const result = await writeVerified(conn, {
    what: `virtual media insert of ${safeUrl(image)} into ${slot.path}`,
    write: async () => {
      if (slot.insertAction) await insertAction(conn, ctx, res, image, writeProtected, shape);
      else await conn.patch(slot.path, { Image: image, Inserted: true, WriteProtected: writeProtected }, ctx.profile.ifMatchOnPatch);
    },
    read: async () => slotOf(ctx.profile, await conn.get(slot.path), slot.location),
    matches: (s) => s.inserted && sameImage(s.image, image),
    describe: (s) => `Inserted=${s.inserted}, Image=${s.image ? safeUrl(s.image) : 'none'}`,
    fields: (s) => ({ Inserted: String(s.inserted), Image: s.image ? safeUrl(s.image) : '' }),
  });
  conn.log.info({ slot: slot.path, image: safeUrl(image), writes: result.writes }, 'virtual media inserted');
  return { changed: true, writes: writes + result.writes };
}

/** Ejects the virtual CD/DVD, read back to verify; nothing inserted is a no-op. */
export async function ejectMedia(conn: BmcConnection, ctx: SystemContext): Promise<WriteResult> {
  const { slot, res } = await cdSlot(conn, ctx);
  if (!slot.inserted) return { changed: false, writes: 0 };
  return ejectSlot(conn, ctx, slot, res);
}

async function ejectSlot(conn: BmcConnection, ctx: SystemContext, slot: VirtualMediaSlot, res: Resource): Promise<WriteResult> {
  if (!slot.ejectAction && !ctx.profile.virtualMediaPatchFallback) {
    throw new HangarError('provider_rejected', `virtual media slot ${slot.path} has no EjectMedia action`, { slot: slot.path });
  }
  const result = await writeVerified(conn, {
    what: `virtual media eject from ${slot.path}`,
    write: async () => {
      if (slot.ejectAction) {
        const target = str(obj(obj(res.body.Actions)['#VirtualMedia.EjectMedia']).target)!;
        await conn.followTask(await conn.exchange('POST', target, { body: {} }), 'eject media');
      } else {
        await conn.patch(slot.path, { Image: null, Inserted: false }, ctx.profile.ifMatchOnPatch);
      }
    },
    read: async () => slotOf(ctx.profile, await conn.get(slot.path), slot.location),
    matches: (s) => !s.inserted,
    describe: (s) => `Inserted=${s.inserted}, Image=${s.image ? safeUrl(s.image) : 'none'}`,
    fields: (s) => ({ Inserted: String(s.inserted), Image: s.image ? safeUrl(s.image) : '' }),
  });
  conn.log.info({ slot: slot.path, writes: result.writes }, 'virtual media ejected');
  return result;
}

/**
 * InsertMedia with the body the profile asks for. When the BMC refuses it, the body adapts to what
 * the refusal names (drop the optional Inserted/WriteProtected/TransferMethod, add
 * TransferProtocolType), at most once per adjustment; what worked is remembered for this client.
 */
async function insertAction(
  conn: BmcConnection,
  ctx: SystemContext,
  res: Resource,
  image: string,
  writeProtected: boolean,
  remembered: { current?: InsertShape },
): Promise<void> {
  const target = str(obj(obj(res.body.Actions)['#VirtualMedia.InsertMedia']).target)!;
  const cfg = ctx.profile.insertMedia;
  const protocol = transferProtocolFor(image);
  const shape = { ...(remembered.current ?? { optional: cfg.sendInsertedAndWriteProtected, protocol: cfg.transferProtocolType === 'always' }) };
  const tried = new Set<string>();
  for (;;) {
    const body: Json = { Image: image };
    if (shape.optional) Object.assign(body, { Inserted: true, WriteProtected: writeProtected });
    if (shape.optional && cfg.transferMethod) body.TransferMethod = cfg.transferMethod;
    if (shape.protocol && protocol) body.TransferProtocolType = protocol;
    try {
      const out = await conn.exchange('POST', target, { body });
      await conn.followTask(out, 'insert media');
      remembered.current = shape;
      return;
    } catch (err) {
      if (!(err instanceof RedfishHttpError) || err.httpStatus < 400 || err.httpStatus >= 500) throw err;
      const text = [...err.messageIds, ...err.messages].join(' ');
      const refused = /(not ?supported|unknown|unsupported|invalid|not allowed|ActionParameterNotSupported|PropertyUnknown)/i;
      tried.add(`${shape.optional}/${shape.protocol}`);
      if (!shape.protocol && protocol && /TransferProtocolType/i.test(text) && /(missing|required|mandatory)/i.test(text)) shape.protocol = true;
      else if (shape.protocol && /TransferProtocolType/i.test(text) && refused.test(text)) shape.protocol = false;
      else if (shape.optional && /(Inserted|WriteProtected|TransferMethod)/i.test(text) && refused.test(text)) shape.optional = false;
      if (tried.has(`${shape.optional}/${shape.protocol}`)) throw err;
      conn.log.info(
        { messages: err.messages.map((m) => conn.scrub(m)), sendOptional: shape.optional, sendProtocol: shape.protocol },
        'BMC refused the InsertMedia parameters; retrying with the parameters it asks for',
      );
    }
  }
}
