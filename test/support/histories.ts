// Workflow histories kept as replay fixtures (test/workflows/histories), in the JSON the Temporal
// CLI and web UI export. Tests that run a workflow for real record it here when
// HANGAR_RECORD_HISTORIES=1; test/workflows/replay.test.ts replays every committed file.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TEMPORAL_BIN } from './services.ts';

export const HISTORIES_DIR = fileURLToPath(new URL('../workflows/histories', import.meta.url));

export const recordingHistories = () => process.env.HANGAR_RECORD_HISTORIES === '1';

/** The latest run of `workflowId` as exported JSON. */
export function exportHistory(temporal: { address: string; namespace: string }, workflowId: string): string {
  return execFileSync(
    TEMPORAL_BIN,
    ['workflow', 'show', '--address', temporal.address, '--namespace', temporal.namespace, '-w', workflowId, '--output', 'json'],
    { encoding: 'utf8' },
  );
}

/** Writes the fixture `<name>.json` when recording is on. */
export function recordHistory(temporal: { address: string; namespace: string }, workflowId: string, name: string): void {
  if (!recordingHistories()) return;
  writeFileSync(join(HISTORIES_DIR, `${name}.json`), exportHistory(temporal, workflowId));
}
