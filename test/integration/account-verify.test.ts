// POST /accounts/{id}/actions/verify through the real API against moto (IAM auth switched on, so a
// wrong key is refused by AWS itself) and the GCP simulator (the real signed-JWT flow): good and
// bad credentials record the credentialsVerified condition and bad ones answer a clean 4xx whose
// detail starts with the cloud's code. The AWS secret and the GCP private key must appear in no
// response, error or log line.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capturingLogger, createToken, http, startApi, testConfig, type TestApi } from '../support/harness.ts';
import { MOTO_PYTHON, startMoto, type MotoServer } from '../support/moto.ts';
import { startGcpSimulator, type GcpSimulator } from '../fakes/gcp/simulator.ts';

// Its own moto account (MOTO_ACCOUNT_ID): other suites use moto's default account in the shared database.
const MOTO_ACCOUNT = '210987654321';
const PROJECT = `hv-${process.pid}-${Date.now().toString(36)}`.slice(0, 28);

let moto: MotoServer;
let sim: GcpSimulator;
let api: TestApi;
let token: string;
let dir: string;
let awsKeys: { access_key_id: string; secret_access_key: string };
let gcpKey: Record<string, string>;
const { logger, lines } = capturingLogger('debug');
const bodies: string[] = [];

async function call(method: string, path: string, body?: unknown) {
  const res = await http(api.url, method, path, { token, body });
  bodies.push(res.text);
  return res;
}

function writeSecret(name: string, content: unknown, mode = 0o600) {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(content), { mode });
  chmodSync(file, mode);
}

beforeAll(async () => {
  // IAM auth on after three unauthenticated calls: exactly those that make the user and its key.
  moto = await startMoto({ INITIAL_NO_AUTH_ACTION_COUNT: '3', MOTO_ACCOUNT_ID: MOTO_ACCOUNT });
  const made = execFileSync(
    MOTO_PYTHON,
    [
      '-c',
      `import boto3, json, sys
iam = boto3.client('iam', endpoint_url=sys.argv[1], region_name='us-east-1', aws_access_key_id='bootstrap', aws_secret_access_key='bootstrap')
iam.create_user(UserName='hangar')
iam.put_user_policy(UserName='hangar', PolicyName='all', PolicyDocument=json.dumps({'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': '*', 'Resource': '*'}]}))
k = iam.create_access_key(UserName='hangar')['AccessKey']
print(json.dumps({'access_key_id': k['AccessKeyId'], 'secret_access_key': k['SecretAccessKey']}))`,
      moto.url,
    ],
    { encoding: 'utf8' },
  );
  awsKeys = JSON.parse(made);
  sim = await startGcpSimulator({ operationMs: 20 });
  sim.addNetwork(PROJECT, 'default');
  gcpKey = sim.serviceAccount(PROJECT) as Record<string, string>;
  dir = mkdtempSync(join(tmpdir(), 'hangar-creds-'));
  writeSecret(`aws-${MOTO_ACCOUNT}.json`, awsKeys);
  writeSecret(`gcp-${PROJECT}.json`, gcpKey);
  api = await startApi(
    testConfig({
      HANGAR_CLOUD_CREDENTIALS_DIR: dir,
      HANGAR_AWS_ENDPOINT: moto.url,
      HANGAR_GCP_ENDPOINT: sim.url,
      HANGAR_CLOUD_RETRY_INITIAL_MS: '5',
      HANGAR_CLOUD_RETRY_MAX_MS: '10',
      HANGAR_CLOUD_OPERATION_POLL_MS: '10',
    }),
    logger,
  );
  token = await createToken(api.orm, 'operator');
}, 300_000);

