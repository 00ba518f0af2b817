// Builds the qemu-system-x86_64 command line for one VM. Pure (no I/O), so it can be tested and
// reasoned about alone. Every user-influenced value inside a QemuOpts string goes through `opt()`
// (QEMU's escaping: a literal comma is written as two). No secret goes into argv: the NoCloud
// seed URL (which carries the machine's metadata token) travels in an SMBIOS blob file.

/** Escapes a value for a QemuOpts list (`key=value,key=value`): commas are doubled. */
export function opt(value: string): string {
  return value.replaceAll(',', ',,');
}

export type NetdevSpec = { kind: 'user'; sshHostPort?: number } | { kind: 'bridge'; bridge: string };

export interface NicArg {
  mac: string;
  netdev: NetdevSpec;
}

export interface DataDiskArg {
  file: string;
  nodeName: string;
  deviceId: string;
  /** The pcie-root-port it sits on (so it can be unplugged later). */
  port: string;
  /** Guest-visible serial (virtio-blk: at most 20 bytes): /dev/disk/by-id/virtio-<serial>. */
  serial: string;
}

export interface QemuCommandSpec {
  name: string;
  uuid: string;
  accel: 'kvm' | 'tcg';
  cpuModel: string;
  cpus: number;
  memoryMb: number;
  rootDisk: string;
  cidataIso?: string;
  cidataBus: 'virtio-scsi' | 'sata';
  /** SMBIOS type 1 blob (see smbios.ts), e.g. carrying the NoCloud seed URL. */
  smbiosFile?: string;
  kernel?: { kernel: string; initrd?: string; cmdline?: string };
  nics: NicArg[];
  dataDisks: DataDiskArg[];
  /** Ids of the pcie-root-ports to create; data disks (cold or hot) plug into these. */
  hotplugPorts: string[];
  serialLog: string;
  qmpSocket: string;
  pidFile: string;
}

export const ROOT_NODE = 'root';
export const ROOT_DEVICE = 'root-disk';
export const CIDATA_DEVICE = 'cidata-cd';

/** pcie-root-port ids: `hp0`, `hp1`, ... */
export function hotplugPortIds(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `hp${i}`);
}

function blockdevFile(nodeName: string, filename: string, readOnly = false): string {
  return `driver=file,node-name=${nodeName},filename=${opt(filename)}${readOnly ? ',read-only=on' : ''}`;
}

export function buildQemuArgs(s: QemuCommandSpec): string[] {
  const args: string[] = [
    '-name',
    `guest=${opt(s.name)}`,
    '-uuid',
    s.uuid,
    '-machine',
    `q35,accel=${s.accel}`,
    '-cpu',
    s.cpuModel,
    '-smp',
    String(s.cpus),
    '-m',
    String(s.memoryMb),
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    // Native PCIe hot-plug on the root ports (QEMU's q35 default is ACPI hot-plug, which needs the
    // guest to evaluate _EJ0 before any unplug completes, even with no OS running).
    '-global',
    'ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off',
    '-chardev',
    `file,id=serial0,path=${opt(s.serialLog)}`,
    '-serial',
    'chardev:serial0',
    '-chardev',
    `socket,id=qmp,path=${opt(s.qmpSocket)},server=on,wait=off`,
    '-mon',
    'chardev=qmp,mode=control',
    '-pidfile',
    s.pidFile,
    '-daemonize',
    '-device',
    'virtio-rng-pci',
    '-blockdev',
    `${blockdevFile(`${ROOT_NODE}-file`, s.rootDisk)},discard=unmap`,
    '-blockdev',
    `driver=qcow2,node-name=${ROOT_NODE},file=${ROOT_NODE}-file,discard=unmap`,
    // Direct kernel boot claims boot index 0 itself; otherwise the firmware boots the root disk.
    '-device',
    `virtio-blk-pci,drive=${ROOT_NODE},id=${ROOT_DEVICE}${s.kernel ? '' : ',bootindex=0'}`,
  ];
  if (s.kernel) {
    args.push('-kernel', s.kernel.kernel);
    if (s.kernel.initrd) args.push('-initrd', s.kernel.initrd);
    if (s.kernel.cmdline) args.push('-append', s.kernel.cmdline);
  }
  if (s.smbiosFile) args.push('-smbios', `file=${opt(s.smbiosFile)}`);
  if (s.cidataIso) {
    args.push('-blockdev', blockdevFile('cidata-file', s.cidataIso, true), '-blockdev', 'driver=raw,node-name=cidata,file=cidata-file,read-only=on');
    if (s.cidataBus === 'virtio-scsi') {
      args.push('-device', 'virtio-scsi-pci,id=scsi0', '-device', `scsi-cd,bus=scsi0.0,drive=cidata,id=${CIDATA_DEVICE}`);
    } else {
      args.push('-device', `ide-cd,bus=ide.2,drive=cidata,id=${CIDATA_DEVICE}`);
    }
  }
  s.nics.forEach((nic, i) => {
    const id = `net${i}`;
    if (nic.netdev.kind === 'user') {
      const fwd = nic.netdev.sshHostPort ? `,hostfwd=tcp:127.0.0.1:${nic.netdev.sshHostPort}-:22` : '';
      args.push('-netdev', `user,id=${id}${fwd}`);
    } else {
      args.push('-netdev', `bridge,id=${id},br=${opt(nic.netdev.bridge)}`);
    }
    args.push('-device', `virtio-net-pci,netdev=${id},mac=${nic.mac},id=nic${i}`);
  });
  s.hotplugPorts.forEach((port, i) => {
    args.push('-device', `pcie-root-port,id=${port},bus=pcie.0,chassis=${i + 1},slot=${i + 1}`);
  });
  for (const d of s.dataDisks) {
    args.push(
      '-blockdev',
      blockdevFile(`${d.nodeName}-f`, d.file),
      '-blockdev',
      `driver=qcow2,node-name=${d.nodeName},file=${d.nodeName}-f`,
      '-device',
      `virtio-blk-pci,drive=${d.nodeName},id=${d.deviceId},bus=${d.port},serial=${opt(d.serial)}`,
    );
  }
  return args;
}
