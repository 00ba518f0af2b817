// What a running step is waiting for, in words, for `--wait` and `ops watch`: long waits name what
// they wait for and for how long. Keyed by step name (the same names in every workflow that has
// them); `{shutdown}` and `{phoneHome}` are filled from GET /api/v1/status's settings.
export interface HintSettings {
  shutdown_timeout_sec: number;
  phone_home_timeout: string;
}

const HINTS: Record<string, string> = {
  stop: 'waiting up to {shutdown} s for a graceful shutdown (ACPI), then forcing it',
  shutdown: 'waiting up to {shutdown} s for a graceful shutdown (ACPI), then forcing it',
  'wait-phone-home': 'waiting up to {phoneHome} for the guest to boot and cloud-init to phone home',
};

/** The hint for a step, or null; settings fill in the configured timeouts when known. */
export function stepHint(step: string, settings: HintSettings | null): string | null {
  const hint = HINTS[step];
  if (!hint) return null;
  return hint
    .replace('{shutdown}', settings ? String(settings.shutdown_timeout_sec) : 'the configured')
    .replace('{phoneHome}', settings ? settings.phone_home_timeout : 'the configured timeout');
}

/** Whether a hint needs the configured timeouts (so the watcher fetches them once). */
export const hintNeedsSettings = (step: string) => /\{(shutdown|phoneHome)\}/.test(HINTS[step] ?? '');
