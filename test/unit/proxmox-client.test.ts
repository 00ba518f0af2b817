// Proxmox client and provider helpers: encoding, parsing and error classification against a
// canned plain-HTTP responder (the full API behaviour is exercised against the simulator in
// test/integration/proxmox-provider.test.ts).
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { HangarError } from '../../domain/errors.ts';
import { ProxmoxClient, encodeParams, normalizeFingerprint, pvePath, upidNode } from '../../providers/proxmox/client.ts';
import { ProxmoxProvider } from '../../providers/proxmox/provider.ts';
import { cidataIsoName, diskMarkers, isCidataIsoOf, markerValue, parseTags } from '../../providers/proxmox/markers.ts';
import { encodeSshKeys, parsePropertyString, parseSize, smbiosWithSeed } from '../../providers/proxmox/properties.ts';

const SECRET = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';

describe('proxmox helpers', () => {
  it('encodes form bodies with booleans as 1/0 and spaces as %20', () => {
    expect(encodeParams({ full: true, purge: false, name: 'a b', skip: undefined, n: 3 })).toBe('full=1&purge=0&name=a%20b&n=3');
  });

  it('normalises fingerprints and encodes path segments', () => {
    expect(normalizeFingerprint('ab:cd:EF:01')).toBe('ABCDEF01');
    expect(pvePath`/nodes/${'pve'}/tasks/${'UPID:pve:1:2:3:qmclone:100:root@pam:'}/status`).toBe(
      '/nodes/pve/tasks/UPID%3Apve%3A1%3A2%3A3%3Aqmclone%3A100%3Aroot%40pam%3A/status',
    );
    expect(upidNode('UPID:pve2:0001:0002:0003:qmstart:101:root@pam:')).toBe('pve2');
  });

  it('parses property strings, sizes, tags and markers', () => {
    expect(parsePropertyString('virtio=BC:24:11:00:00:01,bridge=vmbr0,tag=10')).toEqual({ virtio: 'BC:24:11:00:00:01', bridge: 'vmbr0', tag: '10' });
    expect(parsePropertyString('local-lvm:vm-100-disk-0,size=2G')).toEqual({ _: 'local-lvm:vm-100-disk-0', size: '2G' });
    expect(parseSize('2G')).toBe(2 * 1024 ** 3);
    expect(parseSize('512M')).toBe(512 * 1024 ** 2);
    expect(parseSize('1024')).toBe(1024);
    expect(parseTags('hangar;template')).toEqual(['hangar', 'template']);
    const desc = 'Managed by Hangar\nhangar-machine=m-1\nhangar-disk=d1:scsi1\nhangar-disk=d2:scsi2';
    expect(markerValue(desc, 'hangar-machine')).toBe('m-1');
    expect(markerValue(desc, 'hangar-template')).toBeUndefined();
    expect([...diskMarkers(desc)]).toEqual([
      ['d1', 'scsi1'],
      ['d2', 'scsi2'],
    ]);
    expect(cidataIsoName('abc')).toBe('hangar-abc-cidata.iso');
    expect(cidataIsoName('abc', '0123456789abcdef')).toBe('hangar-abc-cidata-0123456789abcdef.iso');
    expect(isCidataIsoOf('abc', 'local:iso/hangar-abc-cidata-0123456789abcdef.iso')).toBe(true);
    expect(isCidataIsoOf('abc', 'hangar-abc-cidata.iso')).toBe(true);
    // Another machine whose id merely starts with this one's is not matched.
    expect(isCidataIsoOf('abc', 'local:iso/hangar-abc-cidata-x-cidata.iso')).toBe(false);
    expect(isCidataIsoOf('ab', 'local:iso/hangar-abc-cidata.iso')).toBe(false);
  });

  it('URL-encodes ssh keys (newline-joined, %20 for spaces) and builds the SMBIOS seed', () => {
    expect(encodeSshKeys(['ssh-ed25519 AAAA a@b', 'ssh-rsa BBBB c'])).toBe('ssh-ed25519%20AAAA%20a%40b%0Assh-rsa%20BBBB%20c');
    const v = smbiosWithSeed('uuid=1234-5678,manufacturer=foo', 'http://10.0.0.1:8080/cloud-init/m/t/');
    const props = parsePropertyString(v);
    expect(props.base64).toBe('1');
    expect(props.uuid).toBe('1234-5678');
    expect(Buffer.from(props.serial ?? '', 'base64').toString()).toBe('ds=nocloud;s=http://10.0.0.1:8080/cloud-init/m/t/');
  });

  it('derives the per-node/template lock key', () => {
    expect(ProxmoxProvider.lockKey({ node: 'pve1', template: '9000' })).toBe('proxmox/pve1/9000');
  });
});

