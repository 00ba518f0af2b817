// QEMU templates: <dataDir>/qemu/templates/<name>/{template.json, disk.qcow2[, vmlinuz, initrd.img]}.
// An import verifies checksums, copies or converts the image into a hidden partial directory and
// renames it into place only when complete, so a crash or a cancellation leaves no half template.
import { constants } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { HangarError } from '../../domain/errors.ts';
import type { TemplateRef, TemplateSpec } from '../hypervisor.ts';
import { sha256File } from '../support/sha256-file.ts';
import { throwIfAborted } from '../support/sleep.ts';
import { instancePaths, type ImageManifest, type InstanceRecord, type QemuContext, type TemplateRecord } from './instance.ts';
import { imageInfo, readJson, runTool, writeJsonAtomic } from './tools.ts';

export async function listTemplates(ctx: QemuContext): Promise<{ dir: string; rec: TemplateRecord }[]> {
  let names: string[];
  try {
    names = await readdir(ctx.templatesDir);
  } catch {
    return [];
  }
  const out: { dir: string; rec: TemplateRecord }[] = [];
  for (const name of names) {
    if (name.startsWith('.')) continue;
    const dir = join(ctx.templatesDir, name);
    const rec = await readJson<TemplateRecord>(join(dir, 'template.json')).catch(() => null);
    if (rec) out.push({ dir, rec });
  }
  return out;
}

/** Resolves `spec.image` (a disk image, an image dir with manifest.json, or the manifest itself). */
async function resolveImage(
  image: string,
): Promise<{ disk: string; kernel?: string; initrd?: string; cmdline?: string; checksums?: ImageManifest['checksums'] }> {
  if (!isAbsolute(image)) throw new HangarError('provider_rejected', `qemu: template image must be an absolute local path, got ${JSON.stringify(image)}`);
  let st;
  try {
    st = await stat(image);
  } catch {
    throw new HangarError('provider_rejected', `qemu: template image ${image} does not exist`);
  }
  let manifestPath: string | null = null;
  if (st.isDirectory()) manifestPath = join(image, 'manifest.json');
  else if (image.endsWith('.json')) manifestPath = image;
  if (!manifestPath) return { disk: image };
  const m = await readJson<ImageManifest>(manifestPath);
  if (!m || typeof m.disk !== 'string') throw new HangarError('provider_rejected', `qemu: ${manifestPath} is not an image manifest (no "disk")`);
  const base = dirname(manifestPath);
  const inside = (f: string | undefined) => {
    if (f === undefined) return undefined;
    const p = resolve(base, f);
    if (dirname(p) !== base) throw new HangarError('provider_rejected', `qemu: manifest file ${JSON.stringify(f)} is outside ${base}`);
    return p;
  };
  return { disk: inside(m.disk)!, kernel: inside(m.kernel), initrd: inside(m.initrd), cmdline: m.cmdline, checksums: m.checksums };
}

async function verifyChecksum(ctx: QemuContext, file: string, expected: string, what: string, signal?: AbortSignal): Promise<void> {
  const m = /^sha256:([0-9a-fA-F]{64})$/.exec(expected);
  if (!m) throw new HangarError('provider_rejected', `qemu: unsupported checksum ${JSON.stringify(expected)} (want sha256:<hex>)`);
  const actual = await sha256File(file, { onProgress: () => ctx.opts.hooks.onWait?.(), ...(signal ? { signal } : {}) });
  if (actual !== m[1]!.toLowerCase()) {
    throw new HangarError('provider_rejected', `qemu: checksum mismatch for ${what} ${file}: expected sha256:${m[1]!.toLowerCase()}, got sha256:${actual}`);
  }
}

