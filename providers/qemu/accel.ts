// Chooses QEMU's accelerator. `/dev/kvm` existing is not enough: it may not open, `-cpu host`
// may abort on hosts that hide MSRs, and some nested or emulated KVMs (e.g. a PVM host without
// hardware virtualisation) run ordinary guests slower than TCG does. So the probe boots the
// firmware under KVM (and, when that is slow, under TCG), timing until SeaBIOS reports "No
// bootable device" on its debug port, and picks the faster one. Done once per process.
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HangarError } from '../../domain/errors.ts';
import type { Logger } from 'pino';
import { opt } from './command-line.ts';

export type AccelMode = 'auto' | 'kvm' | 'tcg';

export interface AccelChoice {
  accel: 'kvm' | 'tcg';
  cpuModel: string;
  reason: string;
}

const PROBE_MARKER = 'No bootable device';
const PROBE_TIMEOUT_MS = 10_000;
/** Real KVM reaches the marker in well under a second. */
const FAST_KVM_MS = 1500;
const KVM_CPU_MODELS = ['host', 'host,-arch-capabilities', 'qemu64'];
export const TCG_CPU_MODEL = 'max';

interface ProbeResult {
  /** The firmware printed the marker. */
  reached: boolean;
  ms: number;
  /** QEMU was still running when the probe ended (no crash). */
  alive: boolean;
  stderr: string;
}

async function kvmDeviceUsable(): Promise<string | null> {
  try {
    const fh = await open('/dev/kvm', constants.O_RDWR);
    await fh.close();
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

async function firmwareProbe(qemuBinary: string, accel: 'kvm' | 'tcg', cpuModel: string): Promise<ProbeResult> {
  const dir = await mkdtemp(join(tmpdir(), 'hangar-qemu-probe-'));
  const log = join(dir, 'debugcon.log');
  const started = Date.now();
  const child = spawn(
    qemuBinary,
    [
      '-machine',
      `q35,accel=${accel}`,
      '-cpu',
      cpuModel,
      '-m',
      '128',
      '-nodefaults',
      '-no-user-config',
      '-display',
      'none',
      '-boot',
      'strict=on',
      '-chardev',
      `file,id=dbg,path=${opt(log)}`,
      '-device',
      'isa-debugcon,iobase=0x402,chardev=dbg',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  let exited = false;
  child.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + String(d)).slice(-2000);
  });
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
    child.once('error', (err) => {
      stderr += err.message;
      exited = true;
      resolve();
    });
  });
  let reached = false;
  try {
    while (!exited && Date.now() - started < PROBE_TIMEOUT_MS) {
      const text = await readFile(log, 'utf8').catch(() => '');
      if (text.includes(PROBE_MARKER)) {
        reached = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    return { reached, ms: Date.now() - started, alive: !exited, stderr: stderr.trim() };
  } finally {
    if (!exited) child.kill('SIGKILL');
    await exit;
    await rm(dir, { recursive: true, force: true });
  }
}

const cache = new Map<string, Promise<AccelChoice>>();

export function chooseAccel(qemuBinary: string, mode: AccelMode, logger: Logger, cpuModel?: string): Promise<AccelChoice> {
  const key = `${qemuBinary}\0${mode}\0${cpuModel ?? ''}`;
  let p = cache.get(key);
  if (!p) {
    p = decide(qemuBinary, mode, cpuModel).then((choice) => {
      logger.info({ accel: choice.accel, cpuModel: choice.cpuModel, reason: choice.reason }, 'qemu: accelerator chosen');
      return choice;
    });
    // A failed decision (e.g. forced KVM that does not work) is not cached, so a fix is picked up.
    p.catch(() => cache.delete(key));
    cache.set(key, p);
  }
  return p;
}

async function decide(qemuBinary: string, mode: AccelMode, cpuModel?: string): Promise<AccelChoice> {
  const tcg = (reason: string): AccelChoice => ({ accel: 'tcg', cpuModel: cpuModel ?? TCG_CPU_MODEL, reason });
  if (mode === 'tcg') return tcg('configured');
  const deviceError = await kvmDeviceUsable();
  if (deviceError) {
    if (mode === 'kvm') throw new HangarError('provider_rejected', `qemu: accel=kvm but /dev/kvm is not usable: ${deviceError}`);
    return tcg(`/dev/kvm is not usable (${deviceError})`);
  }
  let kvm: { model: string; probe: ProbeResult } | null = null;
  const failures: string[] = [];
  for (const model of cpuModel ? [cpuModel] : KVM_CPU_MODELS) {
    const probe = await firmwareProbe(qemuBinary, 'kvm', model);
    if (probe.reached || probe.alive) {
      kvm = { model, probe };
      break;
    }
    failures.push(`-cpu ${model}: ${probe.stderr.split('\n').slice(-2).join(' ') || 'exited'}`);
  }
  if (!kvm) {
    if (mode === 'kvm') throw new HangarError('provider_rejected', `qemu: accel=kvm but KVM guests do not start: ${failures.join('; ')}`);
    return tcg(`KVM guests do not start (${failures.join('; ')})`);
  }
  const kvmChoice = (reason: string): AccelChoice => ({ accel: 'kvm', cpuModel: kvm.model, reason });
  if (mode === 'kvm') return kvmChoice('configured');
  if (kvm.probe.reached && kvm.probe.ms <= FAST_KVM_MS) return kvmChoice(`firmware boot ${kvm.probe.ms} ms`);
  const t = await firmwareProbe(qemuBinary, 'tcg', cpuModel ?? TCG_CPU_MODEL);
  if (!t.reached) return kvmChoice('KVM starts; TCG comparison inconclusive');
  if (!kvm.probe.reached || kvm.probe.ms > 3 * t.ms) {
    return tcg(
      `KVM is present but slow (emulated or nested without hardware support): firmware boot ${kvm.probe.reached ? `${kvm.probe.ms} ms` : `> ${PROBE_TIMEOUT_MS} ms`} under KVM vs ${t.ms} ms under TCG`,
    );
  }
  return kvmChoice(`firmware boot ${kvm.probe.ms} ms (TCG ${t.ms} ms)`);
}
