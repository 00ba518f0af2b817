// The cloud-subnet activities (allocateSubnet, releaseSubnet): thin and idempotent. They take the
// subnet's id only and load the account themselves, so credentials never enter a workflow's
// arguments or history; the cloud client comes from the injected CloudAccess, one per call.
import type { MikroORM } from '@mikro-orm/postgresql';
import { HangarError } from '../domain/errors.ts';
import { freeSubnetBlock, setSubnetState, type SubnetUpdate } from '../db/repositories/subnets.ts';
import { sqlFor } from '../db/sql.ts';
import type { CloudAccess } from '../providers/cloud-access.ts';
import type { CloudNetworks, CloudSubnet } from '../providers/cloud-networks.ts';
import type { CloudProvider } from '../domain/accounts.ts';
import type { SecondaryRange } from '../domain/subnets.ts';
import { cancellable, heartbeatIfInActivity, withFailureMapping } from './failures.ts';

export interface SubnetActivityDeps {
  orm: MikroORM;
  cloud: CloudAccess;
  /** First poll while a subnet becomes available (doubled per poll up to 5 s). */
  pollMs?: number;
}

/** What the cloud holds, as the workflow needs it (no credentials, nothing secret). */
export interface CloudSubnetRef {
  providerId: string;
  state: string;
  zone: string | null;
}

interface SubnetTarget {
  id: string;
  name: string | null;
  region: string;
  zone: string | null;
  network_id: string;
  cidr: string;
  provider_id: string | null;
  secondary_ranges: SecondaryRange[];
  tags: Record<string, string>;
  provider: CloudProvider;
  key: string;
  regions: string[];
  credentials_ref: string | null;
}

const refOf = (s: CloudSubnet): CloudSubnetRef => ({ providerId: s.id, state: s.state, zone: s.zone });
const isAvailable = (state: string) => state === 'available' || state === 'ready';

export function createSubnetActivities(deps: SubnetActivityDeps) {
  async function target(subnetId: string): Promise<SubnetTarget> {
    const [row] = await sqlFor(deps.orm.em.fork())<SubnetTarget[]>(
      `select s.id, s.name, s.region, s.zone, s.network_id, s.cidr::text as cidr, s.provider_id, s.secondary_ranges, s.tags,
              a.provider, a.key, a.regions, a.credentials_ref
         from cloud_subnet s join account a on a.id = s.account_id where s.id = ?`,
      [subnetId],
    );
    if (!row) throw new HangarError('not_found', `subnet ${subnetId} not found`);
    return row;
  }

  /** Runs `fn` with a client for the subnet's account, closed afterwards. */
  async function withCloud<T>(t: SubnetTarget, fn: (cloud: CloudNetworks) => Promise<T>): Promise<T> {
    const client = deps.cloud.networksFor({ provider: t.provider, id: t.key.split(':')[1]!, regions: t.regions, credentialsRef: t.credentials_ref });
    try {
      return await fn(client);
    } finally {
      await client.close();
    }
  }

  /** The subnet in the cloud: its recorded id, else the one carrying Hangar's tag (a create whose reply was lost). */
  async function locate(cloud: CloudNetworks, t: SubnetTarget): Promise<CloudSubnet | null> {
    if (t.provider_id) {
      const byId = await cloud.getSubnet(t.region, t.provider_id, cancellable());
      if (byId) return byId;
    }
    return cloud.findSubnetByHangarId(t.region, t.id, cancellable());
  }

  return withFailureMapping({
    /** Looks the subnet up by Hangar's tag first, so a retried or crashed create never makes a second one. */
    async findOrCreateCloudSubnet(subnetId: string): Promise<CloudSubnetRef> {
      const t = await target(subnetId);
      return withCloud(t, async (cloud) => {
        const existing = await cloud.findSubnetByHangarId(t.region, t.id, cancellable());
        if (existing) return refOf(existing);
        const created = await cloud.createSubnet(
          {
            hangarId: t.id,
            region: t.region,
            networkId: t.network_id,
            cidr: t.cidr,
            ...(t.zone ? { zone: t.zone } : {}),
            ...(t.name ? { name: t.name } : {}),
            ...(t.secondary_ranges.length ? { secondaryRanges: t.secondary_ranges } : {}),
            tags: t.tags,
          },
          cancellable(),
        );
        return refOf(created);
      });
    },

    /** Polls the subnet until the cloud reports it usable (AWS `available`, GCP `READY`). */
    async waitCloudSubnetAvailable(subnetId: string, providerId: string): Promise<CloudSubnetRef> {
      const t = await target(subnetId);
      const { signal } = cancellable();
      return withCloud(t, async (cloud) => {
        let delay = deps.pollMs ?? 250;
        for (;;) {
          const s = await cloud.getSubnet(t.region, providerId, signal ? { signal } : {});
          if (!s) throw new HangarError('cloud_operation_failed', `subnet ${providerId} disappeared from ${t.region} while it was being created`);
          if (isAvailable(s.state)) return refOf(s);
          heartbeatIfInActivity({ state: s.state });
          await new Promise<void>((resolve, reject) => {
            const timer = setTimeout(resolve, delay);
            signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
            if (signal?.aborted) clearTimeout(timer);
          });
          delay = Math.min(delay * 2, 5000);
        }
      });
    },

    /** Deletes the subnet in the cloud; already gone (or never made) is done. */
    async deleteCloudSubnet(subnetId: string): Promise<{ deleted: boolean }> {
      const t = await target(subnetId);
      return withCloud(t, async (cloud) => {
        const found = await locate(cloud, t);
        if (!found) return { deleted: false };
        return cloud.deleteSubnet(t.region, found.id, cancellable());
      });
    },

    async markSubnet(subnetId: string, update: SubnetUpdate): Promise<void> {
      await setSubnetState(deps.orm.em.fork(), subnetId, update);
    },

    async freeSubnetBlock(subnetId: string): Promise<{ freed: boolean }> {
      return freeSubnetBlock(deps.orm.em.fork(), subnetId);
    },
  });
}

export type SubnetActivities = ReturnType<typeof createSubnetActivities>;
