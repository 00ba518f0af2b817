// schemathesis against the real API (real PostgreSQL and Temporal, dry-run provider, a worker),
// over every operation of /openapi.json — the unauthenticated metadata routes included — with a
// database seeded with one of each resource. Zero failures: every defect it finds is fixed in the
// product, never excluded here.
//
// The suite runs on its own database: schemathesis registers hosts and creates networks at random,
// which must not be claimed or collide with other suites' data.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { findPool } from '../../db/repositories/pools.ts';
import { insertSubnetWithBlock, setSubnetState } from '../../db/repositories/subnets.ts';
import type { RunningWorker } from '../../workers/worker.ts';
import { openOrm, migrateUp } from '../../db/orm.ts';
import { applyScan } from '../../db/repositories/drift.ts';
import { applySchedules, observerSchedules } from '../../workers/schedules.ts';
import { withDatabase } from '../support/global-setup.ts';
import { testServices } from '../support/services.ts';
import { createToken, http, startApi, startInProcessWorker, testConfig, waitFor, type HttpResult, type TestApi } from '../support/harness.ts';
import { ed25519PublicKey } from '../support/awkward-text.ts';
import { runSchemathesis, type PinnedParameters } from '../support/schemathesis.ts';

const dbName = `hangar_schemathesis_${randomUUID().slice(0, 8)}`;
let admin: pg.Client;
let api: TestApi;
let worker: RunningWorker;
let token: string;
const seeded: Record<string, string> = {};

async function seed(method: string, path: string, body: unknown): Promise<any> {
  const res: HttpResult = await http(api.url, method, path, { token, body });
  if (res.status >= 300) throw new Error(`seeding ${method} ${path}: ${res.status} ${res.text}`);
  return res.body;
}

