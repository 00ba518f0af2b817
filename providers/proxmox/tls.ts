// TLS for the Proxmox API: certificate fingerprints, and the agent for pinned-fingerprint mode
// (the socket reaches the HTTP request only after the leaf certificate matched the pin).
import * as https from 'node:https';
import * as tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { HangarError } from '../../domain/errors.ts';

/** `AB:cd:..` or `abcd..` → `ABCD..` (hex only). */
export function normalizeFingerprint(fp: string): string {
  return fp.replace(/[^0-9a-fA-F]/g, '').toUpperCase();
}

export function colonFingerprint(hex: string): string {
  return (hex.match(/.{1,2}/g) ?? []).join(':');
}

/**
 * Agent for pinned-fingerprint mode: the socket is handed to the HTTP request only after the
 * leaf certificate's SHA-256 matched, so not a byte (least of all the token) reaches a server
 * presenting any other certificate.
 */
export class PinnedAgent extends https.Agent {
  readonly #expected: string;

  constructor(options: https.AgentOptions, expectedHex: string) {
    super({ ...options, maxCachedSessions: 0 });
    this.#expected = expectedHex;
  }

  override createConnection(options: https.RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    let settled = false;
    const settle = (err: Error | null, socket: Duplex) => {
      if (settled) return;
      settled = true;
      callback?.(err, socket);
    };
    const socket = tls.connect({ ...(options as tls.ConnectionOptions), rejectUnauthorized: false });
    socket.once('secureConnect', () => {
      const presented = socket.getPeerCertificate()?.fingerprint256 ?? '';
      if (normalizeFingerprint(presented) !== this.#expected) {
        socket.destroy();
        settle(
          new HangarError(
            'tls_verification_failed',
            `Proxmox TLS certificate fingerprint mismatch: expected SHA-256 ${colonFingerprint(this.#expected)}, server presented ${presented || '(no certificate)'}`,
          ),
          socket,
        );
        return;
      }
      settle(null, socket);
    });
    socket.once('error', (err) => settle(err, socket));
    return undefined;
  }
}