/** Imports the template (the caller holds the template's lock). A cancelled import removes its partial copy. */
export async function importTemplate(ctx: QemuContext, spec: TemplateSpec, signal?: AbortSignal): Promise<TemplateRef> {
  const all = await listTemplates(ctx);
  const same = all.find((t) => t.rec.templateId === spec.templateId);
  if (same) return { ref: same.rec.name, created: false };
  const finalDir = join(ctx.templatesDir, spec.name);
  const other = all.find((t) => t.rec.name === spec.name);
  if (other) throw new HangarError('already_exists', `qemu: template ${spec.name} exists for another template id (${other.rec.templateId})`);
  // A directory without template.json is a half-made import from a crash: redo it.
  await rm(finalDir, { recursive: true, force: true });

  const src = await resolveImage(spec.image);
  if (spec.checksum) await verifyChecksum(ctx, src.disk, spec.checksum, 'image', signal);
  for (const [what, file] of [
    ['disk', src.disk],
    ['kernel', src.kernel],
    ['initrd', src.initrd],
  ] as const) {
    const sum = src.checksums?.[what];
    if (file && sum && sum !== spec.checksum) await verifyChecksum(ctx, file, sum, what, signal);
  }
  const info = await imageInfo(ctx.qemuImg, src.disk);

  await mkdir(ctx.templatesDir, { recursive: true });
  const partial = join(ctx.templatesDir, `.${spec.name}.partial-${randomBytes(4).toString('hex')}`);
  await mkdir(partial, { recursive: true, mode: 0o755 });
  const beat = setInterval(() => ctx.opts.hooks.onWait?.(), 2000);
  try {
    const disk = join(partial, 'disk.qcow2');
    if (info.format === 'qcow2' && !info.backingFilename) {
      await copyFile(src.disk, disk, constants.COPYFILE_FICLONE);
    } else {
      await runTool(ctx.qemuImg, ['convert', '-f', info.format, '-O', 'qcow2', src.disk, disk], { timeoutMs: 3_600_000, ...(signal ? { signal } : {}) });
    }
    const rec: TemplateRecord = {
      format: 1,
      templateId: spec.templateId,
      name: spec.name,
      disk: 'disk.qcow2',
      source: spec.image,
      virtualSize: info.virtualSize,
      importedAt: new Date().toISOString(),
    };
    if (spec.checksum) rec.checksum = spec.checksum;
    if (src.kernel) {
      await copyFile(src.kernel, join(partial, 'vmlinuz'));
      rec.kernel = 'vmlinuz';
    }
    if (src.initrd) {
      await copyFile(src.initrd, join(partial, 'initrd.img'));
      rec.initrd = 'initrd.img';
    }
    if (src.cmdline) rec.cmdline = src.cmdline;
    // Overlays point at this file: make it read-only so nothing changes it under them.
    await chmod(disk, 0o444);
    await writeJsonAtomic(join(partial, 'template.json'), rec, 0o644);
    // The last point where a cancellation still leaves nothing behind.
    throwIfAborted(signal);
    await rename(partial, finalDir);
  } catch (err) {
    await rm(partial, { recursive: true, force: true });
    throw err;
  } finally {
    clearInterval(beat);
  }
  ctx.logger.info({ template: spec.name, templateId: spec.templateId }, 'qemu: template imported');
  return { ref: spec.name, created: true };
}

/** Deletes the template (the caller holds its lock), refusing while VMs still need its files. */
export async function deleteTemplate(ctx: QemuContext, found: { dir: string; rec: TemplateRecord }, instanceIds: string[]): Promise<{ deleted: boolean }> {
  const users: string[] = [];
  for (const machineId of instanceIds) {
    const rec = await readJson<InstanceRecord>(instancePaths(join(ctx.instancesDir, machineId)).record).catch(() => null);
    if (!rec) continue;
    const fromTemplate = rec.template === found.rec.name || rec.templateDisk.startsWith(`${found.dir}/`);
    // A full clone owns its disk, but direct kernel boot still reads the template's kernel/initrd.
    const needsDisk = rec.cloneMode !== 'full';
    const needsKernel = Boolean(rec.kernel?.kernel.startsWith(`${found.dir}/`));
    if (fromTemplate && (needsDisk || needsKernel)) users.push(machineId);
  }
  if (users.length > 0) {
    throw new HangarError('invalid_state', `qemu: template ${found.rec.name} is the backing image of ${users.length} VM(s): ${users.slice(0, 10).join(', ')}`);
  }
  await rm(found.dir, { recursive: true, force: true });
  ctx.logger.info({ template: found.rec.name, templateId: found.rec.templateId }, 'qemu: template deleted');
  return { deleted: true };
}
