// How Hangar recognises its own VMs: the `hangar` tag plus a `hangar-machine=<id>` /
// `hangar-template=<id>` line (and one `hangar-disk=<id>:<slot>` line per attached disk) in the
// VM description, and the names of the cidata ISOs it uploads. Pure string functions.
import { createHash } from 'node:crypto';

export const HANGAR_TAG = 'hangar';
export const DESCRIPTION_HEADER = 'Managed by Hangar; keep the hangar-* lines.';
export const MACHINE_MARKER = 'hangar-machine';
export const TEMPLATE_MARKER = 'hangar-template';
export const DISK_MARKER = 'hangar-disk';

export function parseTags(tags: string | undefined): string[] {
  return (tags ?? '')
    .split(/[;, ]+/)
    .map((t) => t.trim())
    .filter(Boolean);
}

/** Hangar's tags for a machine VM (clones inherit `template` from their template). */
export function machineTags(current: string | number | undefined): string {
  const tags = parseTags(current === undefined ? undefined : String(current)).filter((t) => t !== 'template');
  if (!tags.includes(HANGAR_TAG)) tags.unshift(HANGAR_TAG);
  return tags.join(';');
}

export function markerValue(description: string | undefined, key: string): string | undefined {
  if (!description) return undefined;
  const re = new RegExp(`^${key}=(\\S+)\\s*$`, 'm');
  return re.exec(description)?.[1];
}

/** The description a new machine or template VM is created with. */
export function markedDescription(marker: typeof MACHINE_MARKER | typeof TEMPLATE_MARKER, id: string): string {
  return `${DESCRIPTION_HEADER}\n${marker}=${id}`;
}

export function diskMarkers(description: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of (description ?? '').split('\n')) {
    const m = new RegExp(`^${DISK_MARKER}=(\\S+):([a-z]+\\d+)\\s*$`).exec(line.trim());
    if (m?.[1] && m[2]) out.set(m[1], m[2]);
  }
  return out;
}

/** The description with the disk's marker line set to `slot` (or removed when `slot` is null). */
export function withDiskMarker(description: string | undefined, diskId: string, slot: string | null): string {
  const lines = (description ?? '').split('\n').filter((l) => !l.trim().startsWith(`${DISK_MARKER}=${diskId}:`));
  if (slot) lines.push(`${DISK_MARKER}=${diskId}:${slot}`);
  return lines
    .filter((l, i) => l !== '' || i < lines.length - 1)
    .join('\n')
    .replace(/\n+$/, '');
}

export function safeId(id: string): string {
  return id.replace(/[^A-Za-z0-9_.-]/g, '_');
}

/** Proxmox `dns-name` for VM names. */
export function dnsName(name: string): string {
  const n = name
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '');
  return n || 'hangar';
}

/** Short hash of the seed documents a cidata ISO is built from. */
export function cidataHash(ci: { metaData: string; userData: string; networkConfig?: string }): string {
  return createHash('sha256')
    .update(JSON.stringify([ci.metaData, ci.userData, ci.networkConfig ?? null]))
    .digest('hex')
    .slice(0, 16);
}

/** `hangar-<machine>-cidata-<seed hash>.iso` (older releases wrote `hangar-<machine>-cidata.iso`). */
export function cidataIsoName(machineId: string, seedHash?: string): string {
  return `hangar-${safeId(machineId)}-cidata${seedHash ? `-${seedHash}` : ''}.iso`;
}

/** Whether a volume id or file name is one of the machine's cidata ISOs (any seed). */
export function isCidataIsoOf(machineId: string, volidOrName: string): boolean {
  const name = volidOrName.slice(volidOrName.lastIndexOf('/') + 1);
  const prefix = `hangar-${safeId(machineId)}-cidata`;
  return name.startsWith(prefix) && /^(-[0-9a-f]{16})?\.iso$/.test(name.slice(prefix.length));
}

/** The machine id a Hangar cidata ISO was made for (from its volume id or file name); undefined for any other file. */
export function cidataIsoMachine(volidOrName: string): string | undefined {
  const name = volidOrName.slice(volidOrName.lastIndexOf('/') + 1);
  return /^hangar-([A-Za-z0-9_.-]+?)-cidata(?:-[0-9a-f]{16})?\.iso$/.exec(name)?.[1];
}

/** File name prefix of a template's image in import storage. */
export function templateImagePrefix(templateId: string): string {
  return `hangar-template-${safeId(templateId)}.`;
}
