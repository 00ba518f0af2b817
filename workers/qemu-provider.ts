// The QEMU provider from configuration: VMs under <dataDir>/qemu, user-mode networking unless a
// bridge is configured. Loaded only when qemu is enabled.
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { HangarConfig } from '../domain/config.ts';
import { QemuProvider } from '../providers/qemu/qemu-provider.ts';
import { heartbeatIfInActivity } from '../activities/failures.ts';

export function qemuFromConfig(config: HangarConfig, logger: Logger): QemuProvider {
  return new QemuProvider({
    dataDir: resolve(config.dataDir),
    accel: config.qemu.accel,
    network: config.qemu.bridge ? { mode: 'bridge', bridge: config.qemu.bridge } : { mode: 'user' },
    hooks: { onWait: () => heartbeatIfInActivity() },
    logger: logger.child({ provider: 'qemu' }),
  });
}
