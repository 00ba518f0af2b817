// The cloud providers against their local peers: AWS against moto's server, GCP against the
// schema-checked simulator (test/fakes/gcp) with the real signed-JWT flow. The retry sleep is
// injected and records its delays, so throttling is retried without waiting.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { CreateVpcCommand, EC2Client } from '@aws-sdk/client-ec2';
import { AwsNetworks } from '../../providers/aws/aws-networks.ts';
import { GcpNetworks } from '../../providers/gcp/gcp-networks.ts';
import { HANGAR_SUBNET_TAG } from '../../providers/cloud-networks.ts';
import type { CloudRetryOptions } from '../../providers/cloud-retry.ts';
import { HangarError } from '../../domain/errors.ts';
import { startMoto, type MotoServer } from '../support/moto.ts';
import { startGcpSimulator, type GcpSimulator } from '../fakes/gcp/simulator.ts';
/** The rejection of `p` (fails the test when it resolves). */
async function thrown(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

const MOTO_ACCOUNT = '123456789012';
const awsKeys = { accessKeyId: 'AKIDHANGARTEST', secretAccessKey: 'aws-secret-that-must-not-leak' };
const PROJECT = 'hangar-test-project';

function recordingRetry(attempts = 4): CloudRetryOptions & { delays: number[] } {
  const delays: number[] = [];
  return { initialMs: 2000, maxMs: 30_000, attempts, delays, sleep: async (ms) => void delays.push(ms) };
}

describe('AWS provider against moto', () => {
  let moto: MotoServer;
  beforeAll(async () => {
    moto = await startMoto();
  });
  afterAll(async () => {
    await moto?.stop();
  });
  beforeEach(async () => {
    await moto.reset();
  });

  const aws = (extra: Partial<ConstructorParameters<typeof AwsNetworks>[0]> = {}) =>
    new AwsNetworks({
      accountId: MOTO_ACCOUNT,
      regions: ['eu-west-1', 'us-east-1'],
      credentials: awsKeys,
      endpoint: moto.url,
      retry: recordingRetry(),
      pollMs: 10,
      ...extra,
    });

  async function vpc(region: string, cidr: string): Promise<string> {
    const ec2 = new EC2Client({ region, endpoint: moto.url, credentials: awsKeys });
    const out = await ec2.send(new CreateVpcCommand({ CidrBlock: cidr }));
    ec2.destroy();
    return out.Vpc!.VpcId!;
  }

  it('verifies, creates a tagged subnet, finds it by Hangar id, lists it, deletes it (twice)', async () => {
    const cloud = aws();
    const who = await cloud.verify();
    expect(who.account).toBe(MOTO_ACCOUNT);
    const vpcId = await vpc('eu-west-1', '10.20.0.0/16');
    const created = await cloud.createSubnet({ hangarId: 'sub-1', region: 'eu-west-1', networkId: vpcId, cidr: '10.20.1.0/24', tags: { team: 'net' } });
    expect(created).toMatchObject({ networkId: vpcId, cidr: '10.20.1.0/24', state: 'available', tags: { [HANGAR_SUBNET_TAG]: 'sub-1', team: 'net' } });
    expect((await cloud.findSubnetByHangarId('eu-west-1', 'sub-1'))?.id).toBe(created.id);
    expect(await cloud.findSubnetByHangarId('eu-west-1', 'sub-2')).toBeNull();
    const listing = await cloud.listSubnets();
    expect(listing.failures).toEqual([]);
    expect(listing.items.map((s) => s.id)).toContain(created.id);
    // Both regions were listed: each has its default VPC's subnets.
    expect(new Set(listing.items.map((s) => s.region))).toEqual(new Set(['eu-west-1', 'us-east-1']));
    const networks = await cloud.listNetworks();
    expect(
      networks.items
        .filter((n) => n.isDefault)
        .map((n) => n.region)
        .sort(),
    ).toEqual(['eu-west-1', 'us-east-1']);
    expect(await cloud.deleteSubnet('eu-west-1', created.id)).toEqual({ deleted: true });
    expect(await cloud.getSubnet('eu-west-1', created.id)).toBeNull();
    expect(await cloud.deleteSubnet('eu-west-1', created.id)).toEqual({ deleted: false });
    cloud.close();
  });

  it('refuses an invalid CIDR at once (no retry) with AWS code', async () => {
    const retry = recordingRetry();
    const cloud = aws({ retry });
    const vpcId = await vpc('eu-west-1', '10.21.0.0/16');
    const err = await thrown(cloud.createSubnet({ hangarId: 'bad', region: 'eu-west-1', networkId: vpcId, cidr: '192.168.0.0/24' }));
    expect(err).toBeInstanceOf(HangarError);
    expect((err as HangarError).code).toBe('cloud_rejected');
    expect((err as HangarError).message).toMatch(/^InvalidSubnet\.Range: CreateSubnet/);
    expect(retry.delays).toEqual([]);
    cloud.close();
  });

  it('assumes a role in another account through STS', async () => {
    const cloud = aws({ accountId: '111122223333', credentials: { ...awsKeys, roleArn: 'arn:aws:iam::111122223333:role/hangar' } });
    const who = await cloud.verify();
    expect(who).toMatchObject({ account: '111122223333', principal: expect.stringContaining('assumed-role/hangar') });
    cloud.close();
  });

  it('reports keys of another account as cloud_credentials_invalid (AccountMismatch)', async () => {
    const err = (await thrown(aws({ accountId: '999988887777' }).verify())) as HangarError;
    expect(err.code).toBe('cloud_credentials_invalid');
    expect(err.message).toMatch(/^AccountMismatch: .*123456789012/);
    expect(err.message).not.toContain(awsKeys.secretAccessKey);
  });
});

describe('GCP provider against the simulator', () => {
  let sim: GcpSimulator;
  beforeAll(async () => {
    sim = await startGcpSimulator({ operationMs: 40 });
  });
  afterAll(async () => {
    await sim?.stop();
  });
  beforeEach(() => {
    sim.reset();
    sim.addNetwork(PROJECT, 'vpc-main');
  });

  const gcp = (extra: Partial<ConstructorParameters<typeof GcpNetworks>[0]> = {}) =>
    new GcpNetworks({
      project: PROJECT,
      regions: ['us-central1', 'europe-west1'],
      key: sim.serviceAccount(PROJECT) as never,
      apiEndpoint: sim.url,
      retry: recordingRetry(),
      pollMs: 5,
      ...extra,
    });

  it('runs the signed-JWT flow against token_uri, creates with secondary ranges, finds, lists, deletes', async () => {
    const cloud = gcp();
    expect(await cloud.verify()).toMatchObject({ account: PROJECT, networks: 1 });
    expect(sim.tokensIssued).toBeGreaterThan(0);
    const created = await cloud.createSubnet({
      hangarId: 'sub-9',
      region: 'europe-west1',
      networkId: 'vpc-main',
      cidr: '10.30.0.0/24',
      secondaryRanges: [{ name: 'pods', cidr: '10.128.0.0/16' }],
    });
    expect(created).toMatchObject({
      id: 'hangar-sub-9',
      networkId: 'vpc-main',
      cidr: '10.30.0.0/24',
      secondaryRanges: [{ name: 'pods', cidr: '10.128.0.0/16' }],
    });
    expect(created.tags[HANGAR_SUBNET_TAG]).toBe('sub-9');
    // The operation was watched until DONE: PENDING/RUNNING polls happened before the read-back.
    expect(sim.requests.filter((r) => r.method === 'RegionOperations.Get').length).toBeGreaterThan(0);
    expect((await cloud.findSubnetByHangarId('europe-west1', 'sub-9'))?.id).toBe('hangar-sub-9');
    expect((await cloud.listSubnets()).items.map((s) => s.id)).toEqual(['hangar-sub-9']);
    expect(await cloud.deleteSubnet('europe-west1', 'hangar-sub-9')).toEqual({ deleted: true });
    expect(sim.subnetworks(PROJECT)).toEqual([]);
    expect(await cloud.deleteSubnet('europe-west1', 'hangar-sub-9')).toEqual({ deleted: false });
    await cloud.close();
  });

  it('pages through nextPageToken', async () => {
    for (let i = 0; i < 7; i++) sim.addSubnetwork(PROJECT, 'us-central1', { name: `s${i}`, network: 'vpc-main', ipCidrRange: `10.40.${i}.0/24` });
    const cloud = gcp({ pageSize: 3, regions: ['us-central1'] });
    const listing = await cloud.listSubnets();
    expect(listing.items.map((s) => s.id).sort()).toEqual(['s0', 's1', 's2', 's3', 's4', 's5', 's6']);
    const pages = sim.requests.filter((r) => r.method === 'Subnetworks.List');
    expect(pages.length).toBe(3);
    expect(pages[1]!.query).toContain('pageToken=');
    const aggregated = await gcp({ pageSize: 2, regions: [] }).listSubnets();
    expect(aggregated.items.length).toBe(7);
    expect(sim.requests.filter((r) => r.method === 'Subnetworks.AggregatedList').length).toBe(4);
  });

  it('retries 429 and 403 rateLimitExceeded and 5xx with growing jittered backoff; never a 400', async () => {
    const retry = recordingRetry(6);
    const cloud = gcp({ retry, regions: ['us-central1'] });
    sim.faults.push({ method: 'Subnetworks.List', status: 429, reason: 'rateLimitExceeded' });
    sim.faults.push({ method: 'Subnetworks.List', status: 403, reason: 'rateLimitExceeded' });
    sim.faults.push({ method: 'Subnetworks.List', status: 503, reason: 'backendError' });
    const listing = await cloud.listSubnets();
    expect(listing.failures).toEqual([]);
    expect(retry.delays.length).toBe(3);
    retry.delays.forEach((d, i) => {
      expect(d).toBeGreaterThanOrEqual((2000 * 2 ** i) / 2);
      expect(d).toBeLessThanOrEqual(2000 * 2 ** i);
    });
    retry.delays.length = 0;
    const err = (await thrown(
      cloud.createSubnet({ hangarId: 'bad', region: 'us-central1', networkId: 'vpc-main', cidr: '10.50.0.0/24', name: 'Not_A_Name' }),
    )) as HangarError;
    expect(err.code).toBe('cloud_rejected');
    expect(err.message).toMatch(/^invalid: subnetworks.insert/);
    expect(retry.delays).toEqual([]);
    expect(sim.requests.filter((r) => r.method === 'Subnetworks.Insert').length).toBe(1);
  });

  it('surfaces an operation that ends DONE with an error, and a subnet in use as a 409', async () => {
    const cloud = gcp();
    await cloud.createSubnet({ hangarId: 'a', region: 'us-central1', networkId: 'vpc-main', cidr: '10.60.0.0/24' });
    const clash = (await thrown(cloud.createSubnet({ hangarId: 'b', region: 'us-central1', networkId: 'vpc-main', cidr: '10.60.0.0/25' }))) as HangarError;
    expect(clash.code).toBe('cloud_operation_failed');
    expect(clash.message).toMatch(/^INVALID_USAGE: .*conflicts with existing subnetwork 'hangar-a'/);
    sim.markInUse(PROJECT, 'us-central1', 'hangar-a');
    const busy = (await thrown(cloud.deleteSubnet('us-central1', 'hangar-a'))) as HangarError;
    expect(busy.code).toBe('cloud_dependency_violation');
    expect(busy.status).toBe(409);
    expect(busy.message).toMatch(/^resourceInUseByAnotherResource: /);
  });

  it('reports a region that fails to list and still lists the others (per region and aggregated)', async () => {
    sim.addSubnetwork(PROJECT, 'us-central1', { name: 'ok', network: 'vpc-main', ipCidrRange: '10.70.0.0/24' });
    sim.addSubnetwork(PROJECT, 'europe-west1', { name: 'hidden', network: 'vpc-main', ipCidrRange: '10.71.0.0/24' });
    sim.failingRegions.add('europe-west1');
    const perRegion = await gcp({ retry: recordingRetry(2) }).listSubnets();
    expect(perRegion.items.map((s) => s.id)).toEqual(['ok']);
    expect(perRegion.failures).toEqual([{ region: 'europe-west1', error: expect.stringMatching(/^backendError: /) }]);
    const aggregated = await gcp({ regions: [] }).listSubnets();
    expect(aggregated.items.map((s) => s.id)).toEqual(['ok']);
    expect(aggregated.failures).toEqual([{ region: 'europe-west1', error: expect.stringMatching(/^UNREACHABLE: /) }]);
  });

  it('refuses a key the token endpoint does not know with invalid_grant, and the key never shows', async () => {
    const key = sim.serviceAccount(PROJECT, 'stranger@elsewhere.iam.gserviceaccount.com') as { private_key: string };
    const other = sim.serviceAccount(PROJECT, 'stranger@elsewhere.iam.gserviceaccount.com') as { private_key: string };
    // The first key's public half was replaced: its signature no longer verifies.
    const err = (await thrown(gcp({ key: key as never }).verify())) as HangarError;
    expect(err.code).toBe('cloud_credentials_invalid');
    expect(err.message).toMatch(/^invalid_grant: /);
    expect(JSON.stringify({ message: err.message, stack: err.stack })).not.toContain(key.private_key.split('\n')[1]);
    expect(other.private_key).not.toBe(key.private_key);
  });

  it('cancels a slow operation wait through the AbortSignal', async () => {
    sim.operationMs = 60_000;
    const cloud = gcp({ retry: { initialMs: 1, maxMs: 1, attempts: 1 } });
    const controller = new AbortController();
    const pending = cloud.createSubnet({ hangarId: 'slow', region: 'us-central1', networkId: 'vpc-main', cidr: '10.80.0.0/24' }, { signal: controller.signal });
    while (!sim.requests.some((r) => r.method === 'RegionOperations.Get')) await new Promise((r) => setTimeout(r, 10));
    controller.abort(new Error('cancelled by test'));
    expect(((await thrown(pending)) as Error).message).toBe('cancelled by test');
  });
});

describe('GCP simulator request checking', () => {
  let sim: GcpSimulator;
  let token: string;
  beforeAll(async () => {
    sim = await startGcpSimulator();
    sim.addNetwork(PROJECT, 'vpc-main');
    // A token through the real flow: verify() obtains one; read it from the request it sent.
    await new GcpNetworks({ project: PROJECT, regions: [], key: sim.serviceAccount(PROJECT) as never, apiEndpoint: sim.url }).verify();
    token = sim.requests.at(-1)!.authorization;
  });
  afterAll(async () => {
    await sim?.stop();
  });

  const insert = (body: unknown, query = '') =>
    fetch(`${sim.url}/compute/v1/projects/${PROJECT}/regions/us-central1/subnetworks${query}`, {
      method: 'POST',
      headers: { authorization: token, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('answers 400 for an unknown field, naming it', async () => {
    const res = await insert({ name: 'x', network: 'vpc-main', ipCidrRange: '10.0.0.0/24', colour: 'blue' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.message).toMatch(/Unknown name "colour" at 'subnetwork_resource'/);
  });

  it('answers 400 for a wrong type, nested ones included', async () => {
    const res = await insert({ name: 'x', network: 'vpc-main', ipCidrRange: 24 });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.message).toMatch(/subnetwork_resource.ip_cidr_range/);
    const nested = await insert({
      name: 'x',
      network: 'vpc-main',
      ipCidrRange: '10.0.0.0/24',
      secondaryIpRanges: [{ rangeName: 'a', ipCidrRange: '10.1.0.0/16', extra: 1 }],
    });
    expect(nested.status).toBe(400);
  });

  it('answers 400 for an unknown query parameter and a malformed number', async () => {
    expect((await insert({ name: 'x', network: 'vpc-main', ipCidrRange: '10.0.0.0/24' }, '?force=true')).status).toBe(400);
    const list = await fetch(`${sim.url}/compute/v1/projects/${PROJECT}/regions/us-central1/subnetworks?maxResults=many`, {
      headers: { authorization: token },
    });
    expect(list.status).toBe(400);
  });

  it('answers 401 without a token and accepts a valid body', async () => {
    const res = await fetch(`${sim.url}/compute/v1/projects/${PROJECT}/global/networks`);
    expect(res.status).toBe(401);
    const ok = await insert({
      name: 'fine',
      network: 'vpc-main',
      ipCidrRange: '10.0.0.0/24',
      secondaryIpRanges: [{ rangeName: 'a', ipCidrRange: '10.1.0.0/16' }],
    });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as any).status).toMatch(/^(PENDING|DONE)$/);
  });
});
