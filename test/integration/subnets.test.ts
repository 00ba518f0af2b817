// Cloud subnets end to end: the real API, worker, Temporal and PostgreSQL against moto (AWS) and
// the schema-checked GCP simulator. Create → visible in the cloud with Hangar's tag → delete →
// gone, block free; 50 parallel requests in one pool; a permanent failure at the create step; a
// subnet still in use refusing deletion (GCP: moto never refuses one).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateVpcCommand, DeleteSubnetCommand, DescribeSubnetsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { HANGAR_SUBNET_TAG } from '../../providers/cloud-networks.ts';
import { overlaps, parseCidr } from '../../domain/cidr.ts';
import type { RunningWorker } from '../../workers/worker.ts';
import { createToken, http, startApi, startInProcessWorker, testConfig, waitForOperation, type TestApi } from '../support/harness.ts';
import { unique } from '../support/api-fixture.ts';
import { startMoto, type MotoServer } from '../support/moto.ts';
import { startGcpSimulator, type GcpSimulator } from '../fakes/gcp/simulator.ts';
import { exportHistory, recordHistory } from '../support/histories.ts';

const AWS_ACCOUNT = '123456789012';
const AWS_REGION = 'eu-west-1';
const GCP_PROJECT = `hangar-sn-${process.pid}`.slice(0, 30);
const GCP_REGION = 'us-central1';
const awsKeys = { accessKeyId: 'AKIDHANGARSUBNETS', secretAccessKey: 'subnet-secret-that-must-not-leak' };

let moto: MotoServer;
let gcp: GcpSimulator;
let api: TestApi;
let worker: RunningWorker;
let operator = '';
let viewer = '';
let credsDir = '';
let gcpKey: { private_key: string };
let ec2: EC2Client;
const accounts: { aws: string; gcp: string } = { aws: '', gcp: '' };

const post = (path: string, body?: unknown) => http(api.url, 'POST', path, { token: operator, body: body ?? {} });
const get = (path: string) => http(api.url, 'GET', path, { token: viewer });
const del = (path: string) => http(api.url, 'DELETE', path, { token: operator });

/** An account row for this key: created, or the one an earlier run left (keys are unique). */
async function account(key: string, regions: string[]): Promise<string> {
  const res = await post('/api/v1/accounts', { key, name: unique('acct'), regions });
  if (res.status === 201) return res.body.id;
  expect(res.status).toBe(409);
  const [row] = await api.orm.em.getConnection().execute<{ id: string }[]>(`select id from account where key = ?`, [key]);
  await api.orm.em.getConnection().execute(`update account set regions = ?::jsonb where id = ?`, [JSON.stringify(regions), row!.id]);
  return row!.id;
}

/** A pool in a new scope bound to this account and network. */
async function boundPool(accountId: string, network: { id: string; region: string | null }, cidr: string): Promise<{ id: string; name: string }> {
  const scope = await post('/api/v1/scopes', { name: unique('scope'), account_id: accountId, network_id: network.id, region: network.region });
  expect(scope.status).toBe(201);
  const pool = await post('/api/v1/pools', { name: unique('pool'), cidr, scope: scope.body.id });
  expect(pool.status).toBe(201);
  return pool.body;
}

async function awsVpc(cidr: string): Promise<string> {
  return (await ec2.send(new CreateVpcCommand({ CidrBlock: cidr }))).Vpc!.VpcId!;
}

async function motoSubnets(vpcId: string) {
  return (await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }))).Subnets ?? [];
}

async function blocksOf(poolId: string): Promise<string[]> {
  const res = await get(`/api/v1/blocks?pool=${poolId}&limit=500`);
  expect(res.status).toBe(200);
  return res.body.items.map((b: { cidr: string }) => b.cidr);
}

async function createSubnet(body: Record<string, unknown>) {
  const res = await post('/api/v1/subnets', body);
  expect(res.status).toBe(202);
  const op = await waitForOperation(api, viewer, res.body.operation.id);
  return { subnet: res.body.subnet, op };
}

