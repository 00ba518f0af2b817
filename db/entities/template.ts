import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { PROVIDERS } from '../../domain/machine.ts';

export const TEMPLATE_STATES = ['pending', 'creating', 'ready', 'failed', 'deleting'] as const;

/** A VM template: an imported image a provider clones machines from (Proxmox template VM, QEMU base disk). */
export const Template = defineEntity({
  name: 'Template',
  tableName: 'template',
  properties: {
    id: p.uuid().primary(),
    name: p.string().unique(),
    provider: p.enum(PROVIDERS),
    node: p.string().nullable(),
    // Local path or http(s) URL of the image; checksum as sha256:<hex>.
    image: p.text(),
    checksum: p.string().nullable(),
    storage: p.string().nullable(),
    vmid: p.integer().nullable(),
    cpu: p.integer().default(1).check('cpu > 0'),
    memoryMb: p.integer().default(512).check('memory_mb > 0'),
    // What the provider clones from (Proxmox VMID, QEMU template name); set when ready.
    providerRef: p.string().nullable(),
    state: p.enum(TEMPLATE_STATES).default('pending'),
    lastError: p.text().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
});
export type ITemplate = InferEntity<typeof Template>;
