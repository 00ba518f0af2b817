import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { Machine } from './machine.ts';

export const DISK_STATES = ['attaching', 'attached', 'detaching', 'detached', 'failed'] as const;

/** An extra data disk of a machine (the root disk is the machine's disk_gb). */
export const Disk = defineEntity({
  name: 'Disk',
  tableName: 'disk',
  properties: {
    id: p.uuid().primary(),
    machineId: () => p.manyToOne(Machine).mapToPk().joinColumn('machine_id').deleteRule('cascade').index('disk_machine_id_index'),
    sizeGb: p.integer().check('size_gb > 0'),
    storage: p.string().nullable(),
    // Where the provider put it: scsi1 (Proxmox) or a QMP device id (QEMU); and its volume/path.
    slot: p.string().nullable(),
    volume: p.text().nullable(),
    state: p.enum(DISK_STATES).default('attaching'),
    lastError: p.text().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
});
export type IDisk = InferEntity<typeof Disk>;
