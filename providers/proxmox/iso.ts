// The machine's cidata ISOs in ISO storage: finding them (any seed) and building + uploading one.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeCidataIso } from '../cloud-init/cidata-iso.ts';
import type { CloudInitSeed } from '../hypervisor.ts';
import { settle, type ProxmoxCall } from './context.ts';
import { isCidataIsoOf } from './markers.ts';
import { listVolumes } from './volumes.ts';

/** The machine's cidata ISOs in ISO storage (volids), whatever seed they were built from. */
export async function cidataIsos(c: ProxmoxCall, node: string, machineId: string): Promise<string[]> {
  const { isoStorage } = c.settings;
  return (await listVolumes(c, node, isoStorage, 'iso'))
    .map((v) => v.volid)
    .filter((volid) => volid.startsWith(`${isoStorage}:`) && isCidataIsoOf(machineId, volid));
}

/** Builds the cidata ISO and uploads it under `volid`'s file name. */
export async function uploadCidataIso(c: ProxmoxCall, node: string, volid: string, ci: CloudInitSeed): Promise<void> {
  const name = volid.slice(volid.lastIndexOf('/') + 1);
  const dir = await mkdtemp(join(c.settings.tmpDir ?? tmpdir(), 'hangar-pve-'));
  try {
    const path = join(dir, name);
    const files: Record<string, string> = { 'meta-data': ci.metaData, 'user-data': ci.userData };
    if (ci.networkConfig) files['network-config'] = ci.networkConfig;
    await writeCidataIso(path, files, {
      ...(c.settings.isoTool ? { tool: c.settings.isoTool } : {}),
      ...(c.signal ? { signal: c.signal } : {}),
    });
    c.hooks.onWait?.();
    const upid = await c.client.upload(node, c.settings.isoStorage, { content: 'iso', filename: name, path }, c.signal ? { signal: c.signal } : {});
    await settle(c, node, upid);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
