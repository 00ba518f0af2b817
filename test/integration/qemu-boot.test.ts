// Boots the real Debian cloud image (scripts/build-image.sh, cached per machine) with the QEMU
// provider and proves both NoCloud paths end to end:
//   - the cidata ISO: its meta-data's instance-id is the one the guest phones home with;
//   - the SMBIOS seed URL: the guest fetches meta-data/user-data from this test's HTTP server and
//     runs *that* user-data (NoCloud's URL user-data replaces the ISO's), whose phone_home URL
//     is marked `url`.
// Then checks the SSH key over the forwarded port, hot-plugs and unplugs a disk with the guest's
// cooperation, powers off through ACPI and deletes without leftovers. The guest reaches this
// test's server at 10.0.2.2 (QEMU user-mode networking maps it to the host's 127.0.0.1).
// Works under KVM or TCG (CI may have no usable KVM); on failure it prints the serial console.
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { QemuProvider } from '../../providers/qemu/qemu-provider.ts';
import { ensureBootImage, type BootImage } from '../support/boot-image.ts';

const BOOT_TIMEOUT_MS = Number(process.env.HANGAR_QEMU_BOOT_TIMEOUT_MS ?? 8 * 60_000);
const GUEST_HOST = '10.0.2.2';

const logLines: string[] = [];
const logger = pino(
  { level: 'info' },
  new Writable({
    write(chunk, _e, cb) {
      logLines.push(String(chunk).trim());
      cb();
    },
  }),
);

interface Seen {
  at: number;
  method: string;
  path: string;
  body: string;
}

function serialTail(file: string | undefined, lines = 80): string {
  if (!file || !existsSync(file)) return '(no serial log)';
  const text = readFileSync(file, 'utf8').replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
  return text.split('\n').slice(-lines).join('\n');
}

function ssh(keyFile: string, port: number, command: string, timeoutMs = 30_000): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      'ssh',
      [
        '-i',
        keyFile,
        '-p',
        String(port),
        '-o',
        'StrictHostKeyChecking=no',
        '-o',
        'UserKnownHostsFile=/dev/null',
        '-o',
        'BatchMode=yes',
        '-o',
        'ConnectTimeout=15',
        '-o',
        'LogLevel=ERROR',
        'debian@127.0.0.1',
        command,
      ],
      { encoding: 'utf8', timeout: timeoutMs },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, out: `${stdout}${stderr}` });
      },
    );
  });
}

async function until<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | null | undefined | false>,
  diag: () => string,
  intervalMs = 1000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}\n${diag()}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

