// The Redfish observer's activities: read every host's BMC in one group (power state and the
// virtual CD), hand the differences to the scan repository, and start the power-on operation
// that remediation asks for. A BMC that does not answer becomes a finding and a failing
// bmc_reachable condition; the host's state is never touched here.
import type { Client } from '@temporalio/client';
import type { MikroORM } from '@mikro-orm/postgresql';
import { Host, Operation, type IHost } from '../db/entities/index.ts';
import { openFindingId, recordRemediation, type ScanReport } from '../db/repositories/drift.ts';
import { updateHostObservation } from '../db/repositories/hosts.ts';
import type { DriftPolicy } from '../domain/drift.ts';
import { HangarError } from '../domain/errors.ts';
import { OBSERVED_HOST_STATES, bmcGroupOf, hostDifferences, imageName, redfishTarget, type BmcReading } from '../domain/host-drift.ts';
import type { HostPowerInput } from '../domain/host.ts';
import { hostPowerWorkflowId, type WorkflowTypes } from '../workflows/contracts.ts';
import { activitySignal, cancellable, heartbeatIfInActivity, withFailureMapping } from './failures.ts';
import { bmcClientFor, bmcReachableCondition, bmcUnreachableCondition, type HostActivityDeps } from './host-activities.ts';

export interface RedfishObserverDeps extends Pick<HostActivityDeps, 'orm' | 'secretKey' | 'redfish'> {
  orm: MikroORM;
  temporal?: Client;
  taskQueue: string;
  /** BMCs read at once in one scan. */
  concurrency: number;
  /** How long a power-on the observer starts may take to settle (provision.shutdownTimeoutSec is unused for power-on). */
  shutdownTimeoutSec: number;
}

export interface BmcGroupScanInput {
  group: string;
  /** drift.redfishGroups as configured (which tags name a group of their own). */
  groups: string[];
}

export interface BmcGroupScan {
  report: ScanReport;
  /** Hosts with their own drift_policy (the rest follow the provider's). */
  overrides: Record<string, DriftPolicy>;
}

/** An observer's read is one quick look: a BMC that does not answer within seconds is reported, not waited for. */
const SCAN_READ = { retry: { attempts: 1 }, requestTimeoutMs: 10_000 };

