import { afterEach, describe, expect, it, beforeEach } from '@jest/globals';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../cli/config.ts';
import { ConfigError } from '../../domain/config.ts';
import { describeConfig } from '../../domain/config-view.ts';
import { thrown } from '../support/errors.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hangar-config-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const load = (env: Record<string, string> = {}) => loadConfig({ env: { HANGAR_DATA_DIR: join(dir, 'data'), ...env }, cwd: dir });

const configError = (fn: () => unknown) => thrown(fn, ConfigError);

describe('configuration', () => {
  it('has working defaults for the embedded stack', () => {
    const { config } = load();
    expect(config.api.port).toBe(8080);
    expect(config.temporal.address).toBe('127.0.0.1:7233');
    expect(config.temporal.taskQueue).toBe('hangar');
    expect(config.database.url).toMatch(/^postgres:\/\/hangar@127\.0\.0\.1:54329\/hangar$/);
    expect(config.dataDir).toBe(join(dir, 'data'));
  });

  it('layers config file < .env < environment', () => {
    writeFileSync(join(dir, 'hangar.yaml'), 'api:\n  port: 9001\ntemporal:\n  namespace: from-file\n  taskQueue: file-queue\n');
    writeFileSync(join(dir, '.env'), 'HANGAR_API_PORT=9002\nTEMPORAL_NAMESPACE=from-dotenv\n');
    const { config, sources } = load({ HANGAR_API_PORT: '9003' });
    expect(config.api.port).toBe(9003);
    expect(config.temporal.namespace).toBe('from-dotenv');
    expect(config.temporal.taskQueue).toBe('file-queue');
    expect(sources.get('api.port')?.source).toBe('env');
    expect(sources.get('temporal.namespace')?.source).toBe('dotenv');
    expect(sources.get('temporal.taskQueue')?.source).toBe('file');
  });

  it('names the bad setting, its variable and the offending value', () => {
    const err = configError(() => load({ HANGAR_API_PORT: 'eighty' }));
    expect(err.message).toContain('api.port [HANGAR_API_PORT]');
    expect(err.message).toContain('"eighty"');
    const err2 = configError(() => load({ TEMPORAL_ADDRESS: 'no-port-here' }));
    expect(err2.message).toContain('temporal.address [TEMPORAL_ADDRESS]: must be host:port');
  });

  it('reports every problem at once', () => {
    const err = configError(() => load({ HANGAR_API_PORT: '70000', HANGAR_LOG_LEVEL: 'loud' }));
    expect(err.problems).toHaveLength(2);
  });

  it('rejects unknown keys in the config file', () => {
    writeFileSync(join(dir, 'hangar.yaml'), 'api:\n  prot: 1\n');
    expect(configError(() => load()).message).toContain('unknown setting "api.prot"');
  });

  it('refuses secrets in the config file and never echoes them', () => {
    writeFileSync(join(dir, 'hangar.yaml'), 'database:\n  url: postgres://u:hunter2-secret@db/x\n');
    const err = configError(() => load());
    expect(err.message).toContain('"database.url" is a secret');
    expect(err.message).toContain('DATABASE_URL_FILE');
    expect(err.message).not.toContain('hunter2-secret');
  });

  it('does not echo an invalid secret value', () => {
    const err = configError(() => load({ DATABASE_URL: 'mysql://root:topsecretpw@db/x' }));
    expect(err.message).toContain('database.url [DATABASE_URL]');
    expect(err.message).not.toContain('topsecretpw');
  });

  it('reads secrets from a 0600 file and refuses a group/world-readable one', () => {
    const file = join(dir, 'db-url');
    writeFileSync(file, 'postgres://hangar:filepw@127.0.0.1:5432/hangar\n');
    chmodSync(file, 0o644);
    const err = configError(() => load({ DATABASE_URL_FILE: file }));
    expect(err.message).toContain('readable by group or others');
    expect(err.message).not.toContain('filepw');
    chmodSync(file, 0o600);
    const { config, sources } = load({ DATABASE_URL_FILE: file });
    expect(config.database.url).toBe('postgres://hangar:filepw@127.0.0.1:5432/hangar');
    expect(sources.get('database.url')?.source).toBe('secret-file');
  });

  it('redacts secrets in the effective configuration', () => {
    const parsed = load({
      DATABASE_URL: 'postgres://hangar:dbpass123@db:5432/hangar',
      HANGAR_TOKEN: 'hgr_cli_secret_value',
      HANGAR_BOOTSTRAP_TOKEN: 'x'.repeat(40),
    });
    const shown = JSON.stringify(describeConfig(parsed));
    expect(shown).not.toContain('dbpass123');
    expect(shown).not.toContain('hgr_cli_secret_value');
    expect(shown).not.toContain('x'.repeat(40));
    const rows = Object.fromEntries(describeConfig(parsed).map((r) => [r.key, r]));
    expect(rows['database.url']!.value).toBe('postgres://hangar:***@db:5432/hangar');
    expect(rows['api.token']!.value).toBe('[redacted]');
    expect(rows['api.port']!.value).toBe('8080');
  });

  it('fails clearly when HANGAR_CONFIG names a missing file', () => {
    expect(configError(() => load({ HANGAR_CONFIG: 'nope.yaml' })).message).toContain('does not exist');
  });
});
