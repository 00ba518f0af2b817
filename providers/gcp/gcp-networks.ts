// CloudNetworks on GCP: VPC networks and subnetworks of one project through @google-cloud/compute
// over its REST transport (`fallback: true`: HTTP/1.1 + JSON, which also lets tests point
// `apiEndpoint` at the simulator), authenticated by a service-account key's signed-JWT flow
// (./auth.ts). gax's own retries are off so providers/cloud-retry.ts is the one policy; mutations
// return long-running operations that are polled (first poll fast) until DONE, and an operation
// that ends with errors is surfaced with GCP's code.
import { GlobalOperationsClient, NetworksClient, RegionOperationsClient, SubnetworksClient, type protos } from '@google-cloud/compute';
import { HangarError } from '../../domain/errors.ts';
import type { CallOptions } from '../hypervisor.ts';
import {
  HANGAR_SUBNET_TAG,
  type CloudIdentity,
  type CloudListing,
  type CloudNetwork,
  type CloudNetworks,
  type CloudSubnet,
  type ListOptions,
  type SubnetSpec,
} from '../cloud-networks.ts';
import { PRODUCTION_RETRY, withCloudRetry, type CloudRetryOptions } from '../cloud-retry.ts';
import { sleep as timerSleep, throwIfAborted } from '../support/sleep.ts';
import { jwtClientFor, type GcpServiceAccountKey } from './auth.ts';
import { isGcpRetryable, operationError, toGcpHangarError } from './errors.ts';

type ISubnetwork = protos.google.cloud.compute.v1.ISubnetwork;
type INetwork = protos.google.cloud.compute.v1.INetwork;
type IOperation = protos.google.cloud.compute.v1.IOperation;

export interface GcpNetworksOptions {
  project: string;
  /** The account's regions; empty: subnets are listed with one aggregated list over every region. */
  regions: string[];
  key: GcpServiceAccountKey;
  /** `http://127.0.0.1:<port>` for the simulator, or a private endpoint; absent: compute.googleapis.com. */
  apiEndpoint?: string;
  retry?: CloudRetryOptions;
  /** maxResults of list calls (GCP allows up to 500). */
  pageSize?: number;
  /** First delay between operation polls (doubled per poll up to 5 s). */
  pollMs?: number;
}

/** Hangar's id and tags live in the subnetwork's description (subnetworks have no labels). */
const TAG_SEPARATOR = '; ';
const GAX_CALL = { retry: { retryCodes: [] as number[] }, timeout: 60_000 };

export class GcpNetworks implements CloudNetworks {
  readonly cloud = 'gcp' as const;
  private readonly networks: NetworksClient;
  private readonly subnetworks: SubnetworksClient;
  private readonly regionOps: RegionOperationsClient;
  private readonly globalOps: GlobalOperationsClient;
  private readonly retry: CloudRetryOptions;
  private readonly opts: GcpNetworksOptions;

  constructor(opts: GcpNetworksOptions) {
    this.opts = opts;
    this.retry = opts.retry ?? PRODUCTION_RETRY;
    const clientOptions = { fallback: true, authClient: jwtClientFor(opts.key), ...endpointOptions(opts.apiEndpoint) };
    this.networks = new NetworksClient(clientOptions);
    this.subnetworks = new SubnetworksClient(clientOptions);
    this.regionOps = new RegionOperationsClient(clientOptions);
    this.globalOps = new GlobalOperationsClient(clientOptions);
  }

  async verify(opts: CallOptions = {}): Promise<CloudIdentity> {
    const [items] = await this.call(
      'networks.list',
      () => this.networks.list({ project: this.opts.project, maxResults: 5 }, { ...GAX_CALL, autoPaginate: false }),
      opts,
    );
    return { principal: this.opts.key.client_email, account: this.opts.project, networks: items.length };
  }

  async listNetworks(opts: ListOptions = {}): Promise<CloudListing<CloudNetwork>> {
    const items: INetwork[] = [];
    let pageToken: string | undefined;
    do {
      const [page, , raw] = await this.call(
        'networks.list',
        () => this.networks.list({ project: this.opts.project, maxResults: this.pageSize(), pageToken }, { ...GAX_CALL, autoPaginate: false }),
        opts,
      );
      items.push(...page);
      opts.onPage?.();
      pageToken = raw?.nextPageToken || undefined;
    } while (pageToken);
    return { items: items.map(networkOf), failures: [] };
  }