beforeAll(async () => {
  admin = new pg.Client({ connectionString: testServices().adminDatabaseUrl });
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  const url = withDatabase(testServices().adminDatabaseUrl, dbName);
  const orm = await openOrm({ url, poolSize: 2 });
  await migrateUp(orm);
  await orm.close();
  // A long interval: the observer schedule runs when schemathesis triggers it, not by itself.
  const config = testConfig({ DATABASE_URL: url, HANGAR_PROVIDERS: 'dryrun', HANGAR_DRIFT_INVENTORY_INTERVAL_SEC: '3600' });
  api = await startApi(config);
  worker = await startInProcessWorker(config);
  token = await createToken(api.orm, 'admin', 'schemathesis');

  seeded.sshKey = (await seed('POST', '/api/v1/ssh-keys', { name: 'seed-key', public_key: ed25519PublicKey() })).id;
  seeded.network = (await seed('POST', '/api/v1/networks', { name: 'seed-net', cidr: '10.77.0.0/24', gateway: '10.77.0.1' })).id;
  seeded.lease = (await seed('POST', `/api/v1/networks/${seeded.network}/leases`, { address: '10.77.0.10' })).address;
  seeded.account = (await seed('POST', '/api/v1/accounts', { key: 'aws:123456789012', name: 'seed-account', regions: ['eu-west-1'] })).id;
  seeded.pool = (await seed('POST', '/api/v1/pools', { name: 'seed-pool', cidr: '10.128.0.0/16', account_id: seeded.account })).id;
  seeded.allocation = (await seed('POST', `/api/v1/pools/${seeded.pool}/allocations`, { prefix_length: 24, name: 'seed-allocation' })).id;
  seeded.scope = (await seed('POST', '/api/v1/scopes', { name: 'seed-scope', account_id: seeded.account, region: 'eu-west-1', network_id: 'vpc-0a1b2c3d' })).id;
  // A cloud subnet, written as allocateSubnet leaves one (creating it through the API would call AWS).
  const subnetPool = await seed('POST', '/api/v1/pools', { name: 'seed-subnet-pool', cidr: '10.129.0.0/16', scope: seeded.scope });
  seeded.subnet = randomUUID();
  const subnetEm = api.orm.em.fork();
  await insertSubnetWithBlock(
    subnetEm,
    (await findPool(subnetEm, subnetPool.id))!,
    { prefixLength: 24 },
    {
      id: seeded.subnet,
      name: 'seed-subnet',
      accountId: seeded.account!,
      region: 'eu-west-1',
      zone: null,
      networkId: 'vpc-0a1b2c3d',
      secondaryRanges: [],
      tags: { team: 'seed' },
    },
  );
  await setSubnetState(subnetEm, seeded.subnet, { state: 'available', providerId: 'subnet-0123456789abcdef0', zone: 'eu-west-1a' });
  const template = await seed('POST', '/api/v1/templates', { name: 'seed-template', provider: 'dryrun', image: '/var/lib/images/base.qcow2' });
  seeded.template = template.template.id;
  await waitFor(
    'the seed template to be ready',
    async () => (await http(api.url, 'GET', `/api/v1/templates/${seeded.template}`, { token })).body?.state === 'ready',
  );
  const machine = await seed('POST', '/api/v1/machines', {
    name: 'seed-machine',
    provider: 'dryrun',
    cpu: 1,
    memory_mb: 512,
    disk_gb: 1,
    template: 'seed-template',
    network_id: seeded.network,
    ssh_key_ids: [seeded.sshKey],
    user_data_extras: { packages: ['curl'] },
  });
  seeded.machine = machine.machine.id;
  seeded.machineToken = machine.metadata_token;
  await waitFor(
    'the seed machine to be ready',
    async () => (await http(api.url, 'GET', `/api/v1/machines/${seeded.machine}`, { token })).body?.state === 'ready',
  );
  seeded.disk = (await seed('POST', `/api/v1/machines/${seeded.machine}/disks`, { size_gb: 1 })).disk.id;
  seeded.operation = machine.operation.id;
  const host = await seed('POST', '/api/v1/hosts', {
    name: 'seed-host',
    bmc_address: 'redfish+http://127.0.0.1:9/redfish/v1/Systems/1',
    username: 'root',
    password: 'calvin',
    tags: ['rack-1'],
  });
  seeded.host = host.host.id;
  seeded.cluster = (await seed('POST', '/api/v1/clusters', { name: 'seed-cluster', machines: [{ machine_id: seeded.machine, role: 'control-plane' }] })).id;
  seeded.token = (await seed('POST', '/api/v1/tokens', { name: 'seed-viewer', role: 'viewer' })).id;
  // Findings come from observers, not from the API: a leaked lease, as the inventory observer reports it.
  const scan = await applyScan(api.orm.em, {
    target: 'inventory',
    provider: 'inventory',
    complete: true,
    differences: [
      {
        ref: { type: 'lease', id: randomUUID(), name: '10.77.0.99' },
        kind: 'orphan',
        desired: null,
        observed: { machine_state: 'failed' },
        createdByHangar: true,
      },
    ],
    judged: [],
  });
  seeded.finding = scan.opened[0]!;
  await applySchedules(api.temporal, config);
  seeded.schedule = observerSchedules(config)[0]!.target;
}, 120_000);

afterAll(async () => {
  if (api)
    for (const s of observerSchedules(api.config))
      await api.temporal.schedule
        .getHandle(s.scheduleId)
        .delete()
        .catch(() => undefined);
  await worker?.shutdown();
  await api?.close();
  await admin?.query(`drop database if exists ${dbName} with (force)`);
  await admin?.end();
});

