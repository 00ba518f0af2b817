// The QEMU provider against real qemu-img / qemu-system-x86_64, with a blank template disk (no
// guest OS: the VM sits in the firmware), so it is quick: templates, overlays, resize, the cidata
// ISO, start/status over QMP, disk hot-plug and unplug, shutdown fallback, stop, delete, and the
// idempotency of each. Needs `bash scripts/setup-qemu.sh`.
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { HangarError } from '../../domain/errors.ts';
import { listIso } from '../../providers/cloud-init/cidata-iso.ts';
import { QemuProvider } from '../../providers/qemu/qemu-provider.ts';
import { withQmp } from '../../providers/qemu/qmp.ts';
import { buildQemuArgs, opt } from '../../providers/qemu/command-line.ts';
import { machineUuid, noCloudSerial, smbiosType1 } from '../../providers/qemu/smbios.ts';
import type { VmSpec } from '../../providers/hypervisor.ts';

const GiB = 1024 ** 3;
const logLines: string[] = [];
const logger = pino(
  { level: 'debug' },
  new Writable({
    write(chunk, _e, cb) {
      logLines.push(String(chunk));
      cb();
    },
  }),
);

function sha256(file: string): string {
  return execFileSync('sha256sum', [file], { encoding: 'utf8' }).split(' ')[0]!;
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX]/.test(stat);
  } catch {
    return false;
  }
}

async function expectHangarError(p: Promise<unknown>, code: string): Promise<HangarError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(HangarError);
    expect((err as HangarError).code).toBe(code);
    return err as HangarError;
  }
  throw new Error(`expected a HangarError ${code}`);
}

interface PciDevice {
  qdev_id: string;
  pci_bridge?: { devices?: PciDevice[] };
}
function pciIds(buses: { devices: PciDevice[] }[]): string[] {
  const out: string[] = [];
  const walk = (devs: PciDevice[]) =>
    devs.forEach((d) => {
      out.push(d.qdev_id);
      walk(d.pci_bridge?.devices ?? []);
    });
  for (const b of buses) walk(b.devices);
  return out;
}

interface QmpView {
  pci: string[];
  peripherals: string[];
  blockQdev: string[];
}

async function qmpView(sock: string): Promise<QmpView> {
  return withQmp(sock, async (q) => {
    const pci = pciIds(await q.execute<{ devices: PciDevice[] }[]>('query-pci'));
    const peripherals = (await q.execute<{ name: string }[]>('qom-list', { path: '/machine/peripheral' })).map((e) => e.name);
    const blocks = await q.execute<{ qdev?: string }[]>('query-block');
    return { pci, peripherals, blockQdev: blocks.map((b) => b.qdev ?? '') };
  });
}

/**
 * query-pci walks buses by the numbers the firmware programmed into the bridges, so a device
 * behind a root port shows up there only once the firmware has enumerated it: poll a little.
 */