  async listSubnets(opts: ListOptions = {}): Promise<CloudListing<CloudSubnet>> {
    if (!this.opts.regions.length) return this.aggregatedSubnets(opts);
    const results = await Promise.allSettled(this.opts.regions.map((r) => this.regionSubnets(r, opts)));
    const listing: CloudListing<CloudSubnet> = { items: [], failures: [] };
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') listing.items.push(...r.value);
      else if (opts.signal?.aborted) throw r.reason;
      else listing.failures.push({ region: this.opts.regions[i]!, error: (r.reason as Error)?.message ?? String(r.reason) });
    });
    return listing;
  }

  async getSubnet(region: string, id: string, opts: CallOptions = {}): Promise<CloudSubnet | null> {
    try {
      const [s] = await this.call(
        `subnetworks.get ${region}/${id}`,
        () => this.subnetworks.get({ project: this.opts.project, region, subnetwork: id }, GAX_CALL),
        opts,
      );
      return subnetOf(s);
    } catch (err) {
      if (err instanceof HangarError && err.code === 'not_found') return null;
      throw err;
    }
  }

  async findSubnetByHangarId(region: string, hangarId: string, opts: CallOptions = {}): Promise<CloudSubnet | null> {
    const subnets = await this.regionSubnets(region, opts);
    return subnets.find((s) => s.tags[HANGAR_SUBNET_TAG] === hangarId) ?? null;
  }

  async createSubnet(spec: SubnetSpec, opts: CallOptions = {}): Promise<CloudSubnet> {
    const name = spec.name ?? `hangar-${spec.hangarId}`;
    const resource: ISubnetwork = {
      name,
      network: spec.networkId.includes('/') ? spec.networkId : `projects/${this.opts.project}/global/networks/${spec.networkId}`,
      ipCidrRange: spec.cidr,
      description: describeTags({ ...(spec.tags ?? {}), [HANGAR_SUBNET_TAG]: spec.hangarId }),
      ...(spec.secondaryRanges?.length ? { secondaryIpRanges: spec.secondaryRanges.map((r) => ({ rangeName: r.name, ipCidrRange: r.cidr })) } : {}),
    };
    const [lro] = await this.call(
      `subnetworks.insert ${spec.region}/${name}`,
      () => this.subnetworks.insert({ project: this.opts.project, region: spec.region, subnetworkResource: resource }, GAX_CALL),
      opts,
    );
    await this.waitDone(operationOf(lro), spec.region, `subnetworks.insert ${spec.region}/${name}`, opts);
    const created = await this.getSubnet(spec.region, name, opts);
    if (!created)
      throw new HangarError(
        'cloud_operation_failed',
        `notFound: subnetworks.insert ${spec.region}/${name}: the operation finished but the subnetwork is not there`,
      );
    return created;
  }

  async deleteSubnet(region: string, id: string, opts: CallOptions = {}): Promise<{ deleted: boolean }> {
    try {
      const [lro] = await this.call(
        `subnetworks.delete ${region}/${id}`,
        () => this.subnetworks.delete({ project: this.opts.project, region, subnetwork: id }, GAX_CALL),
        opts,
      );
      await this.waitDone(operationOf(lro), region, `subnetworks.delete ${region}/${id}`, opts);
      return { deleted: true };
    } catch (err) {
      if (err instanceof HangarError && err.code === 'not_found') return { deleted: false };
      throw err;
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.networks.close(), this.subnetworks.close(), this.regionOps.close(), this.globalOps.close()]);
  }

  /** Polls the operation until DONE (first poll after pollMs, then doubling to 5 s); an operation error is thrown with GCP's code. */
  private async waitDone(started: IOperation | undefined, region: string | null, what: string, opts: CallOptions): Promise<IOperation> {
    if (!started?.name) throw new HangarError('cloud_operation_failed', `OPERATION_MISSING: ${what}: GCP returned no operation`);
    let op = started;
    let delay = this.opts.pollMs ?? 250;
    while (String(op.status) !== 'DONE') {
      await (this.retry.sleep ?? timerSleep)(delay, opts.signal);
      delay = Math.min(delay * 2, 5000);
      const name = started.name;
      [op] = region
        ? await this.call(`regionOperations.get ${name}`, () => this.regionOps.get({ project: this.opts.project, region, operation: name }, GAX_CALL), opts)
        : await this.call(`globalOperations.get ${name}`, () => this.globalOps.get({ project: this.opts.project, operation: name }, GAX_CALL), opts);
    }
    if (op.error?.errors?.length) throw operationError(op, what);
    return op;
  }

  private async regionSubnets(region: string, opts: ListOptions): Promise<CloudSubnet[]> {
    const items: ISubnetwork[] = [];
    let pageToken: string | undefined;
    do {
      const [page, , raw] = await this.call(
        `subnetworks.list ${region}`,
        () => this.subnetworks.list({ project: this.opts.project, region, maxResults: this.pageSize(), pageToken }, { ...GAX_CALL, autoPaginate: false }),
        opts,
      );
      items.push(...page);
      opts.onPage?.();
      pageToken = raw?.nextPageToken || undefined;
    } while (pageToken);
    return items.map(subnetOf);
  }

  /** One aggregated list over every region; a region GCP reports unreachable becomes a failure. */
  private async aggregatedSubnets(opts: ListOptions): Promise<CloudListing<CloudSubnet>> {
    const listing: CloudListing<CloudSubnet> = { items: [], failures: [] };
    const iterable = this.subnetworks.aggregatedListAsync({ project: this.opts.project, maxResults: this.pageSize() }, GAX_CALL);
    try {
      for await (const [scope, scoped] of iterable) {
        throwIfAborted(opts.signal);
        const region = scope.replace(/^regions\//, '');
        if (scoped.warning && scoped.warning.code !== 'NO_RESULTS_ON_PAGE') {
          listing.failures.push({ region, error: `${scoped.warning.code}: ${scoped.warning.message ?? ''}` });
        }
        listing.items.push(...(scoped.subnetworks ?? []).map(subnetOf));
        opts.onPage?.();
      }
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      throw toGcpHangarError(err, 'subnetworks.aggregatedList');
    }
    return listing;
  }

  /** One GCP call under the retry policy, cancellable; what escapes is a HangarError led by GCP's reason. */
  private async call<T>(what: string, fn: () => Promise<T>, opts: CallOptions): Promise<T> {
    try {
      return await withCloudRetry(() => abortable(fn(), opts.signal), isGcpRetryable, this.retry, opts.signal);
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      throw toGcpHangarError(err, what);
    }
  }

  private pageSize(): number {
    return this.opts.pageSize ?? 500;
  }
}

