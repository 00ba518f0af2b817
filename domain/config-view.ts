// The effective configuration as `hangar config show` prints it: one row per setting, every
// secret redacted.
import type { ConfigSource, ParsedConfig } from './config.ts';
import { SETTINGS } from './settings.ts';

export const REDACTED = '[redacted]';

/** Masks the password of a connection URL, keeping the rest readable. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return REDACTED;
  }
}

/** The effective configuration as rows (key, env var, value, source) with every secret redacted. */
export function describeConfig(parsed: ParsedConfig): { key: string; env: string; value: string; source: ConfigSource }[] {
  return SETTINGS.map((def) => {
    const entry = parsed.sources.get(def.key);
    let value: string;
    if (!entry) value = '';
    else if (def.key === 'database.url') value = redactUrl(String(entry.value));
    else if (def.secret) value = REDACTED;
    else value = typeof entry.value === 'string' ? entry.value : JSON.stringify(entry.value);
    return { key: def.key, env: def.env, value, source: entry?.source ?? 'default' };
  });
}
