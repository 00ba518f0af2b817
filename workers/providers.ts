// Builds the provider clients a worker injects into its activities, from configuration. Secrets
// (the Proxmox token secret) go straight into the client; nothing here logs them.
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { MikroORM } from '@mikro-orm/postgresql';
import { enabledProviders, type HangarConfig } from '../domain/config.ts';
import { HangarError } from '../domain/errors.ts';
import type { ProviderName } from '../domain/machine.ts';
import type { Hypervisor } from '../providers/hypervisor.ts';
import { PgDryRunLedger } from '../db/repositories/dryrun-ledger.ts';
import { DryRunProvider } from '../providers/dryrun/dryrun-provider.ts';
import { ProxmoxProvider } from '../providers/proxmox/provider.ts';
import { heartbeatIfInActivity } from '../activities/failures.ts';

const hooks = { onWait: () => heartbeatIfInActivity() };

/** QEMU guests on user-mode networking reach the host's loopback as 10.0.2.2. */
export function qemuGuestMetadataUrl(config: HangarConfig): string {
  if (config.qemu.guestMetadataUrl) return config.qemu.guestMetadataUrl;
  const url = new URL(config.api.publicUrl);
  if (!config.qemu.bridge && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) url.hostname = '10.0.2.2';
  return url.toString().replace(/\/+$/, '');
}

export function proxmoxFromConfig(config: HangarConfig, logger: Logger): ProxmoxProvider {
  const p = config.proxmox;
  if (!p.url || !p.tokenId || !p.tokenSecret) {
    throw new HangarError(
      'validation_failed',
      'proxmox is enabled but HANGAR_PROXMOX_URL, HANGAR_PROXMOX_TOKEN_ID and HANGAR_PROXMOX_TOKEN_SECRET(_FILE) are not all set',
    );
  }
  return new ProxmoxProvider({
    connection: {
      url: p.url,
      tokenId: p.tokenId,
      tokenSecret: p.tokenSecret,
      ...(p.caFile ? { caPem: readFileSync(p.caFile, 'utf8') } : {}),
      ...(p.fingerprint ? { fingerprint: p.fingerprint } : {}),
      ...(p.insecure ? { insecure: true } : {}),
      taskPollInitialMs: p.taskPollMs,
      taskPollMaxMs: p.taskPollMaxMs,
      hooks,
      logger: logger.child({ provider: 'proxmox' }),
    },
    node: p.node,
    storage: p.storage,
    isoStorage: p.isoStorage,
    bridge: p.bridge,
    pollInitialMs: p.taskPollMs,
    pollMaxMs: p.taskPollMaxMs,
    hooks,
    logger: logger.child({ provider: 'proxmox' }),
  });
}

export interface ProviderSet {
  providers: Partial<Record<ProviderName, Hypervisor>>;
  /** Task queues for Proxmox clones this worker serves, one per node. */
  cloneQueues: string[];
}

export async function buildProviders(
  config: HangarConfig,
  orm: MikroORM,
  logger: Logger,
  extra: Partial<Record<ProviderName, Hypervisor>> = {},
): Promise<ProviderSet> {
  const providers: Partial<Record<ProviderName, Hypervisor>> = {};
  const enabled = enabledProviders(config);
  if (enabled.includes('dryrun')) {
    providers.dryrun = new DryRunProvider(new PgDryRunLedger(orm.em), {
      stepDelayMs: config.dryrun.stepDelayMs,
      ...(config.dryrun.failStep ? { failStep: config.dryrun.failStep } : {}),
      onWait: () => heartbeatIfInActivity(),
    });
  }
  if (enabled.includes('qemu')) {
    const { qemuFromConfig } = await import('./qemu-provider.ts');
    providers.qemu = qemuFromConfig(config, logger);
  }
  const cloneQueues: string[] = [];
  if (enabled.includes('proxmox')) {
    providers.proxmox = proxmoxFromConfig(config, logger);
    const nodes = (config.proxmox.nodes || config.proxmox.node)
      .split(',')
      .map((n) => n.trim())
      .filter(Boolean);
    for (const node of nodes) cloneQueues.push(`${config.temporal.taskQueue}.proxmox.${node}`);
  }
  return { providers: { ...providers, ...extra }, cloneQueues };
}