// A responder that answers each request from a queue of canned replies.
type Reply = { status: number; reason?: string; body?: unknown } | 'reset';
let server: http.Server;
let base = '';
const replies: Reply[] = [];
const seen: { method: string; url: string; auth: string | undefined; body: string }[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization, body });
      const r = replies.shift() ?? { status: 200, body: { data: null } };
      if (r === 'reset') {
        req.socket.destroy();
        return;
      }
      res.writeHead(r.status, r.reason ?? 'x', { 'content-type': 'application/json' });
      res.end(JSON.stringify(r.body ?? { data: null }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

function client(extra: Partial<ConstructorParameters<typeof ProxmoxClient>[0]> = {}) {
  return new ProxmoxClient({
    url: base,
    tokenId: 'hangar@pve!ci',
    tokenSecret: SECRET,
    getRetryDelayMs: 1,
    taskPollInitialMs: 1,
    taskPollMaxMs: 4,
    ...extra,
  });
}

async function failure(p: Promise<unknown>): Promise<HangarError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof HangarError) return err;
    throw err;
  }
  throw new Error('expected a HangarError');
}

function leaks(err: unknown): boolean {
  const text = JSON.stringify(err) + String(err) + ((err as Error).stack ?? '') + JSON.stringify(Object.entries(err as object));
  return text.includes(SECRET);
}

