// The one interface Hangar's cloud code talks to, whatever the cloud: networks (AWS VPCs, GCP VPC
// networks) and their subnets in every region of one account. providers/aws and providers/gcp
// implement it; the subnet workflows (allocate, release, discover) build on exactly these calls.
// Errors are HangarErrors (domain/errors.ts) whose message starts with the cloud's own error code
// (`InvalidSubnet.Conflict: ...`, `resourceInUseByAnotherResource: ...`), so the API's `detail`
// names what the cloud said.
import type { CallOptions } from './hypervisor.ts';

export type CloudName = 'aws' | 'gcp';

/** The tag (AWS) / label (GCP) key carrying Hangar's subnet id on every subnet Hangar creates. */
export const HANGAR_SUBNET_TAG = 'hangar-subnet-id';

export interface CloudNetwork {
  /** AWS `vpc-…`; GCP the network's name. */
  id: string;
  name: string | null;
  /** AWS: the VPC's primary CIDR and its associations; GCP: empty (custom-mode networks have none). */
  cidrs: string[];
  /** AWS: the VPC's region; GCP networks are global: null. */
  region: string | null;
  isDefault: boolean;
  tags: Record<string, string>;
}

export interface SecondaryRange {
  name: string;
  cidr: string;
}

export interface CloudSubnet {
  /** AWS `subnet-…`; GCP the subnetwork's name (unique per project and region). */
  id: string;
  name: string | null;
  networkId: string;
  region: string;
  /** AWS: the availability zone; GCP subnets are regional: null. */
  zone: string | null;
  cidr: string;
  ipv6Cidrs: string[];
  secondaryRanges: SecondaryRange[];
  /** AWS `pending | available`; GCP `READY | DRAINING`, lower-cased. */
  state: string;
  tags: Record<string, string>;
}

/** A listing across regions: what could be listed, and the regions (with the cloud's error) that could not. */
export interface CloudListing<T> {
  items: T[];
  failures: Array<{ region: string; error: string }>;
}

export interface SubnetSpec {
  /** Hangar's subnet id, written into the tag/label HANGAR_SUBNET_TAG so a retried create finds it. */
  hangarId: string;
  region: string;
  networkId: string;
  cidr: string;
  /** AWS: the availability zone (absent: AWS picks one). Ignored by GCP. */
  zone?: string;
  /** GCP: the subnetwork's name (default `hangar-<hangarId>`); AWS: the Name tag. */
  name?: string;
  secondaryRanges?: SecondaryRange[];
  tags?: Record<string, string>;
}

export interface ListOptions extends CallOptions {
  /** Called once per page, so an activity can heartbeat through a long listing. */
  onPage?: () => void;
}

/** What verify() learnt about the credentials (never the credentials themselves). */
export interface CloudIdentity {
  /** AWS: the caller's ARN; GCP: the service account's email. */
  principal: string;
  /** AWS account id / GCP project id the credentials act on. */
  account: string;
  /** What the second check (a describe / a network list) found. */
  networks: number;
}

export interface CloudNetworks {
  readonly cloud: CloudName;
  /** Proves the credentials work: AWS GetCallerIdentity + DescribeVpcs; GCP a list of the project's networks. */
  verify(opts?: CallOptions): Promise<CloudIdentity>;
  /** Every network (AWS: in every region of the account), paged through to the end. */
  listNetworks(opts?: ListOptions): Promise<CloudListing<CloudNetwork>>;
  /** Every subnet in every region of the account; a region that fails is reported, the rest listed. */
  listSubnets(opts?: ListOptions): Promise<CloudListing<CloudSubnet>>;
  /** One subnet, or null when it does not exist. */
  getSubnet(region: string, id: string, opts?: CallOptions): Promise<CloudSubnet | null>;
  /** The subnet carrying Hangar's tag/label for this id in `region`, or null. */
  findSubnetByHangarId(region: string, hangarId: string, opts?: CallOptions): Promise<CloudSubnet | null>;
  /** Creates the subnet (tagged with Hangar's id) and returns it once the cloud reports it done. */
  createSubnet(spec: SubnetSpec, opts?: CallOptions): Promise<CloudSubnet>;
  /**
   * Deletes the subnet; "already gone" is success (`deleted: false`). A subnet still in use fails
   * with `cloud_dependency_violation` (409) carrying the cloud's message.
   */
  deleteSubnet(region: string, id: string, opts?: CallOptions): Promise<{ deleted: boolean }>;
}
