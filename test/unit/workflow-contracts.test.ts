// The workflow contracts: ids, message names on the wire, and typed starts (checked by tsc, which
// the test command runs first: the @ts-expect-error lines below fail the build if they compile).
import { describe, expect, it } from '@jest/globals';
import type { Client } from '@temporalio/client';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { HangarConfig } from '../../domain/config.ts';
import type { startOperation } from '../../api/operations.ts';
import {
  deprovisionWorkflowId,
  diskWorkflowId,
  hostDeprovisionWorkflowId,
  hostInspectWorkflowId,
  hostPowerWorkflowId,
  hostReleaseWorkflowId,
  hostWorkflowIds,
  phoneHomeSignal,
  powerWorkflowId,
  progressQuery,
  provisionWorkflowId,
  templateWorkflowId,
} from '../../workflows/contracts.ts';

describe('workflow contracts', () => {
  it('derives one workflow id per resource and operation', () => {
    expect([provisionWorkflowId('m'), deprovisionWorkflowId('m'), powerWorkflowId('m'), diskWorkflowId('d'), templateWorkflowId('t')]).toEqual([
      'provision-vm/m',
      'deprovision-vm/m',
      'vm-power/m',
      'vm-disk/d',
      'template/t',
    ]);
    expect([hostInspectWorkflowId('h'), hostPowerWorkflowId('h'), hostDeprovisionWorkflowId('h'), hostReleaseWorkflowId('h')]).toEqual([
      'host-inspect/h',
      'host-power/h',
      'deprovision-host/h',
      'host-release/h',
    ]);
  });

  it('lists the workflows force-release settles: the provision of the claiming machine, then the host ones', () => {
    expect(hostWorkflowIds('h', 'm')).toEqual(['provision-vm/m', 'deprovision-host/h', 'host-power/h', 'host-inspect/h']);
    expect(hostWorkflowIds('h', null)).toEqual(['deprovision-host/h', 'host-power/h', 'host-inspect/h']);
  });

  it('keeps the message names running workflows and recorded histories use', () => {
    expect([phoneHomeSignal.name, phoneHomeSignal.type]).toEqual(['phoneHome', 'signal']);
    expect([progressQuery.name, progressQuery.type]).toEqual(['progress', 'query']);
  });
});

/** Never called: tsc checks that a start names a registered workflow and passes its arguments. */
async function typedStarts(start: typeof startOperation, em: EntityManager, temporal: Client, config: HangarConfig) {
  const common = { kind: 'k', workflowId: 'w', resourceType: 'machine', resourceId: 'r', requestedBy: 't' };
  const power = { machineId: 'm', provider: 'dryrun', providerId: 'p', action: 'restart', shutdownTimeoutSec: 5 } as const;
  await start(em, temporal, config, { ...common, workflow: 'vmPower', args: [power] });
  // @ts-expect-error a misspelled workflow name does not compile
  await start(em, temporal, config, { ...common, workflow: 'vmPowr', args: [power] });
  // @ts-expect-error nor do another workflow's arguments
  await start(em, temporal, config, { ...common, workflow: 'hostPower', args: [power] });
}
void typedStarts;
