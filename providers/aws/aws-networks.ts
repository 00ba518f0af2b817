// CloudNetworks on AWS: EC2 VPCs and subnets in every region of one account, through
// @aws-sdk/client-ec2 (endpoint override for moto or a VPC endpoint). One EC2 client per region;
// the SDK's own retries are off (maxAttempts 1) so providers/cloud-retry.ts is the one policy.
import {
  CreateSubnetCommand,
  DeleteSubnetCommand,
  DescribeRegionsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  EC2Client,
  type Filter,
  type Subnet,
  type Tag,
  type Vpc,
} from '@aws-sdk/client-ec2';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
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
import { sleep as timerSleep } from '../support/sleep.ts';
import { awsCredentialProvider, type AwsCredentials } from './credentials.ts';
import { isAwsRetryable, toAwsHangarError } from './errors.ts';

export interface AwsNetworksOptions {
  /** The 12-digit account id the credentials must belong to. */
  accountId: string;
  /** The account's regions; empty: every region DescribeRegions reports. */
  regions: string[];
  credentials: AwsCredentials;
  /** `http://127.0.0.1:<port>` for moto; absent: AWS's regional endpoints. */
  endpoint?: string;
  retry?: CloudRetryOptions;
  /** Page size of the Describe calls (AWS allows 5-1000). */
  pageSize?: number;
  /** First delay between polls of a pending subnet (doubled per poll up to 5 s). */
  pollMs?: number;
}

/** Region used for account-wide calls (STS, DescribeRegions) when the account names none. */
const HOME_REGION = 'us-east-1';

export class AwsNetworks implements CloudNetworks {
  readonly cloud = 'aws' as const;
  private readonly clients = new Map<string, EC2Client>();
  private readonly credentials;
  private readonly retry: CloudRetryOptions;
  private readonly opts: AwsNetworksOptions;

  constructor(opts: AwsNetworksOptions) {
    this.opts = opts;
    this.retry = opts.retry ?? PRODUCTION_RETRY;
    this.credentials = awsCredentialProvider(opts.credentials, { region: this.homeRegion(), endpoint: opts.endpoint });
  }

  async verify(opts: CallOptions = {}): Promise<CloudIdentity> {
    const sts = new STSClient({ region: this.homeRegion(), credentials: this.credentials, maxAttempts: 1, ...this.endpoint() });
    try {
      const who = await this.call('GetCallerIdentity', () => sts.send(new GetCallerIdentityCommand({}), { abortSignal: opts.signal }), opts);
      if (who.Account !== this.opts.accountId) {
        throw new HangarError('cloud_credentials_invalid', `AccountMismatch: the credentials belong to AWS account ${who.Account}, not ${this.opts.accountId}`);
      }
      const region = this.homeRegion();
      const vpcs = await this.call('DescribeVpcs', () => this.ec2(region).send(new DescribeVpcsCommand({ MaxResults: 5 }), { abortSignal: opts.signal }), opts);
      return { principal: who.Arn ?? '', account: who.Account, networks: vpcs.Vpcs?.length ?? 0 };
    } finally {
      sts.destroy();
    }
  }

  async listNetworks(opts: ListOptions = {}): Promise<CloudListing<CloudNetwork>> {
    return this.acrossRegions(opts, async (region) => {
      const vpcs = await this.pages<Vpc>('DescribeVpcs', region, opts, async (token) => {
        const out = await this.ec2(region).send(new DescribeVpcsCommand({ MaxResults: this.pageSize(), NextToken: token }), { abortSignal: opts.signal });
        return { items: out.Vpcs ?? [], next: out.NextToken };
      });
      return vpcs.map((v) => networkOf(v, region));
    });
  }

  async listSubnets(opts: ListOptions = {}): Promise<CloudListing<CloudSubnet>> {
    return this.acrossRegions(opts, (region) => this.describeSubnets(region, [], opts));
  }

  async getSubnet(region: string, id: string, opts: CallOptions = {}): Promise<CloudSubnet | null> {
    try {
      const out = await this.call(
        'DescribeSubnets',
        () => this.ec2(region).send(new DescribeSubnetsCommand({ SubnetIds: [id] }), { abortSignal: opts.signal }),
        opts,
      );
      const found = out.Subnets?.[0];
      return found ? subnetOf(found, region) : null;
    } catch (err) {
      if (err instanceof HangarError && err.code === 'not_found') return null;
      throw err;
    }
  }

  async findSubnetByHangarId(region: string, hangarId: string, opts: CallOptions = {}): Promise<CloudSubnet | null> {
    const found = await this.describeSubnets(region, [{ Name: `tag:${HANGAR_SUBNET_TAG}`, Values: [hangarId] }], opts);
    return found[0] ?? null;
  }

  async createSubnet(spec: SubnetSpec, opts: CallOptions = {}): Promise<CloudSubnet> {
    const tags: Tag[] = Object.entries({ ...(spec.tags ?? {}), Name: spec.name ?? `hangar-${spec.hangarId}`, [HANGAR_SUBNET_TAG]: spec.hangarId }).map(
      ([Key, Value]) => ({ Key, Value }),
    );
    const out = await this.call(
      'CreateSubnet',
      () =>
        this.ec2(spec.region).send(
          new CreateSubnetCommand({
            VpcId: spec.networkId,
            CidrBlock: spec.cidr,
            ...(spec.zone ? { AvailabilityZone: spec.zone } : {}),
            TagSpecifications: [{ ResourceType: 'subnet', Tags: tags }],
          }),
          { abortSignal: opts.signal },
        ),
      opts,
    );
    const id = out.Subnet?.SubnetId;
    if (!id) throw new HangarError('cloud_operation_failed', `CreateSubnet: AWS returned no subnet id for ${spec.cidr}`);
    return this.waitAvailable(spec.region, id, opts);
  }

