// A throw-away self-signed certificate for test servers that speak TLS on 127.0.0.1 (sushy-tools,
// the Proxmox simulator, the Redfish transport's pinning test), made by openssl: an EC P-256 key,
// valid for two days, for 127.0.0.1 and localhost.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CertFiles {
  /** Path of the certificate (PEM); clients use it as their CA. */
  cert: string;
  /** Path of the unencrypted private key (PEM). */
  key: string;
}

/** Writes cert.pem and key.pem into `dir` (for servers configured with file paths). */
export function writeSelfSignedCert(dir: string): CertFiles {
  const files = { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      files.key,
      '-out',
      files.cert,
      '-days',
      '2',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'ignore' },
  );
  return files;
}

/** The certificate and key as PEM text (for servers created in-process); nothing stays on disk. */
export function selfSignedCert(): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-tls-'));
  try {
    const files = writeSelfSignedCert(dir);
    return { cert: readFileSync(files.cert, 'utf8'), key: readFileSync(files.key, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