afterAll(async () => {
  await api?.close();
  await moto?.stop();
  await sim?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The account for `key`, made fresh (a suite run earlier may have left one with the same key). */
async function account(key: string, extra: Record<string, unknown> = {}) {
  const existing = await call('GET', `/api/v1/accounts?q=${encodeURIComponent(key)}`);
  for (const a of existing.body.items.filter((x: { key: string }) => x.key === key)) await call('DELETE', `/api/v1/accounts/${a.id}`);
  const res = await call('POST', '/api/v1/accounts', { key, name: key, ...extra });
  expect(res.status).toBe(201);
  return res.body as { id: string; conditions: unknown[]; credentials_ref: string | null };
}

const verified = (body: { conditions: Array<{ type: string }> }) => body.conditions.find((c) => c.type === 'credentialsVerified');

describe('account verify on AWS (moto)', () => {
  let id: string;
  beforeAll(async () => {
    id = (await account(`aws:${MOTO_ACCOUNT}`, { regions: ['us-east-1'] })).id;
  });

  it('accepts good keys: 200 with the caller, condition True shown in GET', async () => {
    const res = await call('POST', `/api/v1/accounts/${id}/actions/verify`);
    expect(res.status).toBe(200);
    expect(res.body.identity).toMatchObject({ account: MOTO_ACCOUNT, principal: expect.stringContaining('user/hangar') });
    const got = await call('GET', `/api/v1/accounts/${id}`);
    expect(verified(got.body)).toMatchObject({ status: 'True', reason: 'Verified' });
    expect(got.body.credentials_ref).toBeNull();
  });

  it("refuses a wrong secret with AWS's own code in detail, and records condition False", async () => {
    writeSecret('aws-wrong.json', { ...awsKeys, secret_access_key: 'wrong-secret-0123456789' });
    expect((await call('PATCH', `/api/v1/accounts/${id}`, { credentials_ref: 'file:aws-wrong.json' })).status).toBe(200);
    const res = await call('POST', `/api/v1/accounts/${id}/actions/verify`);
    expect(res.status).toBe(422);
    expect(res.body.error).toBe('cloud_credentials_invalid');
    expect(res.body.detail).toMatch(/^(SignatureDoesNotMatch|InvalidClientTokenId): GetCallerIdentity/);
    const got = await call('GET', `/api/v1/accounts/${id}`);
    expect(verified(got.body)).toMatchObject({ status: 'False', reason: 'CloudCredentialsInvalid' });
  });

  it('refuses an unknown access key', async () => {
    writeSecret('aws-unknown.json', { access_key_id: 'AKIAUNKNOWNUNKNOWN00', secret_access_key: 'not-a-real-secret' });
    await call('PATCH', `/api/v1/accounts/${id}`, { credentials_ref: 'file:aws-unknown.json' });
    const res = await call('POST', `/api/v1/accounts/${id}/actions/verify`);
    expect(res.status).toBe(422);
    expect(res.body.detail).toMatch(/^InvalidClientTokenId: /);
  });

  it('refuses a credentials file readable by others, and says what is missing', async () => {
    writeSecret('aws-open.json', awsKeys, 0o644);
    await call('PATCH', `/api/v1/accounts/${id}`, { credentials_ref: 'file:aws-open.json' });
    const open = await call('POST', `/api/v1/accounts/${id}/actions/verify`);
    expect(open.status).toBe(422);
    expect(open.body.detail).toMatch(/readable by group or others.*chmod 600/);
    await call('PATCH', `/api/v1/accounts/${id}`, { credentials_ref: 'env:HANGAR_CLOUD_CREDENTIALS_NOT_SET_ANYWHERE' });
    const missing = await call('POST', `/api/v1/accounts/${id}/actions/verify`);
    expect(missing.status).toBe(422);
    expect(missing.body.error).toBe('cloud_credentials_missing');
  });

  it('reads credentials from an environment variable named by the account', async () => {
    process.env.HANGAR_CLOUD_CREDENTIALS_VERIFY_TEST = JSON.stringify(awsKeys);
    try {
      await call('PATCH', `/api/v1/accounts/${id}`, { credentials_ref: 'env:HANGAR_CLOUD_CREDENTIALS_VERIFY_TEST' });
      expect((await call('POST', `/api/v1/accounts/${id}/actions/verify`)).status).toBe(200);
    } finally {
      delete process.env.HANGAR_CLOUD_CREDENTIALS_VERIFY_TEST;
    }
  });

  it('refuses a credentials_ref outside the credentials folder or the variable prefix', async () => {
    for (const ref of ['file:../etc/passwd', 'file:/etc/passwd', 'env:DATABASE_URL']) {
      const res = await call('PATCH', `/api/v1/accounts/${id}`, { credentials_ref: ref });
      expect(res.status).toBe(400);
      expect(res.body.fields).toHaveProperty('credentials_ref');
    }
  });
});

describe('account verify on GCP (simulator)', () => {
  it('accepts the service-account key through the signed-JWT flow at its token_uri', async () => {
    const { id } = await account(`gcp:${PROJECT}`, { regions: ['us-central1'] });
    const before = sim.tokensIssued;
    const res = await call('POST', `/api/v1/accounts/${id}/actions/verify`);
    expect(res.status).toBe(200);
    expect(res.body.identity).toEqual({ principal: gcpKey.client_email, account: PROJECT, networks: 1 });
    expect(sim.tokensIssued).toBeGreaterThan(before);
    expect(verified(res.body.account)).toMatchObject({ status: 'True' });
  });

  it('refuses a key whose signature the token endpoint cannot verify (invalid_grant)', async () => {
    const { id } = await account(`gcp:${PROJECT}`);
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    writeSecret('gcp-forged.json', { ...gcpKey, private_key: stranger });
    await call('PATCH', `/api/v1/accounts/${id}`, { credentials_ref: 'file:gcp-forged.json' });
    const res = await call('POST', `/api/v1/accounts/${id}/actions/verify`);
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ error: 'cloud_credentials_invalid', detail: expect.stringMatching(/^invalid_grant: /) });
    const got = await call('GET', `/api/v1/accounts/${id}`);
    expect(verified(got.body)).toMatchObject({ status: 'False', message: expect.stringMatching(/^invalid_grant: /) });
  });
});

describe('secrets', () => {
  it('never shows the AWS secret or the GCP private key in responses, errors or logs', () => {
    const everything = [...bodies, ...lines].join('\n');
    expect(lines.length).toBeGreaterThan(0);
    expect(everything).toContain('cloud credentials check failed');
    expect(everything).not.toContain(awsKeys.secret_access_key);
    expect(everything).not.toContain('wrong-secret-0123456789');
    for (const line of gcpKey.private_key!.split('\n').filter((l) => l.length > 20)) expect(everything).not.toContain(line);
  });
});