export function createRedfishObserverActivities(deps: RedfishObserverDeps) {
  async function read(host: IHost): Promise<BmcReading> {
    const client = bmcClientFor(deps, host, { ...SCAN_READ, ...cancellable() });
    try {
      const powerState = await client.powerState();
      // A BMC without a virtual CD is not drift: its media cannot be judged.
      const media = await client.virtualMedia().then(
        (slot) => ({ inserted: slot.inserted, imageName: imageName(slot.image) }),
        (err: unknown) => {
          if (err instanceof HangarError && ['provider_rejected', 'not_found'].includes(err.code)) return null;
          throw err;
        },
      );
      return { reachable: true, powerState, media };
    } catch (err) {
      if (activitySignal()?.aborted) throw err;
      const condition = bmcUnreachableCondition(err);
      return { reachable: false, code: err instanceof HangarError ? err.code : 'provider_error', reason: condition.reason, message: condition.message };
    } finally {
      await client.close().catch(() => undefined);
    }
  }

  /** The bmc_reachable condition follows what the scan saw; written only when it changes. */
  async function noteReachability(host: IHost, reading: BmcReading): Promise<void> {
    const was = host.conditions.find((c) => c.type === 'bmc_reachable');
    if (reading.reachable) {
      const power = reading.powerState;
      if (was?.status !== 'True' || host.powerState !== power) {
        await updateHostObservation(deps.orm.em, host.id, was?.status === 'True' ? [] : [bmcReachableCondition('the BMC answered the observer')], {
          powerState: power,
        });
      }
      return;
    }
    if (was?.status === 'False' && was.reason === reading.reason) return;
    await updateHostObservation(deps.orm.em, host.id, [{ type: 'bmc_reachable', status: 'False', reason: reading.reason, message: reading.message }]);
  }

  return withFailureMapping({
    /** Reads every observed host of the group, a few BMCs at a time, beating after each. */
    async scanBmcGroup(input: BmcGroupScanInput): Promise<BmcGroupScan> {
      const started = Date.now();
      const em = deps.orm.em.fork();
      const hosts = (await em.find(Host, { state: { $in: [...OBSERVED_HOST_STATES] } }, { orderBy: { name: 'asc' } })).filter(
        (h) => bmcGroupOf(h.tags, input.groups) === input.group,
      );
      const report: ScanReport = { target: redfishTarget(input.group), provider: 'redfish', complete: true, differences: [], judged: [] };
      const differences = report.differences as ScanReport['differences'][number][];
      const judged = report.judged as string[];
      const failed: string[] = [];
      const overrides: Record<string, DriftPolicy> = {};
      let next = 0;
      const signal = activitySignal();
      const lane = async () => {
        while (next < hosts.length) {
          signal?.throwIfAborted();
          const host = hosts[next++]!;
          const reading = await read(host);
          if (host.driftPolicy) overrides[host.id] = host.driftPolicy;
          differences.push(...hostDifferences(host, reading));
          if (reading.reachable) judged.push(`host/${host.id}`);
          else failed.push(`${host.name}: ${reading.code}`);
          await noteReachability(host, reading);
          heartbeatIfInActivity({ read: judged.length + failed.length, of: hosts.length });
        }
      };
      await Promise.all(Array.from({ length: Math.min(deps.concurrency, hosts.length) }, lane));
      // A BMC that did not answer leaves its host unjudged: the scan is partial.
      report.complete = failed.length === 0;
      if (failed.length) report.error = `${failed.length} BMC(s) did not answer: ${failed.sort().slice(0, 5).join('; ')}`;
      report.durationMs = Date.now() - started;
      return { report, overrides };
    },

    /**
     * Remediation of a provisioned host found off: the hostPower workflow (the same operation the
     * API starts), attached to when one already runs. Skipped when the finding was ignored or
     * resolved meanwhile, or the host left `provisioned`. Idempotent on retry.
     */
    async remediateHostPower(input: { target: string; hostId: string }): Promise<{ operationId: string | null; skipped?: string }> {
      if (!deps.temporal) throw new HangarError('internal', 'the Redfish observer needs a Temporal client');
      const em = deps.orm.em.fork();
      const host = await em.findOne(Host, { id: input.hostId });
      if (!host || host.state !== 'provisioned') return { operationId: null, skipped: `host is ${host?.state ?? 'gone'}` };
      // An ignored finding is the operator saying "leave it": no operation.
      const findingId = await openFindingId(deps.orm.em, { type: 'host', id: host.id }, 'power_mismatch');
      if (!findingId) return { operationId: null, skipped: 'no open power_mismatch finding' };
      const operation = await startHostPowerOn(deps, host.id, `observer:${input.target}`);
      await recordRemediation(deps.orm.em, findingId, 'power_on_host', { operationId: operation.id, actor: `observer:${input.target}` });
      return { operationId: operation.id };
    },
  });
}

/** Starts (or joins) the host's power-on operation, recorded like the ones the API starts. */
export async function startHostPowerOn(
  deps: Pick<RedfishObserverDeps, 'orm' | 'temporal' | 'taskQueue' | 'shutdownTimeoutSec'>,
  hostId: string,
  requestedBy: string,
): Promise<{ id: string }> {
  const em = deps.orm.em.fork();
  const workflowId = hostPowerWorkflowId(hostId);
  const args: Parameters<WorkflowTypes['hostPower']> = [{ hostId, action: 'power-on', shutdownTimeoutSec: deps.shutdownTimeoutSec } satisfies HostPowerInput];
  const handle = await deps.temporal!.workflow.start('hostPower', { taskQueue: deps.taskQueue, workflowId, args, workflowIdConflictPolicy: 'USE_EXISTING' });
  const runId = handle.firstExecutionRunId;
  const existing = await em.findOne(Operation, { workflowId, runId });
  if (existing) return existing;
  const record = em.create(Operation, { id: crypto.randomUUID(), kind: 'power-on', workflowId, runId, resourceType: 'host', resourceId: hostId, requestedBy });
  await em.flush();
  return record;
}

export type RedfishObserverActivities = ReturnType<typeof createRedfishObserverActivities>;
