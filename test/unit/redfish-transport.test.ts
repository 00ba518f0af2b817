import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { HangarError } from '../../domain/errors.ts';
import { selfSignedCert } from '../support/self-signed-cert.ts';
import { Semaphore } from '../../providers/redfish/limiter.ts';
import { isSessionLimitResponse } from '../../providers/redfish/session.ts';
import { extendedMessages, messageIds, normaliseFingerprint, retryAfterMs, send } from '../../providers/redfish/transport.ts';

describe('Redfish error bodies', () => {
  const body = {
    error: {
      code: 'Base.1.8.GeneralError',
      message: 'A general error has occurred. See ExtendedInfo for more information.',
      '@Message.ExtendedInfo': [
        {
          MessageId: 'Base.1.8.PropertyValueNotInList',
          Message: 'The value Floppy for the property BootSourceOverrideTarget is not in the list of acceptable values.',
        },
        { MessageId: 'IDRAC.2.4.SYS403' },
      ],
    },
    'Boot@Message.ExtendedInfo': [{ Message: 'Boot is read-only while a job is pending.' }],
  };

  it('collects error.message and every ExtendedInfo Message with its id', () => {
    expect(extendedMessages(body)).toEqual([
      'A general error has occurred. See ExtendedInfo for more information.',
      'The value Floppy for the property BootSourceOverrideTarget is not in the list of acceptable values. [Base.1.8.PropertyValueNotInList]',
      'IDRAC.2.4.SYS403',
      'Boot is read-only while a job is pending.',
    ]);
    expect(messageIds(body)).toEqual(['Base.1.8.GeneralError', 'Base.1.8.PropertyValueNotInList', 'IDRAC.2.4.SYS403']);
    expect(extendedMessages(undefined)).toEqual([]);
    expect(extendedMessages('not json')).toEqual([]);
  });

  it('recognises session-slot exhaustion in its vendor spellings', () => {
    expect(isSessionLimitResponse(503, {})).toBe(true);
    expect(isSessionLimitResponse(400, { error: { '@Message.ExtendedInfo': [{ MessageId: 'Base.1.8.SessionLimitExceeded' }] } })).toBe(true);
    expect(
      isSessionLimitResponse(403, {
        error: { '@Message.ExtendedInfo': [{ MessageId: 'IDRAC.2.4.RAC0218', Message: 'The maximum number of user sessions is reached.' }] },
      }),
    ).toBe(true);
    expect(isSessionLimitResponse(401, { error: { message: 'Invalid username or password.' } })).toBe(false);
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(retryAfterMs({ 'retry-after': '7' })).toBe(7000);
    expect(retryAfterMs({ 'retry-after': new Date(10_000).toUTCString() }, 4_000)).toBe(6000);
    expect(retryAfterMs({})).toBeUndefined();
    expect(retryAfterMs({ 'retry-after': 'soon' })).toBeUndefined();
  });

  it('normalises SHA-256 fingerprints and refuses anything else', () => {
    const colon = Array.from({ length: 32 }, (_, i) => i.toString(16).padStart(2, '0').toUpperCase()).join(':');
    expect(normaliseFingerprint(colon.toLowerCase())).toBe(colon);
    expect(normaliseFingerprint(`sha256:${colon.replace(/:/g, '')}`)).toBe(colon);
    expect(() => normaliseFingerprint('AB:CD')).toThrow(HangarError);
  });
});

describe('per-BMC limiter', () => {
  it('never runs more than max at once and hands slots over in order', async () => {
    const sem = new Semaphore(2);
    let active = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        sem.run(async () => {
          active += 1;
          peak = Math.max(peak, active);
          await new Promise((r) => setTimeout(r, 5));
          order.push(i);
          active -= 1;
        }),
      ),
    );
    expect(peak).toBe(2);
    expect(sem.peak).toBe(2);
    expect(sem.active).toBe(0);
    expect(order).toHaveLength(8);
    sem.tighten(5);
    expect(sem.max).toBe(2);
    sem.tighten(1);
    expect(sem.max).toBe(1);
  });
});

describe('TLS pinning', () => {
  let server: tls.Server;
  let port: number;
  let fingerprint: string;
  const received: Buffer[] = [];

  beforeAll(async () => {
    const { cert, key } = selfSignedCert();
    fingerprint = new X509Certificate(cert).fingerprint256;
    server = tls.createServer({ cert, key }, (socket) => {
      socket.on('data', (d: Buffer) => {
        received.push(d);
        socket.end('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{"ok":true}');
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });

  const request = (fp: string) =>
    send({
      endpoint: new URL(`https://127.0.0.1:${port}`),
      tls: { fingerprint: fp },
      method: 'GET',
      path: '/redfish/v1/Systems',
      headers: { Authorization: 'Basic c2VjcmV0OnNlY3JldA==' },
      timeoutMs: 5000,
    });

  it('sends nothing (no credentials) to a server whose certificate does not match the pin', async () => {
    const wrong = fingerprint.split(':').reverse().join(':');
    await expect(request(wrong)).rejects.toMatchObject({ code: 'tls_verification_failed' });
    await new Promise((r) => setTimeout(r, 50));
    expect(received).toHaveLength(0);
  });

  it('talks to the pinned certificate', async () => {
    const res = await request(fingerprint);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true });
    expect(Buffer.concat(received).toString()).toContain('Authorization: Basic');
  });
});
