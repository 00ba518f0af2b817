// Gathers configuration layers from disk and environment, then validates them (domain/config.ts).
import { readFileSync, statSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { ConfigError, flattenFileConfig, parseConfig, settingsFromEnv, type ConfigLayerValue, type ParsedConfig } from '../domain/config.ts';
import { SETTINGS } from '../domain/settings.ts';

export interface LoadOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
}

/** Reads a secret from `<ENV>_FILE`, refusing files that group or others can read. */
function secretFiles(env: Record<string, string | undefined>, cwd: string): Map<string, ConfigLayerValue> {
  const out = new Map<string, ConfigLayerValue>();
  const problems: string[] = [];
  for (const def of SETTINGS.filter((s) => s.secret)) {
    const file = env[`${def.env}_FILE`];
    if (!file) continue;
    const path = resolve(cwd, file);
    let mode: number;
    try {
      mode = statSync(path).mode;
    } catch {
      problems.push(`${def.key} [${def.env}_FILE]: cannot read ${path}`);
      continue;
    }
    if ((mode & 0o077) !== 0) {
      problems.push(`${def.key} [${def.env}_FILE]: ${path} is readable by group or others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`);
      continue;
    }
    out.set(def.key, { value: readFileSync(path, 'utf8').trim(), source: 'secret-file', origin: path });
  }
  if (problems.length) throw new ConfigError(problems);
  return out;
}

function configFile(env: Record<string, string | undefined>, cwd: string): Map<string, ConfigLayerValue> {
  const explicit = env.HANGAR_CONFIG;
  const path = explicit ? resolve(cwd, explicit) : resolve(cwd, 'hangar.yaml');
  if (!existsSync(path)) {
    if (explicit) throw new ConfigError([`HANGAR_CONFIG: ${path} does not exist`]);
    return new Map();
  }
  let data: unknown;
  try {
    data = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError([`${path}: not valid YAML/JSON (${(err as Error).message.split('\n')[0]})`]);
  }
  return data == null ? new Map() : flattenFileConfig(data, path);
}

function dotenv(env: Record<string, string | undefined>, cwd: string): Map<string, ConfigLayerValue> {
  const path = resolve(cwd, env.HANGAR_ENV_FILE ?? '.env');
  if (!existsSync(path)) return new Map();
  return settingsFromEnv(parseEnv(readFileSync(path, 'utf8')), 'dotenv', path);
}

/**
 * Secrets the embedded stack wrote (0600) under <dataDir>/secrets: the local database URL and the
 * bootstrap admin token. They count only where nothing else set the setting.
 */
const EMBEDDED_SECRETS: Record<string, string> = { 'database.url': 'database-url', 'api.token': 'cli-token' };

function embeddedSecrets(dataDir: string): Map<string, ConfigLayerValue> {
  const out = new Map<string, ConfigLayerValue>();
  for (const [key, file] of Object.entries(EMBEDDED_SECRETS)) {
    const path = resolve(dataDir, 'secrets', file);
    try {
      if ((statSync(path).mode & 0o077) !== 0) continue;
      out.set(key, { value: readFileSync(path, 'utf8').trim(), source: 'secret-file', origin: path });
    } catch {
      // not there: the embedded stack has not been started
    }
  }
  return out;
}

export function loadConfig(options: LoadOptions = {}): ParsedConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const layers = [configFile(env, cwd), dotenv(env, cwd), settingsFromEnv(env, 'env', 'environment'), secretFiles(env, cwd)];
  let parsed = parseConfig(layers);
  const dataDir = resolve(cwd, parsed.config.dataDir);
  const embedded = embeddedSecrets(dataDir);
  for (const key of [...embedded.keys()]) if (parsed.sources.get(key)?.source !== 'default' && parsed.sources.has(key)) embedded.delete(key);
  if (embedded.size) parsed = parseConfig([embedded, ...layers]);
  parsed.config.dataDir = dataDir;
  return parsed;
}
