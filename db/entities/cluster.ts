import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { CLUSTER_ROLES } from '../../domain/cluster.ts';
import { Machine } from './machine.ts';

/** A group of machines with roles; its control-plane endpoint is derived (domain/host.ts deriveControlPlane). */
export const Cluster = defineEntity({
  name: 'Cluster',
  tableName: 'cluster',
  properties: {
    id: p.uuid().primary(),
    name: p.string().unique(),
    description: p.text().nullable(),
    // An explicit VIP wins over the control-plane machines' addresses.
    controlPlaneVip: p.string().nullable(),
    controlPlanePort: p.integer().default(6443).check('control_plane_port >= 1 and control_plane_port <= 65535'),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
});
export type ICluster = InferEntity<typeof Cluster>;

/** A machine's membership: at most one cluster per machine; deleting either side removes it. */
export const ClusterMachine = defineEntity({
  name: 'ClusterMachine',
  tableName: 'cluster_machine',
  properties: {
    machineId: () => p.manyToOne(Machine).mapToPk().joinColumn('machine_id').primary().deleteRule('cascade'),
    clusterId: () => p.manyToOne(Cluster).mapToPk().joinColumn('cluster_id').deleteRule('cascade').index('cluster_machine_cluster_id_index'),
    role: p.enum(CLUSTER_ROLES),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});
export type IClusterMachine = InferEntity<typeof ClusterMachine>;