/** gax calls take no AbortSignal: the wait is abandoned on abort (the HTTP call finishes unobserved). */
function abortable<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  throwIfAborted(signal);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason ?? new DOMException('The operation was aborted', 'AbortError'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** The compute clients wrap the raw Operation in an LROperation; Hangar polls it itself. */
function operationOf(lro: { latestResponse?: unknown } | undefined): IOperation | undefined {
  return lro?.latestResponse as IOperation | undefined;
}

/** `http://host:port` → the REST transport's apiEndpoint, port and protocol. */
function endpointOptions(endpoint: string | undefined): Record<string, unknown> {
  if (!endpoint) return {};
  const u = new URL(endpoint);
  const protocol = u.protocol.replace(':', '');
  return { apiEndpoint: u.hostname, port: Number(u.port || (protocol === 'https' ? 443 : 80)), protocol };
}

export function describeTags(tags: Record<string, string>): string {
  return Object.entries(tags)
    .map(([k, v]) => `${k}=${v}`)
    .join(TAG_SEPARATOR);
}

export function tagsFromDescription(description: string | null | undefined): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const part of (description ?? '').split(TAG_SEPARATOR)) {
    const eq = part.indexOf('=');
    if (eq > 0) tags[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return tags;
}

const lastSegment = (link: string | null | undefined) => (link ?? '').split('/').at(-1) ?? '';

function networkOf(n: INetwork): CloudNetwork {
  return { id: n.name ?? '', name: n.name ?? null, cidrs: n.IPv4Range ? [n.IPv4Range] : [], region: null, isDefault: n.name === 'default', tags: {} };
}

function subnetOf(s: ISubnetwork): CloudSubnet {
  return {
    id: s.name ?? '',
    name: s.name ?? null,
    networkId: lastSegment(s.network),
    region: lastSegment(s.region),
    zone: null,
    cidr: s.ipCidrRange ?? '',
    ipv6Cidrs: s.ipv6CidrRange ? [s.ipv6CidrRange] : [],
    secondaryRanges: (s.secondaryIpRanges ?? []).map((r) => ({ name: r.rangeName ?? '', cidr: r.ipCidrRange ?? '' })),
    state: String(s.state ?? 'READY').toLowerCase(),
    tags: tagsFromDescription(s.description),
  };
}
