// GET /cloud-init/<id>/<token>/cidata.iso: the whole seed as a cidata ISO (volume id cidata:
// meta-data, user-data, vendor-data, network-config) for a BMC to mount as virtual media next to
// an installer, or for any image that reads NoCloud from a disk rather than a URL. Built per
// request (tens of ms with xorriso), never cached; the token in the URL is the credential, as
// for the documents.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Request, Response } from 'express';
import { HangarError } from '../../domain/errors.ts';
import { seedMachineById } from '../../db/repositories/metadata.ts';
import { writeCidataIso } from '../../providers/cloud-init/cidata-iso.ts';
import type { ApiDeps } from '../context.ts';
import { renderSeedDocument, SEED_DOCUMENTS } from './documents.ts';
import { hideToken, notFound, plausibleSeedKey, tokenMatches } from './token.ts';

export function cidataIsoHandler(deps: ApiDeps, publicBase: string) {
  return async ({ machineId, token }: { machineId: string; token: string }, req: Request, res: Response): Promise<void> => {
    hideToken(req);
    if (!plausibleSeedKey(machineId, token)) throw notFound();
    const row = await seedMachineById(deps.orm.em.fork(), machineId, { keys: true, network: true });
    if (!tokenMatches(row?.metadata_token ?? null, token) || !row) throw notFound();
    const files: Record<string, string> = {};
    for (const doc of SEED_DOCUMENTS) files[doc] = renderSeedDocument(req.log, row, doc, publicBase, req.id);
    const dir = await mkdtemp(join(tmpdir(), 'hangar-seed-'));
    try {
      const path = join(dir, 'cidata.iso');
      try {
        await writeCidataIso(path, files);
      } catch (err) {
        req.log.error({ err, machineId }, 'cannot build a cidata ISO');
        throw new HangarError('unavailable', 'the cidata ISO cannot be built on this server (is xorriso installed?)');
      }
      const image = await readFile(path);
      res
        .status(200)
        .set({
          'Content-Type': 'application/x-iso9660-image',
          'Cache-Control': 'no-store',
          'Content-Disposition': 'attachment; filename="cidata.iso"',
        })
        .send(image);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
}
