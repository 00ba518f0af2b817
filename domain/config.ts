// Hangar's configuration: the typed shape and the pure parsing of its layers against the settings
// table (domain/settings.ts). The loader in cli/config.ts gathers the layers (defaults < config
// file < .env < environment) and hands them over as flat key → string.
import { SETTINGS, settingDef } from './settings.ts';

export interface HangarConfig {
  env: 'development' | 'test' | 'production';
  dataDir: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  api: { host: string; port: number; url: string; publicUrl: string; token?: string; bodyLimit: string; maxPageSize: number; processes: number };
  database: { url: string; poolSize: number };
  temporal: { address: string; namespace: string; taskQueue: string; uiUrl: string };
  worker: { maxConcurrentActivities: number; maxConcurrentWorkflowTasks: number; shutdownGraceMs: number };
  drift: { schedules: boolean; inventoryIntervalSec: number; inventoryPolicy: 'observe' | 'remediate' };
  dryrun: { stepDelayMs: number; failStep?: 'create' | 'configure' | 'start' };
  provision: { phoneHomeTimeout: string; shutdownTimeoutSec: number };
  providers: { enabled: string };
  qemu: { accel: 'auto' | 'kvm' | 'tcg'; bridge: string; guestMetadataUrl: string };
  proxmox: {
    url: string;
    tokenId: string;
    tokenSecret?: string;
    node: string;
    nodes: string;
    storage: string;
    isoStorage: string;
    bridge: string;
    caFile: string;
    fingerprint: string;
    insecure: boolean;
    clonesPerNode: number;
    taskPollMs: number;
    taskPollMaxMs: number;
  };
  auth: { bootstrapToken?: string };
  metadata: { sourceAddressMode: boolean; trustedProxies: string; cacheMs: number };
  metrics: { enabled: boolean };
  hosts: { secretKey?: string; keyFile: string };
  redfish: { maxConcurrencyPerBmc: number; pollIntervalMs: number; powerTimeoutSec: number; phoneHomeTimeout: string };
  cloud: {
    credentialsDir: string;
    awsEndpoint: string;
    gcpEndpoint: string;
    retryInitialMs: number;
    retryMaxMs: number;
    retryAttempts: number;
    operationPollMs: number;
  };
}

export type ConfigSource = 'default' | 'file' | 'dotenv' | 'env' | 'secret-file';

export interface ConfigLayerValue {
  value: unknown;
  source: ConfigSource;
  /** Where it came from, for error messages: the env var, file path, etc. */
  origin: string;
}

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Flattens a nested config-file object into `a.b` keys; rejects unknown keys and secrets. */
export function flattenFileConfig(data: unknown, file: string): Map<string, ConfigLayerValue> {
  const out = new Map<string, ConfigLayerValue>();
  const problems: string[] = [];
  const walk = (node: unknown, prefix: string) => {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) {
      problems.push(`${file}: top level must be a mapping`);
      return;
    }
    for (const [k, v] of Object.entries(node)) {
      const key = prefix ? `${prefix}.${k}` : k;
      const def = settingDef(key);
      if (!def) {
        if (v !== null && typeof v === 'object' && !Array.isArray(v) && SETTINGS.some((s) => s.key.startsWith(`${key}.`))) {
          walk(v, key);
        } else {
          problems.push(`${file}: unknown setting "${key}"`);
        }
        continue;
      }
      if (def.secret) {
        problems.push(`${file}: "${key}" is a secret and may not be in a config file; set ${def.env} or ${def.env}_FILE (a file with mode 0600)`);
        continue;
      }
      out.set(key, { value: v, source: 'file', origin: file });
    }
  };
  walk(data, '');
  if (problems.length) throw new ConfigError(problems);
  return out;
}

/** Picks the settings that an environment-like record defines. */
export function settingsFromEnv(env: Record<string, string | undefined>, source: 'env' | 'dotenv', origin: string): Map<string, ConfigLayerValue> {
  const out = new Map<string, ConfigLayerValue>();
  for (const def of SETTINGS) {
    const raw = env[def.env];
    if (raw !== undefined && raw !== '') out.set(def.key, { value: raw, source, origin: `${origin} ${def.env}` });
  }
  return out;
}

export interface ParsedConfig {
  config: HangarConfig;
  sources: Map<string, ConfigLayerValue>;
}

/** Validates the merged layers; every problem names the setting and where its value came from. */
export function parseConfig(layers: Map<string, ConfigLayerValue>[]): ParsedConfig {
  const merged = new Map<string, ConfigLayerValue>();
  for (const def of SETTINGS) {
    if (def.default !== undefined) merged.set(def.key, { value: def.default, source: 'default', origin: 'default' });
  }
  for (const layer of layers) for (const [k, v] of layer) merged.set(k, v);

  const problems: string[] = [];
  const config: Record<string, unknown> = {};
  for (const def of SETTINGS) {
    const entry = merged.get(def.key);
    const result = def.schema.safeParse(entry?.value);
    if (!result.success) {
      const why = result.error.issues.map((i) => i.message).join('; ');
      // Never echo a secret's value back in the error.
      const shown = def.secret ? '' : entry ? ` (got ${JSON.stringify(entry.value)} from ${entry.origin})` : '';
      problems.push(`${def.key} [${def.env}]: ${why}${shown}`);
      continue;
    }
    if (result.data !== undefined) setPath(config, def.key, result.data);
  }
  if (problems.length) throw new ConfigError(problems);
  for (const def of SETTINGS) {
    const parts = def.key.split('.');
    if (parts.length > 1) config[parts[0]!] ??= {};
  }
  return { config: config as unknown as HangarConfig, sources: merged };
}

function setPath(target: Record<string, unknown>, key: string, value: unknown) {
  const parts = key.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
  node[parts.at(-1)!] = value;
}

/** The providers this installation offers, from providers.enabled. */
export function enabledProviders(config: Pick<HangarConfig, 'providers'>): ('dryrun' | 'qemu' | 'proxmox')[] {
  return [
    ...new Set(
      config.providers.enabled
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean),
    ),
  ] as ('dryrun' | 'qemu' | 'proxmox')[];
}
