import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

export const SshKey = defineEntity({
  name: 'SshKey',
  tableName: 'ssh_key',
  properties: {
    id: p.uuid().primary(),
    name: p.string().unique(),
    publicKey: p.text(),
    keyType: p.string(),
    bits: p.integer(),
    fingerprint: p.string().unique(),
    comment: p.text().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});
export type ISshKey = InferEntity<typeof SshKey>;