beforeAll(async () => {
  [moto, gcp] = await Promise.all([startMoto(), startGcpSimulator({ operationMs: 200 })]);
  credsDir = mkdtempSync(join(tmpdir(), 'hangar-subnets-'));
  const write = (name: string, value: unknown) => {
    writeFileSync(join(credsDir, name), JSON.stringify(value));
    chmodSync(join(credsDir, name), 0o600);
  };
  write(`aws-${AWS_ACCOUNT}.json`, { access_key_id: awsKeys.accessKeyId, secret_access_key: awsKeys.secretAccessKey });
  gcpKey = gcp.serviceAccount(GCP_PROJECT) as { private_key: string };
  write(`gcp-${GCP_PROJECT}.json`, gcpKey);
  const config = testConfig({
    HANGAR_CLOUD_CREDENTIALS_DIR: credsDir,
    HANGAR_AWS_ENDPOINT: moto.url,
    HANGAR_GCP_ENDPOINT: gcp.url,
    HANGAR_CLOUD_RETRY_INITIAL_MS: '50',
    HANGAR_CLOUD_RETRY_MAX_MS: '200',
    HANGAR_CLOUD_OPERATION_POLL_MS: '50',
  });
  api = await startApi(config);
  worker = await startInProcessWorker(config);
  operator = await createToken(api.orm, 'operator');
  viewer = await createToken(api.orm, 'viewer');
  ec2 = new EC2Client({ region: AWS_REGION, endpoint: moto.url, credentials: awsKeys });
  accounts.aws = await account(`aws:${AWS_ACCOUNT}`, [AWS_REGION]);
  accounts.gcp = await account(`gcp:${GCP_PROJECT}`, [GCP_REGION]);
}, 180_000);

afterAll(async () => {
  ec2?.destroy();
  await worker?.shutdown();
  await api?.close();
  await Promise.all([moto?.stop(), gcp?.stop()]);
  if (credsDir) rmSync(credsDir, { recursive: true, force: true });
});

