// Unit checks of the cloud providers' shared pieces: the backoff, the retry loop, the error
// mapping of both clouds, GCP's tag encoding, and AWS paging (moto ignores MaxResults/NextToken,
// so a small EC2 stand-in on loopback serves the pages here).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { EC2ServiceException } from '@aws-sdk/client-ec2';
import { backoffDelay, withCloudRetry } from '../../providers/cloud-retry.ts';
import { awsHangarCode, isAwsRetryable } from '../../providers/aws/errors.ts';
import { gcpHangarCode, isGcpRetryable, operationError } from '../../providers/gcp/errors.ts';
import { describeTags, tagsFromDescription } from '../../providers/gcp/gcp-networks.ts';
import { AwsNetworks } from '../../providers/aws/aws-networks.ts';

const awsError = (name: string, status: number) =>
  new EC2ServiceException({ name, message: `${name} happened`, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status } });

describe('backoff', () => {
  it('grows from the initial delay, stays within [ceiling/2, ceiling] and caps at the maximum', () => {
    const opts = { initialMs: 2000, maxMs: 30_000 };
    expect(backoffDelay(0, { ...opts, random: () => 0 })).toBe(1000);
    expect(backoffDelay(0, { ...opts, random: () => 1 })).toBe(2000);
    expect(backoffDelay(3, { ...opts, random: () => 1 })).toBe(16_000);
    expect(backoffDelay(10, { ...opts, random: () => 1 })).toBe(30_000);
    expect(backoffDelay(10, { ...opts, random: () => 0 })).toBe(15_000);
  });

  it('retries what is retryable up to the attempts, and nothing else', async () => {
    const delays: number[] = [];
    let calls = 0;
    const opts = { initialMs: 10, maxMs: 40, attempts: 4, sleep: async (ms: number) => void delays.push(ms) };
    await expect(
      withCloudRetry(
        async () => {
          calls++;
          throw new Error('throttled');
        },
        () => true,
        opts,
      ),
    ).rejects.toThrow('throttled');
    expect(calls).toBe(4);
    expect(delays.length).toBe(3);
    calls = 0;
    await expect(
      withCloudRetry(
        async () => {
          calls++;
          throw new Error('invalid');
        },
        () => false,
        opts,
      ),
    ).rejects.toThrow('invalid');
    expect(calls).toBe(1);
    let n = 0;
    expect(
      await withCloudRetry(
        async () => (++n < 3 ? Promise.reject(new Error('busy')) : 'ok'),
        () => true,
        opts,
      ),
    ).toBe('ok');
  });

  it('stops at once when the signal aborts', async () => {
    const controller = new AbortController();
    controller.abort(new Error('cancelled'));
    await expect(
      withCloudRetry(
        async () => 'never',
        () => true,
        { initialMs: 1, maxMs: 1, attempts: 3 },
        controller.signal,
      ),
    ).rejects.toThrow('cancelled');
  });
});

describe('AWS error mapping', () => {
  it('retries throttling and 5xx, never validation or auth; maps codes', () => {
    expect(isAwsRetryable(awsError('RequestLimitExceeded', 503))).toBe(true);
    expect(awsHangarCode(awsError('RequestLimitExceeded', 503))).toBe('cloud_throttled');
    expect(isAwsRetryable(awsError('InternalError', 500))).toBe(true);
    expect(isAwsRetryable(awsError('InvalidParameterValue', 400))).toBe(false);
    expect(awsHangarCode(awsError('InvalidParameterValue', 400))).toBe('cloud_rejected');
    expect(awsHangarCode(awsError('AuthFailure', 401))).toBe('cloud_credentials_invalid');
    expect(isAwsRetryable(awsError('AuthFailure', 401))).toBe(false);
    expect(awsHangarCode(awsError('DependencyViolation', 400))).toBe('cloud_dependency_violation');
    expect(awsHangarCode(awsError('InvalidSubnetID.NotFound', 400))).toBe('not_found');
  });
});

describe('GCP error mapping', () => {
  const gcpError = (httpStatusCode: number, reason: string) => Object.assign(new Error(reason), { httpStatusCode, reason });

  it('retries 429, 403 rateLimitExceeded and 5xx; never a 400 or a plain 403', () => {
    expect(isGcpRetryable(gcpError(429, 'rateLimitExceeded'))).toBe(true);
    expect(isGcpRetryable(gcpError(403, 'rateLimitExceeded'))).toBe(true);
    expect(gcpHangarCode(gcpError(403, 'rateLimitExceeded'))).toBe('cloud_throttled');
    expect(isGcpRetryable(gcpError(503, 'backendError'))).toBe(true);
    expect(isGcpRetryable(gcpError(400, 'invalid'))).toBe(false);
    expect(gcpHangarCode(gcpError(403, 'forbidden'))).toBe('cloud_credentials_invalid');
    expect(gcpHangarCode(gcpError(400, 'resourceInUseByAnotherResource'))).toBe('cloud_dependency_violation');
    expect(gcpHangarCode(gcpError(404, 'notFound'))).toBe('not_found');
  });

  it("names an operation's error code first", () => {
    const err = operationError({ name: 'op-1', error: { errors: [{ code: 'QUOTA_EXCEEDED', message: 'Quota SUBNETWORKS exceeded' }] } }, 'subnetworks.insert');
    expect(err.code).toBe('cloud_operation_failed');
    expect(err.message).toBe('QUOTA_EXCEEDED: subnetworks.insert: operation op-1 failed: Quota SUBNETWORKS exceeded');
  });

  it("keeps Hangar's id and tags in the description and reads them back", () => {
    const tags = { 'hangar-subnet-id': '0b6c', team: 'a=b' };
    expect(tagsFromDescription(describeTags(tags))).toEqual(tags);
    expect(tagsFromDescription('made by hand')).toEqual({});
  });
});