/** Reads and updates hit the seeded resources (so real 200s are checked); deletes keep fuzzed ids. */
function pins(): PinnedParameters[] {
  const readWrite = ['GET', 'PATCH', 'POST', 'PUT'];
  return [
    { pathRegex: '^/api/v1/machines/\\{id\\}/disks/\\{diskId\\}$', methods: ['GET'], parameters: { 'path.id': seeded.machine!, 'path.diskId': seeded.disk! } },
    { pathRegex: '^/api/v1/machines/\\{id\\}', methods: readWrite, parameters: { 'path.id': seeded.machine! } },
    { pathRegex: '^/api/v1/ssh-keys/\\{id\\}$', methods: readWrite, parameters: { 'path.id': seeded.sshKey! } },
    { pathRegex: '^/api/v1/networks/\\{id\\}', methods: readWrite, parameters: { 'path.id': seeded.network! } },
    { pathRegex: '^/api/v1/accounts/\\{id\\}$', methods: readWrite, parameters: { 'path.id': seeded.account! } },
    { pathRegex: '^/api/v1/pools/\\{id\\}', methods: readWrite, parameters: { 'path.id': seeded.pool! } },
    { pathRegex: '^/api/v1/scopes/\\{ref\\}', methods: readWrite, parameters: { 'path.ref': seeded.scope! } },
    { pathRegex: '^/api/v1/subnets/\\{id\\}$', methods: ['GET'], parameters: { 'path.id': seeded.subnet! } },
    { pathRegex: '^/api/v1/templates/\\{ref\\}$', methods: readWrite, parameters: { 'path.ref': seeded.template! } },
    { pathRegex: '^/api/v1/hosts/\\{ref\\}', methods: readWrite, parameters: { 'path.ref': seeded.host! } },
    { pathRegex: '^/api/v1/clusters/\\{ref\\}', methods: readWrite, parameters: { 'path.ref': seeded.cluster! } },
    { pathRegex: '^/api/v1/operations/\\{id\\}$', methods: readWrite, parameters: { 'path.id': seeded.operation! } },
    { pathRegex: '^/api/v1/drift/\\{id\\}', methods: readWrite, parameters: { 'path.id': seeded.finding! } },
    { pathRegex: '^/api/v1/schedules/\\{id\\}', methods: readWrite, parameters: { 'path.id': seeded.schedule! } },
    // Revoking a token revokes the seeded viewer's, never the one schemathesis authenticates with.
    { pathRegex: '^/api/v1/tokens/\\{id\\}$', methods: ['DELETE'], parameters: { 'path.id': seeded.token! } },
    // The metadata service: the seeded machine, its token from the environment (never on a command line).
    {
      pathRegex: '^/cloud-init/\\{machineId\\}/\\{token\\}/',
      methods: ['GET'],
      parameters: { 'path.machineId': seeded.machine!, 'path.token': '${HANGAR_SCHEMATHESIS_SEED_TOKEN}' },
    },
  ];
}

describe('schemathesis', () => {
  it('finds no failure over every operation of /openapi.json', async () => {
    const run = await runSchemathesis({
      schemaUrl: `${api.url}/openapi.json`,
      token,
      checks: ['not_a_server_error', 'status_code_conformance', 'content_type_conformance', 'response_schema_conformance'],
      maxExamples: 10,
      pins: pins(),
      extraEnv: { HANGAR_SCHEMATHESIS_SEED_TOKEN: seeded.machineToken! },
      args: ['--generation-database', 'none'],
    });
    // Every operation of the document was exercised: the JUnit report has a testcase per operation.
    const document = (await http(api.url, 'GET', '/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.entries(document.paths)
      .flatMap(([path, item]) =>
        Object.keys(item)
          .filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
          .map((m) => `${m.toUpperCase()} ${path}`),
      )
      .sort();
    const tested = new Set([...run.junit.matchAll(/<testcase [^>]*name="([^"]+)"/g)].map((m) => m[1]!.replace(/&amp;/g, '&')));
    const untested = operations.filter((op) => !tested.has(op));
    if (run.exitCode !== 0 || untested.length) process.stderr.write(`schemathesis report:\n${run.output}\n`);
    expect({ exitCode: run.exitCode, untested }).toEqual({ exitCode: 0, untested: [] });
    expect(operations.length).toBeGreaterThan(70);
    // The token worked throughout (schemathesis warns when operations answer only 401/403).
    expect(run.output).not.toMatch(/Authentication failed/);
    // The run never showed the token it authenticated with.
    expect(run.output).not.toContain(token);
  }, 600_000);
});