describe('AWS subnets (moto)', () => {
  it('verify → create → tagged in moto → delete → gone, block free', async () => {
    expect((await post(`/api/v1/accounts/${accounts.aws}/actions/verify`)).status).toBe(200);
    const vpcId = await awsVpc('10.20.0.0/16');
    const pool = await boundPool(accounts.aws, { id: vpcId, region: AWS_REGION }, '10.20.0.0/20');

    const plan = await post('/api/v1/subnets?dry_run=true', { pool: pool.name, prefix_length: 24 });
    expect(plan.status).toBe(200);
    expect(plan.body.calls.map((c: { call: string }) => c.call)).toContain('aws.createSubnet');
    expect(await blocksOf(pool.id)).toEqual([]);

    const { subnet, op } = await createSubnet({ pool: pool.name, prefix_length: 24, tags: { team: 'net' } });
    expect(op.status).toBe('completed');
    expect(op.progress.steps.map((s: { name: string }) => s.name)).toEqual(['create-in-cloud', 'wait-available', 'record']);
    const got = (await get(`/api/v1/subnets/${subnet.id}`)).body;
    expect(got).toMatchObject({ state: 'available', cidr: '10.20.0.0/24', provider: 'aws', region: AWS_REGION, network_id: vpcId, managed: true });
    // AWS keeps the first four addresses and the last of every subnet.
    expect(got).toMatchObject({ total_addresses: '256', usable_addresses: '251' });
    expect(got.provider_id).toMatch(/^subnet-/);

    const inMoto = await motoSubnets(vpcId);
    expect(inMoto.map((s) => s.SubnetId)).toEqual([got.provider_id]);
    expect(inMoto[0]!.CidrBlock).toBe('10.20.0.0/24');
    expect(inMoto[0]!.Tags).toEqual(
      expect.arrayContaining([
        { Key: HANGAR_SUBNET_TAG, Value: subnet.id },
        { Key: 'team', Value: 'net' },
      ]),
    );
    expect(await blocksOf(pool.id)).toEqual(['10.20.0.0/24']);

    const listed = await get(`/api/v1/subnets?account=aws:${AWS_ACCOUNT}&network=${vpcId}&state=available`);
    expect(listed.body.items.map((s: { id: string }) => s.id)).toEqual([subnet.id]);

    // The pool cannot be deleted from under its subnet, not even with cascade.
    expect(await del(`/api/v1/pools/${pool.id}?cascade=true`)).toMatchObject({ status: 409, body: { error: 'has_dependents' } });

    const deleted = await del(`/api/v1/subnets/${subnet.id}`);
    expect(deleted.status).toBe(202);
    expect((await waitForOperation(api, viewer, deleted.body.operation.id)).status).toBe('completed');
    expect((await get(`/api/v1/subnets/${subnet.id}`)).body).toMatchObject({ state: 'deleted', allocation_id: null });
    expect(await motoSubnets(vpcId)).toEqual([]);
    expect(await blocksOf(pool.id)).toEqual([]);
    // A deleted subnet cannot be deleted again.
    expect((await del(`/api/v1/subnets/${subnet.id}`)).status).toBe(409);
    // Workflows carry the subnet id only: the account's secret is nowhere in their histories.
    for (const workflowId of [op.workflow_id, deleted.body.operation.workflow_id]) {
      expect(exportHistory(api.config.temporal, workflowId)).not.toContain(awsKeys.secretAccessKey);
    }
    recordHistory(api.config.temporal, op.workflow_id, 'allocate-subnet-completed');
    recordHistory(api.config.temporal, deleted.body.operation.workflow_id, 'release-subnet-completed');
  });

  it('50 parallel requests in one pool: no overlap in Hangar or moto, exhaustion a clean 409', async () => {
    const vpcId = await awsVpc('10.40.0.0/16');
    const pool = await boundPool(accounts.aws, { id: vpcId, region: AWS_REGION }, '10.40.0.0/24');
    const answers = await Promise.all(Array.from({ length: 50 }, () => post('/api/v1/subnets', { pool: pool.id, prefix_length: 28 })));
    const accepted = answers.filter((a) => a.status === 202);
    const refused = answers.filter((a) => a.status !== 202);
    // A /24 holds exactly sixteen /28s.
    expect(accepted).toHaveLength(16);
    expect(refused).toHaveLength(34);
    for (const r of refused) expect(r).toMatchObject({ status: 409, body: { error: 'pool_exhausted' } });

    const ops = await Promise.all(accepted.map((a) => waitForOperation(api, viewer, a.body.operation.id, 120_000)));
    expect(ops.map((o) => o.status)).toEqual(Array(16).fill('completed'));
    const cidrs = await blocksOf(pool.id);
    const inMoto = await motoSubnets(vpcId);
    expect(inMoto).toHaveLength(16);
    expect(new Set(inMoto.map((s) => s.CidrBlock))).toEqual(new Set(cidrs));
    for (const list of [cidrs, inMoto.map((s) => s.CidrBlock!)]) {
      const parsed = list.map((c) => parseCidr(c));
      const overlapping = parsed.flatMap((a, i) => parsed.slice(i + 1).filter((b) => overlaps(a, b)));
      expect(overlapping).toEqual([]);
    }
    const ids = new Set(accepted.map((a) => a.body.subnet.id));
    expect(new Set(inMoto.map((s) => s.Tags?.find((t) => t.Key === HANGAR_SUBNET_TAG)?.Value))).toEqual(ids);
  }, 180_000);

  it('a permanent failure at the create step leaves no subnet, frees the block and records failed with the reason', async () => {
    const vpcId = await awsVpc('10.50.0.0/16');
    // The pool lies outside the VPC: AWS refuses the create (InvalidSubnet.Range), which no retry fixes.
    const pool = await boundPool(accounts.aws, { id: vpcId, region: AWS_REGION }, '10.51.0.0/24');
    const { subnet, op } = await createSubnet({ pool: pool.id, prefix_length: 26 });
    expect(op.status).toBe('failed');
    expect(op.error.message).toMatch(/InvalidSubnet\.Range/);
    const got = (await get(`/api/v1/subnets/${subnet.id}`)).body;
    expect(got.state).toBe('failed');
    expect(got.state_reason).toMatch(/InvalidSubnet\.Range/);
    expect(got.allocation_id).toBeNull();
    expect(await blocksOf(pool.id)).toEqual([]);
    expect(await motoSubnets(vpcId)).toEqual([]);
    recordHistory(api.config.temporal, op.workflow_id, 'allocate-subnet-compensated');
  });

  // moto deletes a subnet whatever still uses it (it never answers DependencyViolation), so the
  // in-use refusal is tested against the GCP simulator below; here: "already gone" is done.
  it('a subnet deleted outside Hangar: the delete completes, the block is freed', async () => {
    const vpcId = await awsVpc('10.60.0.0/16');
    const pool = await boundPool(accounts.aws, { id: vpcId, region: AWS_REGION }, '10.60.0.0/24');
    const { subnet, op } = await createSubnet({ pool: pool.id, cidr: '10.60.0.64/26' });
    expect(op.status).toBe('completed');
    const providerId = (await get(`/api/v1/subnets/${subnet.id}`)).body.provider_id;
    await ec2.send(new DeleteSubnetCommand({ SubnetId: providerId }));
    expect(await blocksOf(pool.id)).toEqual(['10.60.0.64/26']);

    const deleted = await del(`/api/v1/subnets/${subnet.id}`);
    expect(deleted.status).toBe(202);
    expect((await waitForOperation(api, viewer, deleted.body.operation.id)).status).toBe('completed');
    expect((await get(`/api/v1/subnets/${subnet.id}`)).body).toMatchObject({ state: 'deleted', allocation_id: null });
    expect(await blocksOf(pool.id)).toEqual([]);
  });
});