async function qmpViewUntil(sock: string, ok: (v: QmpView) => boolean, timeoutMs = 20_000): Promise<QmpView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await qmpView(sock);
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('QEMU command line and SMBIOS blob', () => {
  it('doubles commas in QemuOpts values and keeps paths out of option parsing trouble', () => {
    expect(opt('a,b,,c')).toBe('a,,b,,,,c');
    const args = buildQemuArgs({
      name: 'web,1',
      uuid: machineUuid('m1'),
      accel: 'tcg',
      cpuModel: 'max',
      cpus: 1,
      memoryMb: 128,
      rootDisk: '/data/x,y/disk.qcow2',
      cidataIso: '/data/x,y/cidata.iso',
      cidataBus: 'virtio-scsi',
      smbiosFile: '/data/x,y/smbios.bin',
      nics: [{ mac: '52:54:00:00:00:01', netdev: { kind: 'bridge', bridge: 'br0' } }],
      dataDisks: [],
      hotplugPorts: ['hp0'],
      serialLog: '/data/x,y/serial.log',
      qmpSocket: '/data/x,y/qmp.sock',
      pidFile: '/data/x,y/qemu.pid',
    });
    expect(args).toContain('guest=web,,1');
    expect(args).toContain('driver=file,node-name=root-file,filename=/data/x,,y/disk.qcow2,discard=unmap');
    expect(args).toContain('file=/data/x,,y/smbios.bin');
    expect(args).toContain('bridge,id=net0,br=br0');
    expect(args.join(' ')).not.toContain('nocloud');
  });

  it('builds an SMBIOS type 1 structure carrying the NoCloud serial', () => {
    const serial = noCloudSerial('http://10.0.2.2:8080/cloud-init/m/t/');
    expect(serial).toBe('ds=nocloud-net;s=http://10.0.2.2:8080/cloud-init/m/t/');
    expect(noCloudSerial('/var/seed/')).toBe('ds=nocloud;s=/var/seed/');
    const uuid = '6c561407-53cc-4ca9-9d54-25e30d595808';
    const blob = smbiosType1({ manufacturer: 'QEMU', product: 'Hangar VM', serial, uuid });
    expect(blob[0]).toBe(1); // type
    expect(blob[1]).toBe(0x1b); // formatted length
    expect([blob[4], blob[5], blob[6], blob[7]]).toEqual([1, 2, 0, 3]); // string indexes
    expect(blob.subarray(8, 12).toString('hex')).toBe('0714566c'); // first UUID field little-endian
    const strings = blob.subarray(0x1b).toString('latin1');
    expect(strings).toBe(`QEMU\0Hangar VM\0${serial}\0\0`);
    expect(machineUuid(uuid)).toBe(uuid);
    expect(machineUuid('not-a-uuid')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('QemuProvider (real qemu, blank disk)', () => {
  let dataDir: string;
  let provider: QemuProvider;
  let blank: string;
  let waits = 0;
  const templateId = randomUUID();
  const machineId = randomUUID();
  const spec = (over: Partial<VmSpec> = {}): VmSpec => ({
    machineId,
    name: 'qemu-test-vm',
    cpu: 1,
    memoryMb: 128,
    diskGb: 1,
    template: 'blank',
    ...over,
  });

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'hangar-qemu,test-')); // a comma exercises QEMU's option escaping
    blank = join(dataDir, 'blank.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', blank, '1G']);
    provider = new QemuProvider({
      dataDir,
      network: { mode: 'user' },
      accel: (process.env.HANGAR_QEMU_ACCEL as 'auto' | 'kvm' | 'tcg' | undefined) ?? 'auto',
      hooks: {
        onWait: () => {
          waits++;
        },
      },
      logger,
      unplugTimeoutSec: 3,
    });
  });

  afterAll(async () => {
    // Never leave a VM behind, whatever failed.
    for (const vm of await provider.list().catch(() => [])) await provider.delete(vm.providerId).catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('imports a template once, verifying its checksum', async () => {
    await expectHangarError(provider.importTemplate({ templateId, name: 'blank', image: blank, checksum: `sha256:${'0'.repeat(64)}` }), 'provider_rejected');
    const first = await provider.importTemplate({ templateId, name: 'blank', image: blank, checksum: `sha256:${sha256(blank)}` });
    expect(first).toEqual({ ref: 'blank', created: true });
    expect(await provider.importTemplate({ templateId, name: 'blank', image: blank })).toEqual({ ref: 'blank', created: false });
    await expectHangarError(provider.importTemplate({ templateId: randomUUID(), name: 'blank', image: blank }), 'already_exists');
    const disk = join(dataDir, 'qemu/templates/blank/disk.qcow2');
    expect(statSync(disk).mode & 0o222).toBe(0); // read-only backing file
  });

  describe('a template deleted while its import runs', () => {
    let raw = '';
    const templatesDir = () => join(dataDir, 'qemu/templates');
    /** Resolves once the import's partial directory exists (the conversion is under way). */
    const partialAppears = async (name: string) => {
      while (!readdirSync(templatesDir()).some((f) => f.startsWith(`.${name}.partial-`))) await new Promise((r) => setTimeout(r, 5));
    };
    const leftovers = (name: string) => readdirSync(templatesDir()).filter((f) => f === name || f.startsWith(`.${name}.`));

    beforeAll(() => {
      // A raw image with real data: qemu-img has to convert it, which takes a moment.
      raw = join(dataDir, 'data.raw');
      execFileSync('sh', ['-c', `head -c ${256 * 1024 * 1024} /dev/urandom > "${raw}"`]);
    });

    it('cancelled (the compensation deletes): the import stops, no partial image is left, the delete finds nothing', async () => {
      const id = randomUUID();
      const abort = new AbortController();
      const reason = new Error('activity cancelled');
      const importing = provider.importTemplate({ templateId: id, name: 'cancelled', image: raw }, { signal: abort.signal });
      await partialAppears('cancelled');
      abort.abort(reason);
      const deleting = provider.deleteTemplate(id);
      await expect(importing).rejects.toBe(reason);
      expect(await deleting).toEqual({ deleted: false });
      expect(leftovers('cancelled')).toEqual([]);
    });

    it('not cancelled: the delete waits for the import to finish, then removes the template', async () => {
      const id = randomUUID();
      const importing = provider.importTemplate({ templateId: id, name: 'raced', image: raw });
      await partialAppears('raced');
      const deleting = provider.deleteTemplate(id);
      expect(await importing).toEqual({ ref: 'raced', created: true });
      expect(await deleting).toEqual({ deleted: true });
      expect(leftovers('raced')).toEqual([]);
    });
  });

  it('reports an absent VM and deletes one idempotently', async () => {
    const other = randomUUID();
    expect(await provider.status(other)).toEqual({ providerId: null, powerState: 'absent' });
    expect(await provider.delete(other)).toEqual({ deleted: false });
    await provider.stop(other); // stopping what does not exist is fine
    await expectHangarError(provider.start(other), 'not_found');
    await expectHangarError(provider.create({ ...spec(), machineId: other, template: 'nope' }), 'not_found');
    expect(await provider.status(other)).toEqual({ providerId: null, powerState: 'absent' });
  });

  it('runs the whole life cycle of a VM', async () => {
    // create (twice: the second finds the first)
    const created = await provider.create(spec());
    expect(created).toEqual({ providerId: machineId, created: true });
    expect(await provider.create(spec())).toEqual({ providerId: machineId, created: false });
    const dir = join(dataDir, 'qemu/instances', machineId);
    const overlay = join(dir, 'disk.qcow2');
    const info = JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', overlay], { encoding: 'utf8' }));
    expect(info['backing-filename']).toBe(join(dataDir, 'qemu/templates/blank/disk.qcow2'));
    expect(await provider.status(machineId)).toEqual({ providerId: machineId, powerState: 'stopped' });

    // configure: grow the disk, write the seed ISO, record the seed URL
    const token = `tok${randomUUID().replaceAll('-', '')}`;
    const seed = {
      mode: 'iso' as const,
      metaData: `instance-id: ${machineId}\nlocal-hostname: qemu-test-vm\n`,
      userData: '#cloud-config\nhostname: qemu-test-vm\n',
      networkConfig: 'version: 2\nethernets: {}\n',
      seedUrl: `http://10.0.2.2:9/cloud-init/${machineId}/${token}/`,
    };
    await provider.configure(machineId, spec({ diskGb: 2, cloudInit: seed }));
    await provider.configure(machineId, spec({ diskGb: 2, cloudInit: seed })); // re-applying is a no-op
    const grown = JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', overlay], { encoding: 'utf8' }));
    expect(grown['virtual-size']).toBe(2 * GiB);
    await expectHangarError(provider.configure(machineId, spec({ diskGb: 1 })), 'provider_rejected');
    const iso = await listIso(join(dir, 'cidata.iso'));
    expect(iso.volumeId).toBe('cidata');
    expect(iso.files).toEqual(['meta-data', 'network-config', 'user-data']);
    expect(statSync(join(dir, 'cidata.iso')).mode & 0o077).toBe(0);

    // start (twice) and read the state back over QMP
    await provider.start(machineId);
    await provider.start(machineId);
    expect(await provider.status(machineId)).toEqual({ providerId: machineId, powerState: 'running' });
    const running = (await provider.describe(machineId))!;
    expect(running.pid).toBeGreaterThan(1);
    expect(running.sshPort).toBeGreaterThan(0);
    expect(alive(running.pid!)).toBe(true);
    // The seed URL's token reaches the guest through an SMBIOS blob, never through argv.
    const argv = readFileSync(`/proc/${running.pid}/cmdline`, 'utf8');
    expect(argv).not.toContain(token);
    expect(readFileSync(join(dir, 'smbios-type1.bin')).toString('latin1')).toContain(`ds=nocloud-net;s=${seed.seedUrl}`);
    expect((await provider.list()).find((v) => v.providerId === machineId)).toEqual({
      providerId: machineId,
      machineId,
      name: 'qemu-test-vm',
      powerState: 'running',
    });

    // a live resize goes through QMP
    await provider.configure(machineId, spec({ diskGb: 3, cloudInit: seed }));
    const live = JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', overlay], { encoding: 'utf8' }));
    expect(live['virtual-size']).toBe(3 * GiB);

    // hot-plug a disk (twice: the second returns the first) and see it in QEMU
    const diskId = randomUUID();
    const attached = await provider.attachDisk(machineId, { diskId, sizeGb: 1 });
    expect(await provider.attachDisk(machineId, { diskId, sizeGb: 1 })).toEqual(attached);
    expect(existsSync(attached.volume)).toBe(true);
    let view = await qmpViewUntil(running.qmpSocket, (v) => v.pci.includes(attached.slot));
    expect(view.pci).toContain(attached.slot);
    expect(view.peripherals).toContain(attached.slot);
    expect(view.blockQdev.some((q) => q.includes(`/${attached.slot}/`))).toBe(true);

    // unplug it: gone from QEMU and from disk; a second detach finds nothing
    expect(await provider.detachDisk(machineId, diskId)).toEqual({ detached: true });
    view = await qmpView(running.qmpSocket);
    expect(view.pci).not.toContain(attached.slot);
    expect(view.peripherals).not.toContain(attached.slot);
    expect(view.blockQdev.some((q) => q.includes(`/${attached.slot}/`))).toBe(false);
    expect(existsSync(attached.volume)).toBe(false);
    expect(await provider.detachDisk(machineId, diskId)).toEqual({ detached: false });

    // graceful shutdown: the firmware ignores ACPI, so it falls back to a hard stop after the timeout
    const t0 = Date.now();
    waits = 0;
    await provider.shutdown(machineId, 2);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1900);
    expect(waits).toBeGreaterThan(0);
    expect(alive(running.pid!)).toBe(false);
    expect(await provider.status(machineId)).toEqual({ providerId: machineId, powerState: 'stopped' });
    expect(existsSync(join(dir, 'qemu.pid'))).toBe(false);
    await provider.shutdown(machineId, 2); // already off
    await provider.stop(machineId);

    // a disk attached while stopped is plugged at the next start
    const coldId = randomUUID();
    const cold = await provider.attachDisk(machineId, { diskId: coldId, sizeGb: 1 });
    await provider.start(machineId);
    const second = (await provider.describe(machineId))!;
    expect(second.pid).not.toBe(running.pid);
    view = await qmpViewUntil(second.qmpSocket, (v) => v.pci.includes(cold.slot));
    expect(view.pci).toContain(cold.slot);
    expect(view.blockQdev.some((q) => q.includes(`/${cold.slot}/`))).toBe(true);
    // Its slot was powered at boot, so unplugging needs the guest; there is none here: the detach
    // times out, and the disk stays out of the next start; once stopped, the detach completes.
    await expectHangarError(provider.detachDisk(machineId, coldId), 'provider_error');
    const pending = JSON.parse(readFileSync(join(dir, 'instance.json'), 'utf8'));
    expect(pending.disks.find((d: { diskId: string }) => d.diskId === coldId).state).toBe('detaching');
    await provider.stop(machineId);
    expect(alive(second.pid!)).toBe(false);
    expect(await provider.detachDisk(machineId, coldId)).toEqual({ detached: true });
    expect(existsSync(cold.volume)).toBe(false);

    // the template cannot go while a linked clone uses it; a full clone is independent of it
    await expectHangarError(provider.deleteTemplate(templateId), 'invalid_state');
    const fullId = randomUUID();
    expect(await provider.create({ ...spec(), machineId: fullId, cloneMode: 'full' })).toEqual({ providerId: fullId, created: true });
    const fullInfo = JSON.parse(
      execFileSync('qemu-img', ['info', '-U', '--output=json', join(dataDir, 'qemu/instances', fullId, 'disk.qcow2')], { encoding: 'utf8' }),
    );
    expect(fullInfo['backing-filename']).toBeUndefined();

    // start again, then delete while running: no process, no files left
    await provider.start(machineId);
    const third = (await provider.describe(machineId))!;
    expect(alive(third.pid!)).toBe(true);
    expect(await provider.delete(machineId)).toEqual({ deleted: true });
    expect(alive(third.pid!)).toBe(false);
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(third.qmpSocket)).toBe(false);
    expect(await provider.delete(machineId)).toEqual({ deleted: false });
    expect(await provider.status(machineId)).toEqual({ providerId: null, powerState: 'absent' });
    expect((await provider.list()).find((v) => v.providerId === machineId)).toBeUndefined();

    // now the template can go (twice: the second finds nothing)
    expect(await provider.deleteTemplate(templateId)).toEqual({ deleted: true });
    expect(await provider.deleteTemplate(templateId)).toEqual({ deleted: false });
    expect(existsSync(join(dataDir, 'qemu/templates/blank'))).toBe(false);

    // the full clone still starts without its template
    await provider.start(fullId);
    expect(await provider.status(fullId)).toEqual({ providerId: fullId, powerState: 'running' });
    expect(await provider.delete(fullId)).toEqual({ deleted: true });
    expect(await provider.list()).toEqual([]);
  }, 180_000);
});