describe('AWS paging', () => {
  let server: http.Server;
  let url = '';
  const seen: URLSearchParams[] = [];
  /** AWS error codes the next DescribeVpcs calls answer with (400 with the code), in order. */
  const vpcFaults: string[] = [];
  const subnetXml = (i: number) =>
    `<item><subnetId>subnet-${i}</subnetId><vpcId>vpc-1</vpcId><cidrBlock>10.0.${i}.0/24</cidrBlock><state>available</state><availabilityZone>eu-west-1a</availabilityZone></item>`;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const form = new URLSearchParams(body);
        seen.push(form);
        // A region that fails: eu-north-1 always answers 503.
        if ((req.headers.authorization ?? '').includes('/eu-north-1/')) {
          res.writeHead(503, { 'content-type': 'text/xml' });
          res.end('<Response><Errors><Error><Code>Unavailable</Code><Message>down</Message></Error></Errors><RequestID>r</RequestID></Response>');
          return;
        }
        if (form.get('Action') === 'DescribeVpcs') {
          const fault = vpcFaults.shift();
          res.writeHead(fault ? (fault === 'RequestLimitExceeded' ? 503 : 400) : 200, { 'content-type': 'text/xml' });
          res.end(
            fault
              ? `<Response><Errors><Error><Code>${fault}</Code><Message>${fault} here</Message></Error></Errors><RequestID>r</RequestID></Response>`
              : '<DescribeVpcsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><vpcSet><item><vpcId>vpc-1</vpcId><cidrBlock>10.0.0.0/16</cidrBlock><isDefault>false</isDefault></item></vpcSet></DescribeVpcsResponse>',
          );
          return;
        }
        const page = Number(form.get('NextToken') ?? 0);
        const next = page < 2 ? `<nextToken>${page + 1}</nextToken>` : '';
        res.writeHead(200, { 'content-type': 'text/xml' });
        res.end(
          `<DescribeSubnetsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><subnetSet>${[0, 1].map((k) => subnetXml(page * 2 + k)).join('')}</subnetSet>${next}</DescribeSubnetsResponse>`,
        );
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('follows NextToken to the end with the page size asked, and reports a failing region', async () => {
    const aws = new AwsNetworks({
      accountId: '123456789012',
      regions: ['eu-west-1', 'eu-north-1'],
      credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' },
      endpoint: url,
      pageSize: 2,
      retry: { initialMs: 1, maxMs: 1, attempts: 2, sleep: async () => {} },
    });
    let pages = 0;
    const listing = await aws.listSubnets({ onPage: () => pages++ });
    aws.close();
    expect(listing.items.map((s) => s.id)).toEqual(['subnet-0', 'subnet-1', 'subnet-2', 'subnet-3', 'subnet-4', 'subnet-5']);
    expect(pages).toBe(3);
    expect(seen.filter((f) => f.get('Action') === 'DescribeSubnets').every((f) => f.get('MaxResults') === '2')).toBe(true);
    expect(listing.failures).toEqual([{ region: 'eu-north-1', error: expect.stringMatching(/^Unavailable: DescribeSubnets in eu-north-1/) }]);
  });

  it('retries RequestLimitExceeded with backoff and never an InvalidParameterValue', async () => {
    const delays: number[] = [];
    const aws = new AwsNetworks({
      accountId: '123456789012',
      regions: ['eu-west-1'],
      credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' },
      endpoint: url,
      retry: { initialMs: 2000, maxMs: 30_000, attempts: 5, sleep: async (ms) => void delays.push(ms) },
    });
    vpcFaults.push('RequestLimitExceeded', 'RequestLimitExceeded');
    const listing = await aws.listNetworks();
    expect(listing.items.map((n) => n.id)).toEqual(['vpc-1']);
    expect(delays.length).toBe(2);
    expect(delays[1]!).toBeGreaterThanOrEqual(2000);
    delays.length = 0;
    vpcFaults.push('InvalidParameterValue');
    const failed = await aws.listNetworks();
    aws.close();
    expect(failed.failures).toEqual([{ region: 'eu-west-1', error: expect.stringMatching(/^InvalidParameterValue: DescribeVpcs in eu-west-1/) }]);
    expect(delays).toEqual([]);
  });
});