describe('GCP subnets (simulator)', () => {
  it('create with a secondary range → labelled in the simulator → delete → gone, block free', async () => {
    gcp.addNetwork(GCP_PROJECT, 'net-main');
    const pool = await boundPool(accounts.gcp, { id: 'net-main', region: null }, '10.70.0.0/20');
    // GCP networks are global: the region is required.
    const noRegion = await post('/api/v1/subnets', { pool: pool.id, prefix_length: 24 });
    expect(noRegion).toMatchObject({ status: 400, body: { fields: { region: 'required' } } });

    const { subnet, op } = await createSubnet({
      pool: pool.id,
      prefix_length: 24,
      region: GCP_REGION,
      secondary_ranges: [{ name: 'pods', cidr: '172.20.0.0/16' }],
    });
    expect(op.status).toBe('completed');
    const got = (await get(`/api/v1/subnets/${subnet.id}`)).body;
    // GCP keeps the first two and the last two addresses.
    expect(got).toMatchObject({ state: 'available', cidr: '10.70.0.0/24', region: GCP_REGION, provider: 'gcp', usable_addresses: '252' });
    const inSim = gcp.subnetworks(GCP_PROJECT, GCP_REGION);
    expect(inSim).toHaveLength(1);
    expect(inSim[0]).toMatchObject({
      name: got.provider_id,
      ipCidrRange: '10.70.0.0/24',
      secondaryIpRanges: [{ rangeName: 'pods', ipCidrRange: '172.20.0.0/16' }],
    });
    expect(JSON.stringify(inSim[0])).toContain(subnet.id);

    const deleted = await del(`/api/v1/subnets/${subnet.id}`);
    expect((await waitForOperation(api, viewer, deleted.body.operation.id)).status).toBe('completed');
    expect(gcp.subnetworks(GCP_PROJECT, GCP_REGION)).toEqual([]);
    expect(await blocksOf(pool.id)).toEqual([]);
    const privateKeyLine = gcpKey.private_key.split('\n')[1]!;
    for (const workflowId of [op.workflow_id, deleted.body.operation.workflow_id]) {
      expect(exportHistory(api.config.temporal, workflowId)).not.toContain(privateKeyLine);
    }
  });

  it('a rejected insert leaves nothing behind and records failed; an in-use subnet refuses deletion', async () => {
    gcp.addNetwork(GCP_PROJECT, 'net-faults');
    const pool = await boundPool(accounts.gcp, { id: 'net-faults', region: null }, '10.80.0.0/20');
    gcp.faults.push({ method: 'Subnetworks.Insert', status: 400, reason: 'invalid', times: 1 });
    const { subnet, op } = await createSubnet({ pool: pool.id, prefix_length: 24, region: GCP_REGION });
    expect(op.status).toBe('failed');
    expect((await get(`/api/v1/subnets/${subnet.id}`)).body).toMatchObject({
      state: 'failed',
      allocation_id: null,
      state_reason: expect.stringMatching(/invalid/),
    });
    expect(gcp.subnetworks(GCP_PROJECT, GCP_REGION).filter((s) => String(s.network).endsWith('/net-faults'))).toEqual([]);
    expect(await blocksOf(pool.id)).toEqual([]);

    const ok = await createSubnet({ pool: pool.id, prefix_length: 24, region: GCP_REGION });
    expect(ok.op.status).toBe('completed');
    const name = (await get(`/api/v1/subnets/${ok.subnet.id}`)).body.provider_id;
    gcp.markInUse(GCP_PROJECT, GCP_REGION, name);
    const refused = await del(`/api/v1/subnets/${ok.subnet.id}`);
    const failed = await waitForOperation(api, viewer, refused.body.operation.id);
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'cloud_dependency_violation' } });
    expect(failed.error.message).toMatch(/resourceInUseByAnotherResource/);
    expect((await get(`/api/v1/subnets/${ok.subnet.id}`)).body).toMatchObject({ state: 'available', cidr: '10.80.0.0/24' });
    expect(await blocksOf(pool.id)).toEqual(['10.80.0.0/24']);
    expect(gcp.subnetworks(GCP_PROJECT, GCP_REGION).map((s) => s.name)).toContain(name);
    recordHistory(api.config.temporal, failed.workflow_id, 'release-subnet-compensated');
  });
});