describe('QEMU boot of the Debian cloud image', () => {
  let image: BootImage;
  let dataDir: string;
  let provider: QemuProvider;
  let server: Server;
  let port: number;
  const seen: Seen[] = [];
  const machineId = randomUUID();
  const templateId = randomUUID();
  const token = randomBytes(16).toString('hex');
  const hostname = `hangar-boot-${randomBytes(3).toString('hex')}`;
  const instanceId = `iid-${randomBytes(6).toString('hex')}`;
  let keyFile: string;
  let publicKey: string;
  let serialLog: string | undefined;

  const diag = () =>
    [
      `--- requests seen by the seed server: ${seen.map((s) => `${s.method} ${s.path}`).join(', ') || '(none)'}`,
      `--- provider log:\n${logLines.slice(-15).join('\n')}`,
      `--- serial console (tail of ${serialLog}):\n${serialTail(serialLog)}`,
    ].join('\n');

  const userData = (via: 'iso' | 'url') =>
    [
      '#cloud-config',
      `hostname: ${hostname}`,
      'ssh_authorized_keys:',
      `  - ${publicKey}`,
      'phone_home:',
      `  url: http://${GUEST_HOST}:${port}/phone-home/${via}/$INSTANCE_ID`,
      '  post: [instance_id, hostname, fqdn, pub_key_ed25519]',
      '  tries: 20',
      '',
    ].join('\n');

  beforeAll(async () => {
    image = await ensureBootImage();
    dataDir = mkdtempSync(join(tmpdir(), 'hangar-qemu-boot-'));
    keyFile = join(dataDir, 'id_ed25519');
    execFileSync('ssh-keygen', ['-q', '-N', '', '-t', 'ed25519', '-C', 'hangar-boot-test', '-f', keyFile]);
    publicKey = readFileSync(`${keyFile}.pub`, 'utf8').trim();

    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => {
        body += String(d);
      });
      req.on('end', () => {
        const path = (req.url ?? '').split('?')[0]!;
        seen.push({ at: Date.now(), method: req.method ?? '', path, body });
        const send = (status: number, text: string) => {
          res.writeHead(status, { 'content-type': 'text/plain' });
          res.end(text);
        };
        const seedPrefix = `/seed/${token}/`;
        if (req.method === 'GET' && path === `${seedPrefix}meta-data`) return send(200, `local-hostname: ${hostname}\n`);
        if (req.method === 'GET' && path === `${seedPrefix}user-data`) return send(200, userData('url'));
        if (req.method === 'GET' && path === `${seedPrefix}vendor-data`) return send(200, '#cloud-config\n{}\n');
        if (req.method === 'POST' && path.startsWith('/phone-home/')) return send(200, 'ok\n');
        send(404, 'not found\n');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;

    provider = new QemuProvider({
      dataDir,
      network: { mode: 'user' },
      accel: (process.env.HANGAR_QEMU_ACCEL as 'auto' | 'kvm' | 'tcg' | undefined) ?? 'auto',
      hooks: {},
      logger,
      unplugTimeoutSec: 60,
    });
  }, 40 * 60_000);

  afterAll(async () => {
    if (provider) {
      for (const vm of await provider.list().catch(() => [])) await provider.delete(vm.providerId).catch(() => undefined);
      await provider.deleteTemplate(templateId).catch(() => undefined);
    }
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it(
    'boots, reads the ISO and the SMBIOS seed URL, phones home and accepts the SSH key',
    async () => {
      const t0 = Date.now();
      expect(image.manifest.cmdline).toContain('root=LABEL=hangar-root');
      expect(await provider.importTemplate({ templateId, name: 'debian12', image: image.dir, checksum: image.manifest.checksums?.disk })).toEqual({
        ref: 'debian12',
        created: true,
      });

      const spec = { machineId, name: hostname, cpu: 1, memoryMb: 1024, diskGb: 4, template: 'debian12' };
      await provider.create(spec);
      await provider.configure(machineId, {
        ...spec,
        cloudInit: {
          mode: 'iso',
          metaData: `instance-id: ${instanceId}\nlocal-hostname: ${hostname}\n`,
          userData: userData('iso'),
          seedUrl: `http://${GUEST_HOST}:${port}/seed/${token}/`,
        },
      });
      await provider.start(machineId);
      const info = (await provider.describe(machineId))!;
      serialLog = info.serialLog;
      expect(info.powerState).toBe('running');
      const started = Date.now();

      // The phone-home arrives: from the URL's user-data, carrying the ISO's instance-id.
      const home = await until(
        'the phone-home POST',
        BOOT_TIMEOUT_MS,
        async () => seen.find((s) => s.method === 'POST' && s.path.startsWith('/phone-home/')),
        diag,
        2000,
      );
      const bootSeconds = Math.round((Date.now() - started) / 1000);
      const fields = Object.fromEntries(new URLSearchParams(home.body));
      expect(home.path).toBe(`/phone-home/url/${instanceId}`);
      expect(fields.instance_id).toBe(instanceId);
      expect(fields.hostname).toBe(hostname);
      expect(fields.pub_key_ed25519).toMatch(/^ssh-ed25519 /);
      expect(seen.some((s) => s.method === 'GET' && s.path === `/seed/${token}/meta-data`)).toBe(true);
      expect(seen.some((s) => s.method === 'GET' && s.path === `/seed/${token}/user-data`)).toBe(true);

      // The SSH key from the seed works over the forwarded port; the guest has the hostname and
      // grew its root file system to the configured disk size.
      const who = await until(
        'SSH login with the seeded key',
        120_000,
        async () => {
          const r = await ssh(keyFile, info.sshPort!, 'hostname; df -B1G --output=size / | tail -1');
          return r.code === 0 ? r.out : null;
        },
        diag,
        3000,
      );
      const [guestHostname, rootSize] = who
        .trim()
        .split('\n')
        .map((l) => l.trim());
      expect(guestHostname).toBe(hostname);
      expect(Number(rootSize)).toBeGreaterThanOrEqual(3);

      // Hot-plug a disk: the guest sees it by its serial; unplugging completes with the guest's help.
      const diskId = `data-${randomBytes(4).toString('hex')}`;
      await provider.attachDisk(machineId, { diskId, sizeGb: 1 });
      await until(
        'the hot-plugged disk in the guest',
        120_000,
        async () => {
          const r = await ssh(keyFile, info.sshPort!, `test -e /dev/disk/by-id/virtio-${diskId} && echo present`);
          return r.out.includes('present');
        },
        diag,
        2000,
      );
      expect(await provider.detachDisk(machineId, diskId)).toEqual({ detached: true });
      const gone = await ssh(keyFile, info.sshPort!, `test -e /dev/disk/by-id/virtio-${diskId} && echo present || echo absent`);
      expect(gone.out.trim()).toBe('absent');

      // ACPI power-off, then delete: no process, no files.
      const tShutdown = Date.now();
      await provider.shutdown(machineId, 120);
      const shutdownSeconds = Math.round((Date.now() - tShutdown) / 1000);
      expect(await provider.status(machineId)).toEqual({ providerId: machineId, powerState: 'stopped' });
      expect(serialTail(serialLog, 30)).toMatch(/reboot: Power down|Powering off/);
      expect(await provider.delete(machineId)).toEqual({ deleted: true });
      expect(info.pid && existsSync(`/proc/${info.pid}`) && !/\) [ZX] /.test(readFileSync(`/proc/${info.pid}/stat`, 'utf8'))).toBeFalsy();
      expect(existsSync(info.dir)).toBe(false);
      expect(await provider.status(machineId)).toEqual({ providerId: null, powerState: 'absent' });
      expect(await provider.deleteTemplate(templateId)).toEqual({ deleted: true });

      const choice = logLines.map((l) => JSON.parse(l) as { msg?: string; reason?: string }).find((l) => l.msg === 'qemu: accelerator chosen');
      // eslint-disable-next-line no-console
      console.log(
        `qemu boot test: accel=${info.accel} (${choice?.reason ?? 'reason not logged'}), boot to phone-home ${bootSeconds} s, ACPI shutdown ${shutdownSeconds} s, total ${Math.round((Date.now() - t0) / 1000)} s`,
      );
    },
    20 * 60_000,
  );
});
