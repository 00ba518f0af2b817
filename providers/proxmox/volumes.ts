// Storage content: listing volumes and deleting one ("already gone" is done).
import { HangarError } from '../../domain/errors.ts';
import { pvePath } from './client.ts';
import { errCode, pveDelete, pveGet, settle, type ProxmoxCall } from './context.ts';

export interface Volume {
  volid: string;
  size?: number;
  format?: string;
}

export async function listVolumes(c: ProxmoxCall, node: string, storage: string, content: string): Promise<Volume[]> {
  const rows = await pveGet<Volume[]>(c, pvePath`/nodes/${node}/storage/${storage}/content`, content ? { content } : {});
  return Array.isArray(rows) ? rows : [];
}

export async function deleteVolume(c: ProxmoxCall, node: string, storage: string, volid: string): Promise<void> {
  try {
    await settle(c, node, await pveDelete(c, pvePath`/nodes/${node}/storage/${storage}/content/${volid}`, undefined, { idempotent: true }));
  } catch (err) {
    if (errCode(err) === 'not_found') return;
    if (err instanceof HangarError && !(await listVolumes(c, node, storage, '')).some((v) => v.volid === volid)) return;
    throw err;
  }
}
