// The four NoCloud documents a seed is made of, and rendering one of them from a machine row.
import type { Logger } from 'pino';
import { renderMetaData, renderNetworkConfig, renderUserData, renderVendorData, type SeedFileName } from '../../domain/cloud-init.ts';
import { HangarError } from '../../domain/errors.ts';
import { cloudInitMachineFromRow, phoneHomeUrlFor, type SeedMachineRow, type SeedParts } from '../../db/repositories/metadata.ts';

export const SEED_DOCUMENTS: readonly SeedFileName[] = ['meta-data', 'user-data', 'vendor-data', 'network-config'];

export function isSeedDocument(value: string): value is SeedFileName {
  return (SEED_DOCUMENTS as readonly string[]).includes(value);
}

/** What the query must fetch for a document: keys only for user-data, the lease only for network-config. */
export function partsFor(doc: SeedFileName): SeedParts {
  return { keys: doc === 'user-data', network: doc === 'network-config' };
}

/** Renders one document; `publicBase` is the API's public URL without a trailing slash (for phone_home). */
export function renderSeedDocument(log: Pick<Logger, 'error'>, row: SeedMachineRow, doc: SeedFileName, publicBase: string, reqId?: unknown): string {
  const machine = cloudInitMachineFromRow(row);
  try {
    switch (doc) {
      case 'meta-data':
        return renderMetaData(machine);
      case 'user-data':
        return renderUserData(machine, { phoneHomeUrl: phoneHomeUrlFor(row, publicBase) });
      case 'vendor-data':
        return renderVendorData();
      case 'network-config':
        return renderNetworkConfig(machine);
    }
  } catch (err) {
    // Stored data the renderer refuses is our problem, not the machine's: 500, details in the log only.
    log.error({ err, machineId: row.id, doc }, 'cannot render a cloud-init document');
    throw new HangarError('internal', `cannot render ${doc}${reqId ? `; quote request id ${String(reqId)} when reporting it` : ''}`);
  }
}
