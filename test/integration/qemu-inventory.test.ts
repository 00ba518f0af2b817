// The QEMU provider's inventory for the observer, on real qemu-img files (no VM started): a
// Hangar instance with its settings, its overlay gone, a folder made by hand (unmanaged), an
// unreadable record (a listing failure, so the scan is partial), and deleteLeftover, which
// deletes only a folder that still carries Hangar's record for that machine.
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { QemuProvider } from '../../providers/qemu/qemu-provider.ts';

let dataDir: string;
let provider: QemuProvider;
const instances = () => join(dataDir, 'qemu', 'instances');

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'hangar-qemu-inventory-'));
  const blank = join(dataDir, 'blank.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', blank, '1G']);
  provider = new QemuProvider({ dataDir, network: { mode: 'user' }, hooks: {}, logger: pino({ level: 'silent' }) });
  await provider.importTemplate({ templateId: randomUUID(), name: 'blank', image: blank });
});

afterAll(() => {
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('QemuProvider.inventory', () => {
  it('lists Hangar instances with their settings and folders without its record as unmanaged, calling onPage per folder', async () => {
    expect(await provider.inventory()).toEqual({ vms: [], leftovers: [], failures: [] });
    const machineId = randomUUID();
    await provider.create({ machineId, name: 'inv-1', cpu: 2, memoryMb: 256, diskGb: 1, template: 'blank' });
    mkdirSync(join(instances(), 'by-hand'));
    let pages = 0;
    const listed = await provider.inventory({ onPage: () => pages++ });
    expect(listed.failures).toEqual([]);
    expect(listed.vms).toHaveLength(2);
    expect(listed.vms).toEqual(
      expect.arrayContaining([
        { providerId: 'by-hand', machineId: null, name: 'by-hand', powerState: 'stopped', location: 'local' },
        {
          providerId: machineId,
          machineId,
          name: 'inv-1',
          powerState: 'stopped',
          location: 'local',
          config: { cpu: 2, memory_mb: 256, disk_gb: 1, nics: 1 },
          diskMissing: false,
        },
      ]),
    );
    expect(pages).toBe(2);

    rmSync(join(instances(), machineId, 'disk.qcow2'));
    expect((await provider.inventory()).vms.find((v) => v.machineId === machineId)?.diskMissing).toBe(true);
  });

  it('reports an unreadable instance record as a failure (a partial listing) instead of hiding or dropping it', async () => {
    const broken = randomUUID();
    mkdirSync(join(instances(), broken));
    writeFileSync(join(instances(), broken, 'instance.json'), '{ not json');
    const listed = await provider.inventory();
    expect(listed.failures).toEqual([expect.stringContaining(`instance ${broken}:`)]);
    expect(listed.vms.map((v) => v.providerId)).not.toContain(broken);
    rmSync(join(instances(), broken), { recursive: true });
  });

  it('deletes a leftover instance only while the folder carries Hangar’s record for that machine', async () => {
    const machineId = randomUUID();
    await provider.create({ machineId, name: 'orphan', cpu: 1, memoryMb: 128, diskGb: 1, template: 'blank' });
    // A hand-made folder, even when asked for by its name and a machine id, is never deleted.
    expect(await provider.deleteLeftover({ kind: 'instance', ref: 'by-hand', name: 'by-hand', machineId: 'by-hand' })).toEqual({ deleted: false });
    expect(existsSync(join(instances(), 'by-hand'))).toBe(true);
    // A marker naming another machine is not this machine's instance.
    expect(await provider.deleteLeftover({ kind: 'instance', ref: machineId, name: 'orphan', machineId: randomUUID() })).toEqual({ deleted: false });
    expect(await provider.deleteLeftover({ kind: 'iso', ref: machineId, name: 'orphan', machineId })).toEqual({ deleted: false });
    expect(existsSync(join(instances(), machineId))).toBe(true);

    expect(await provider.deleteLeftover({ kind: 'instance', ref: machineId, name: 'orphan', machineId })).toEqual({ deleted: true });
    expect(existsSync(join(instances(), machineId))).toBe(false);
    // Already gone is success without effect.
    expect(await provider.deleteLeftover({ kind: 'instance', ref: machineId, name: 'orphan', machineId })).toEqual({ deleted: false });
  });
});
