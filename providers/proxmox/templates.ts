// Templates: an image (local file, URL or storage volume) put into import storage, a VM created
// from it with Hangar's template marker and converted to a template; deleting removes both.
// A create whose reply was lost, or a half-made template, is found and finished or replaced.
import { open, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { HangarError } from '../../domain/errors.ts';
import type { TemplateRef, TemplateSpec } from '../hypervisor.ts';
import { sha256File } from '../support/sha256-file.ts';
import { pvePath } from './client.ts';
import { errCode, pvePost, settle, vmConfig, vmPath, type ProxmoxCall, type VmId } from './context.ts';
import { findByMarker } from './locator.ts';
import { HANGAR_TAG, TEMPLATE_MARKER, dnsName, markedDescription, templateImagePrefix } from './markers.ts';
import { activeTasks, settledConfig, waitTasks, waitUnlocked } from './tasks.ts';
import { deleteVm, withVmid } from './vms.ts';
import { deleteVolume, listVolumes } from './volumes.ts';

export async function importTemplate(c: ProxmoxCall, spec: TemplateSpec): Promise<TemplateRef> {
  const name = dnsName(spec.name);
  const node = spec.node ?? c.settings.node;
  // A create whose reply was lost may still be running (its config holds only `lock: create`):
  // note running creates before looking; if the template is not there, wait and look again.
  const running = await activeTasks(c, node, 'qmcreate', undefined, true);
  let found = await findByMarker(c, TEMPLATE_MARKER, spec.templateId, name);
  if (!found && (await waitTasks(c, node, running))) {
    found = await findByMarker(c, TEMPLATE_MARKER, spec.templateId, name);
  }
  if (found) {
    const cfg = await settledConfig(c, found.ref).catch((err: unknown) => {
      if (errCode(err) === 'not_found') return undefined;
      throw err;
    });
    if (cfg) {
      if (Number(cfg.template ?? 0) === 1) return { ref: String(found.ref.vmid), created: false };
      if (cfg.scsi0 !== undefined && !String(cfg.scsi0).includes('import-from')) {
        // Half-made: the import finished but the conversion did not. Finish it.
        await toTemplate(c, found.ref);
        return { ref: String(found.ref.vmid), created: true };
      }
      c.logger.warn({ templateId: spec.templateId, vmid: found.ref.vmid }, 'proxmox: removing a half-made template VM');
      await deleteVm(c, found.ref);
    }
  }

  const storage = spec.storage ?? c.settings.storage;
  const volid = await ensureImage(c, node, spec);
  const vmid = await withVmid(
    c,
    spec.vmid,
    async (id) => {
      const upid = await pvePost(c, pvePath`/nodes/${node}/qemu`, {
        vmid: id,
        name,
        description: markedDescription(TEMPLATE_MARKER, spec.templateId),
        tags: `${HANGAR_TAG};template`,
        cores: spec.cpu,
        memory: spec.memoryMb,
        scsihw: 'virtio-scsi-pci',
        scsi0: `${storage}:0,import-from=${volid}`,
        boot: 'order=scsi0',
        // No cloud-init drive: configure adds the seed a machine needs (ISO or native drive) in
        // its one config write, which a drive to free first would split in two.
        serial0: 'socket',
        vga: 'serial0',
        net0: `virtio,bridge=${c.settings.bridge}`,
      });
      await settle(c, node, upid);
      return id;
    },
    async () => (await findByMarker(c, TEMPLATE_MARKER, spec.templateId, name))?.ref.vmid,
  );
  await toTemplate(c, { node, vmid });
  c.cache.set(`${TEMPLATE_MARKER}=${spec.templateId}`, vmid);
  c.logger.info({ templateId: spec.templateId, vmid, node }, 'proxmox: imported template');
  return { ref: String(vmid), created: true };
}

async function toTemplate(c: ProxmoxCall, ref: VmId): Promise<void> {
  const isTemplate = async () => Number((await vmConfig(c, ref)).template ?? 0) === 1;
  if (await isTemplate()) return;
  try {
    await settle(c, ref.node, await pvePost(c, vmPath(ref, '/template')));
  } catch (err) {
    // "can't convert a template to a template": a lost reply's first attempt finished it.
    if (errCode(err) === 'provider_task_failed' && (await isTemplate())) return;
    throw err;
  }
}

/** Puts the template image into import storage (upload or download-url); returns its volume id. */
async function ensureImage(c: ProxmoxCall, node: string, spec: TemplateSpec): Promise<string> {
  const { importStorage } = c.settings;
  const image = spec.image;
  const expected = spec.checksum ? /^sha256:([0-9a-f]{64})$/i.exec(spec.checksum)?.[1]?.toLowerCase() : undefined;
  if (spec.checksum && !expected) throw new HangarError('provider_rejected', 'template checksum must be sha256:<64 hex digits>');
  const isUrl = /^https?:\/\//i.test(image);
  const isVolume = !isUrl && /^[A-Za-z][A-Za-z0-9_.-]*:(?!\/)/.test(image);
  if (isVolume) return image;

  const format = isUrl ? formatFromName(image) : await sniffFormat(image);
  const filename = `${templateImagePrefix(spec.templateId)}${format}`;
  const volid = `${importStorage}:import/${filename}`;
  const present = (await listVolumes(c, node, importStorage, 'import')).find((v) => v.volid === volid);

  if (isUrl) {
    if (present) return volid;
    const upid = await pvePost(c, pvePath`/nodes/${node}/storage/${importStorage}/download-url`, {
      content: 'import',
      filename,
      url: image,
      ...(expected ? { checksum: expected, 'checksum-algorithm': 'sha256' } : {}),
    });
    await settle(c, node, upid);
    return volid;
  }

  const size = (
    await stat(image).catch(() => {
      throw new HangarError('provider_rejected', `template image ${image} is not readable`);
    })
  ).size;
  if (expected) {
    const actual = await sha256File(image, { onProgress: () => c.hooks.onWait?.(), ...(c.signal ? { signal: c.signal } : {}) });
    if (actual !== expected) {
      throw new HangarError('provider_rejected', `template image ${basename(image)} has sha256 ${actual}, expected ${expected}`);
    }
  }
  if (present && Number(present.size) === size) return volid;
  if (present) await deleteVolume(c, node, importStorage, volid);
  c.hooks.onWait?.();
  const upid = await c.client.upload(
    node,
    importStorage,
    { content: 'import', filename, path: image, ...(expected ? { sha256: expected } : {}) },
    c.signal ? { signal: c.signal } : {},
  );
  await settle(c, node, upid);
  return volid;
}

export async function deleteTemplate(c: ProxmoxCall, templateId: string): Promise<{ deleted: boolean }> {
  const found = await findByMarker(c, TEMPLATE_MARKER, templateId);
  let node = c.settings.node;
  if (found) {
    node = found.ref.node;
    if (found.config.lock) await waitUnlocked(c, found.ref, found.config);
    await deleteVm(c, found.ref);
    c.cache.delete(`${TEMPLATE_MARKER}=${templateId}`);
  }
  const prefix = `${c.settings.importStorage}:import/${templateImagePrefix(templateId)}`;
  for (const v of await listVolumes(c, node, c.settings.importStorage, 'import')) {
    if (v.volid.startsWith(prefix)) await deleteVolume(c, node, c.settings.importStorage, v.volid);
  }
  return { deleted: found !== undefined };
}

function formatFromName(name: string): 'qcow2' | 'raw' | 'vmdk' {
  const lower = name.toLowerCase().split('?')[0] ?? '';
  if (lower.endsWith('.raw')) return 'raw';
  if (lower.endsWith('.vmdk')) return 'vmdk';
  return 'qcow2'; // cloud images (`.img`, `.qcow2`) are qcow2
}

/** qcow2 by its magic (`QFI\xfb`), vmdk by `KDMV`, else by name, else raw. */
async function sniffFormat(path: string): Promise<'qcow2' | 'raw' | 'vmdk'> {
  const fh = await open(path, 'r').catch(() => {
    throw new HangarError('provider_rejected', `template image ${path} is not readable`);
  });
  try {
    const buf = Buffer.alloc(4);
    await fh.read(buf, 0, 4, 0);
    if (buf.equals(Buffer.from([0x51, 0x46, 0x49, 0xfb]))) return 'qcow2';
    if (buf.toString('latin1') === 'KDMV') return 'vmdk';
    const byName = formatFromName(path);
    return byName === 'qcow2' ? 'raw' : byName;
  } finally {
    await fh.close();
  }
}