describe('proxmox client classification', () => {
  it('sends the token header, a form body, and unwraps data', async () => {
    seen.length = 0;
    replies.push({ status: 200, body: { data: 'UPID:pve:1:2:3:x:1:u:' } });
    const c = client();
    const out = await c.post('/nodes/pve/qemu/100/clone', { newid: 101, full: false, description: 'a b\nc' });
    c.close();
    expect(out).toBe('UPID:pve:1:2:3:x:1:u:');
    expect(seen[0]?.auth).toBe(`PVEAPIToken=hangar@pve!ci=${SECRET}`);
    expect(seen[0]?.url).toBe('/api2/json/nodes/pve/qemu/100/clone');
    expect(seen[0]?.body).toBe('newid=101&full=0&description=a%20b%0Ac');
  });

  it('maps 401 to provider_auth_failed without the secret', async () => {
    replies.push({ status: 401, reason: 'authentication failure' });
    const c = client();
    const err = await failure(c.get('/version'));
    c.close();
    expect(err.code).toBe('provider_auth_failed');
    expect(leaks(err)).toBe(false);
  });

  it('maps 400 parameter errors to provider_rejected naming the parameters', async () => {
    replies.push({ status: 400, reason: 'Parameter verification failed.', body: { data: null, errors: { newid: 'invalid format' } } });
    const c = client();
    const err = await failure(c.post('/nodes/pve/qemu/100/clone', { newid: 1 }));
    c.close();
    expect(err.code).toBe('provider_rejected');
    expect(err.message).toContain('newid: invalid format');
    expect(err.retryable).toBe(false);
  });

  it('retries GETs on any transient failure, writes only when nothing was applied', async () => {
    const c = client();
    // A lock timeout answered by the call itself: retryable, and proof that nothing ran.
    replies.push(
      { status: 500, reason: "can't lock file '/var/lock/qemu-server/lock-100.conf' - got timeout" },
      { status: 200, body: { data: 'UPID:pve:1:2:3:qmclone:100:u:' } },
    );
    seen.length = 0;
    await expect(c.post('/nodes/pve/qemu/100/clone', { newid: 101 })).resolves.toBe('UPID:pve:1:2:3:qmclone:100:u:');
    expect(seen).toHaveLength(2);

    // pveproxy's "got no worker" (500 or 503) never reached a worker either.
    replies.push(
      { status: 503, reason: 'got no worker' },
      { status: 500, reason: 'got no worker' },
      { status: 200, body: { data: 'UPID:pve:1:2:4:qmstart:101:u:' } },
    );
    seen.length = 0;
    await expect(c.post('/nodes/pve/qemu/101/status/start')).resolves.toBe('UPID:pve:1:2:4:qmstart:101:u:');
    expect(seen).toHaveLength(3);

    // ...but a write that keeps meeting it gives up with a retryable error after the quick retries.
    replies.push(...Array.from({ length: 4 }, () => ({ status: 503, reason: 'got no worker' })));
    seen.length = 0;
    const busy = await failure(c.post('/nodes/pve/qemu/101/status/start'));
    expect(busy.code).toBe('provider_error');
    expect(busy.retryable).toBe(true);
    expect(seen).toHaveLength(4);

    replies.push({ status: 595, reason: 'Connection refused' }, 'reset', { status: 200, body: { data: 7 } });
    seen.length = 0;
    await expect(c.get('/cluster/nextid')).resolves.toBe(7);
    expect(seen).toHaveLength(3);

    // A reset after the request left may hide an applied write: not repeated in the client.
    replies.push('reset');
    seen.length = 0;
    const reset = await failure(c.post('/nodes/pve/qemu/100/status/start'));
    expect(reset.code).toBe('provider_error');
    expect(reset.retryable).toBe(true);
    expect(ProxmoxClient.notApplied(reset)).toBe(false);
    expect(seen).toHaveLength(1);

    // Unless the caller says repeating it is harmless.
    replies.push('reset', { status: 200, body: { data: null } });
    seen.length = 0;
    await expect(c.put('/nodes/pve/qemu/100/resize', { disk: 'scsi0', size: '8G' }, { idempotent: true })).resolves.toBeNull();
    expect(seen).toHaveLength(2);

    // Parameter errors are never retried.
    replies.push({ status: 400, reason: 'Parameter verification failed.', body: { data: null, errors: { size: 'invalid format' } } });
    seen.length = 0;
    expect((await failure(c.put('/nodes/pve/qemu/100/resize', { disk: 'scsi0', size: 'x' }, { idempotent: true }))).code).toBe('provider_rejected');
    expect(seen).toHaveLength(1);
    c.close();
  });

  it('keeps polling a task through failed status calls, up to a limit', async () => {
    const upid = 'UPID:pve:1:2:3:qmclone:100:root@pam:';
    const c = client({ getRetries: 0, taskPollFailures: 3 });
    replies.push(
      { status: 200, body: { data: { upid, node: 'pve', status: 'running' } } },
      'reset',
      { status: 503, reason: 'got no worker' },
      { status: 200, body: { data: { upid, node: 'pve', status: 'stopped', exitstatus: 'OK' } } },
    );
    seen.length = 0;
    await expect(c.waitForTask('pve', upid)).resolves.toMatchObject({ exitstatus: 'OK' });
    expect(seen).toHaveLength(4);

    replies.push('reset', 'reset', 'reset');
    seen.length = 0;
    expect((await failure(c.waitForTask('pve', upid))).code).toBe('provider_error');
    expect(seen).toHaveLength(3);
    c.close();
  });

  it('classifies already-exists and does-not-exist answers', async () => {
    const c = client();
    replies.push({ status: 500, reason: 'unable to create VM 101: config file already exists' });
    expect((await failure(c.post('/nodes/pve/qemu/100/clone', { newid: 101 }))).code).toBe('already_exists');
    replies.push({ status: 500, reason: "Configuration file 'nodes/pve/qemu-server/555.conf' does not exist" });
    expect((await failure(c.get('/nodes/pve/qemu/555/config'))).code).toBe('not_found');
    c.close();
  });

  it('polls a task with backoff, calling onWait, and reports a failure with its log tail', async () => {
    let waits = 0;
    const c = client({ hooks: { onWait: () => waits++ } });
    const upid = 'UPID:pve:1:2:3:qmclone:100:root@pam:';
    replies.push(
      { status: 200, body: { data: { upid, node: 'pve', status: 'running' } } },
      { status: 200, body: { data: { upid, node: 'pve', status: 'stopped', exitstatus: 'clone failed: out of space' } } },
      { status: 200, body: { data: Array.from({ length: 15 }, (_, i) => ({ n: i + 1, t: `line ${i + 1}` })) } },
    );
    const err = await failure(c.waitForTask('pve', upid));
    c.close();
    expect(err.code).toBe('provider_task_failed');
    expect(err.message).toContain('clone failed: out of space');
    expect(err.message).toContain('line 15');
    expect(err.message).toContain('line 6');
    expect(err.message).not.toContain('line 5\n');
    expect(waits).toBeGreaterThanOrEqual(2);
  });

  it('turns a lock timeout inside a task into a retryable error', async () => {
    const c = client();
    const upid = 'UPID:pve:1:2:3:qmclone:100:root@pam:';
    replies.push(
      {
        status: 200,
        body: { data: { upid, node: 'pve', status: 'stopped', exitstatus: "can't lock file '/var/lock/qemu-server/lock-100.conf' - got timeout" } },
      },
      { status: 200, body: { data: [{ n: 1, t: 'trying to acquire lock...' }] } },
    );
    const err = await failure(c.waitForTask('pve', upid));
    c.close();
    expect(err.code).toBe('provider_error');
  });

  it('refuses malformed token ids and never serialises the secret', () => {
    expect(() => new ProxmoxClient({ url: base, tokenId: 'nobang', tokenSecret: SECRET })).toThrow(HangarError);
    const c = client();
    expect(JSON.stringify(c)).not.toContain(SECRET);
    c.close();
  });
});