  async deleteSubnet(region: string, id: string, opts: CallOptions = {}): Promise<{ deleted: boolean }> {
    try {
      await this.call('DeleteSubnet', () => this.ec2(region).send(new DeleteSubnetCommand({ SubnetId: id }), { abortSignal: opts.signal }), opts);
      return { deleted: true };
    } catch (err) {
      if (err instanceof HangarError && err.code === 'not_found') return { deleted: false };
      throw err;
    }
  }

  /** Stops every regional client (sockets); the object is unusable afterwards. */
  close(): void {
    for (const c of this.clients.values()) c.destroy();
    this.clients.clear();
  }

  private async waitAvailable(region: string, id: string, opts: CallOptions): Promise<CloudSubnet> {
    let delay = this.opts.pollMs ?? 250;
    for (;;) {
      const subnet = await this.getSubnet(region, id, opts);
      if (subnet && subnet.state === 'available') return subnet;
      await (this.retry.sleep ?? timerSleep)(delay, opts.signal);
      delay = Math.min(delay * 2, 5000);
    }
  }

  private async describeSubnets(region: string, filters: Filter[], opts: ListOptions): Promise<CloudSubnet[]> {
    const subnets = await this.pages<Subnet>('DescribeSubnets', region, opts, async (token) => {
      const out = await this.ec2(region).send(
        new DescribeSubnetsCommand({ Filters: filters.length ? filters : undefined, MaxResults: this.pageSize(), NextToken: token }),
        { abortSignal: opts.signal },
      );
      return { items: out.Subnets ?? [], next: out.NextToken };
    });
    return subnets.map((s) => subnetOf(s, region));
  }

  /** Follows NextToken to the end; each page is retried on its own. */
  private async pages<T>(what: string, region: string, opts: ListOptions, page: (token?: string) => Promise<{ items: T[]; next?: string }>): Promise<T[]> {
    const all: T[] = [];
    let token: string | undefined;
    do {
      const out = await this.call(`${what} in ${region}`, () => page(token), opts);
      all.push(...out.items);
      opts.onPage?.();
      token = out.next || undefined;
    } while (token);
    return all;
  }

  /** Runs `list` in every region; a region that fails is reported with AWS's code, the others still count. */
  private async acrossRegions<T>(opts: ListOptions, list: (region: string) => Promise<T[]>): Promise<CloudListing<T>> {
    const regions = await this.regions(opts);
    const results = await Promise.allSettled(regions.map((r) => list(r)));
    const listing: CloudListing<T> = { items: [], failures: [] };
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') listing.items.push(...r.value);
      else if (opts.signal?.aborted) throw r.reason;
      else listing.failures.push({ region: regions[i]!, error: (r.reason as Error)?.message ?? String(r.reason) });
    });
    return listing;
  }

  private async regions(opts: CallOptions): Promise<string[]> {
    if (this.opts.regions.length) return this.opts.regions;
    const out = await this.call('DescribeRegions', () => this.ec2(HOME_REGION).send(new DescribeRegionsCommand({}), { abortSignal: opts.signal }), opts);
    return (out.Regions ?? []).map((r) => r.RegionName!).filter(Boolean);
  }

  /** One AWS call under the retry policy; what escapes is a HangarError led by AWS's code. */
  private async call<T>(what: string, fn: () => Promise<T>, opts: CallOptions): Promise<T> {
    try {
      return await withCloudRetry(fn, isAwsRetryable, this.retry, opts.signal);
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      throw toAwsHangarError(err, what);
    }
  }

  private ec2(region: string): EC2Client {
    let client = this.clients.get(region);
    if (!client) {
      client = new EC2Client({ region, credentials: this.credentials, maxAttempts: 1, ...this.endpoint() });
      this.clients.set(region, client);
    }
    return client;
  }

  private endpoint(): { endpoint?: string } {
    return this.opts.endpoint ? { endpoint: this.opts.endpoint } : {};
  }

  private homeRegion(): string {
    return this.opts.regions[0] ?? HOME_REGION;
  }

  private pageSize(): number {
    return this.opts.pageSize ?? 1000;
  }
}

function tagsOf(tags: Tag[] | undefined): Record<string, string> {
  return Object.fromEntries((tags ?? []).filter((t) => t.Key).map((t) => [t.Key!, t.Value ?? '']));
}

function networkOf(v: Vpc, region: string): CloudNetwork {
  const tags = tagsOf(v.Tags);
  const cidrs = (v.CidrBlockAssociationSet ?? []).map((a) => a.CidrBlock!).filter(Boolean);
  return {
    id: v.VpcId!,
    name: tags.Name ?? null,
    cidrs: cidrs.length ? cidrs : v.CidrBlock ? [v.CidrBlock] : [],
    region,
    isDefault: v.IsDefault ?? false,
    tags,
  };
}

function subnetOf(s: Subnet, region: string): CloudSubnet {
  const tags = tagsOf(s.Tags);
  return {
    id: s.SubnetId!,
    name: tags.Name ?? null,
    networkId: s.VpcId!,
    region,
    zone: s.AvailabilityZone ?? null,
    cidr: s.CidrBlock ?? '',
    ipv6Cidrs: (s.Ipv6CidrBlockAssociationSet ?? []).map((a) => a.Ipv6CidrBlock!).filter(Boolean),
    secondaryRanges: [],
    state: String(s.State ?? 'available').toLowerCase(),
    tags,
  };
}
