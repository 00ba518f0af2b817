// POST /api/v1/drift/{id}/actions/remediate: fix one finding now, whatever the configured policy,
// through the workflow that fixes it (an operation with progress, never a provider call from the
// API). What can be remediated this way is the table below; anything else (and anything Hangar did
// not create) is 409.
import { z } from 'zod';
import { getFinding, recordRemediation, type DriftFindingView } from '../../db/repositories/drift.ts';
import { Host, Machine, type IOperation } from '../../db/entities/index.ts';
import { remediationFor, type RemediationAction } from '../../domain/drift.ts';
import { HangarError } from '../../domain/errors.ts';
import { hostPowerWorkflowId, powerWorkflowId } from '../../workflows/contracts.ts';
import type { ApiDeps } from '../context.ts';
import { contractRouter, json, type ContractRouter } from '../contract/route.ts';
import { byId, operationSummary as operationSummarySchema } from '../contract/schemas.ts';
import { driftFinding } from '../contract/views.ts';
import { isUuid } from '../pagination.ts';
import { operationSummary, startOperation } from '../operations.ts';

const remediation = z.strictObject({ finding: driftFinding, operation: operationSummarySchema }).meta({ id: 'DriftRemediation' });

type Starter = (deps: ApiDeps, finding: DriftFindingView, requestedBy: string) => Promise<IOperation>;

/** The remediations an operator can run now, each through its existing workflow (joined when one runs). */
const STARTERS: Partial<Record<RemediationAction, Starter>> = {
  power_on_host: async (deps, f, requestedBy) => {
    const host = await deps.orm.em.fork().findOne(Host, { id: f.resource_id });
    if (!host) throw new HangarError('invalid_state', `host ${f.resource_name} no longer exists`);
    if (host.state !== 'provisioned') {
      throw new HangarError('invalid_state', `host ${host.name} is ${host.state}, not provisioned; there is nothing to power back on`, { state: host.state });
    }
    return startOperation(deps.orm.em.fork(), deps.temporal, deps.config, {
      kind: 'power-on',
      workflow: 'hostPower',
      workflowId: hostPowerWorkflowId(host.id),
      args: [{ hostId: host.id, action: 'power-on', shutdownTimeoutSec: deps.config.provision.shutdownTimeoutSec }],
      resourceType: 'host',
      resourceId: host.id,
      requestedBy,
    });
  },
  start_vm: async (deps, f, requestedBy) => {
    const machine = await deps.orm.em.fork().findOne(Machine, { id: f.resource_id });
    if (!machine?.providerId) throw new HangarError('invalid_state', `machine ${f.resource_name} has no VM to start`);
    return startOperation(deps.orm.em.fork(), deps.temporal, deps.config, {
      kind: 'start',
      workflow: 'vmPower',
      workflowId: powerWorkflowId(machine.id),
      args: [
        {
          machineId: machine.id,
          provider: machine.provider,
          providerId: machine.providerId,
          action: 'start',
          shutdownTimeoutSec: deps.config.provision.shutdownTimeoutSec,
        },
      ],
      resourceType: 'machine',
      resourceId: machine.id,
      requestedBy,
    });
  },
};

export function driftRemediateRouter(deps: ApiDeps): ContractRouter {
  const r = contractRouter({ tags: ['drift'] });

  r.route({
    method: 'post',
    path: '/:id/actions/remediate',
    params: byId('drift finding'),
    summary: 'Remediate a drift finding now',
    description:
      'Starts the workflow that brings reality back (a provisioned host found off is powered on; a stopped VM is started) and answers 202 with the operation. ' +
      '409 when the finding is resolved, its kind has no remediation, or Hangar did not create the resource.',
    responses: { 202: json(remediation, 'the finding and the operation that fixes it') },
    errors: [404, 409, 503],
    handler: async ({ params }, req, res) => {
      if (!isUuid(params.id)) throw new HangarError('not_found', `drift finding ${params.id} not found`);
      const finding = await getFinding(deps.orm.em, params.id);
      res.locals.audit = { action: 'drift.remediate', resourceType: 'drift_finding', resourceId: finding.id };
      if (finding.state === 'resolved') throw new HangarError('invalid_state', `drift finding ${finding.id} is already resolved`, { state: finding.state });
      // An explicit request is the `remediate` policy for this one finding; what Hangar did not create stays untouched.
      const ref = { type: finding.resource_type, id: finding.resource_id, name: finding.resource_name };
      const action = remediationFor({ kind: finding.kind, ref, createdByHangar: finding.kind !== 'unmanaged' }, 'remediate');
      const start = STARTERS[action];
      if (!start) {
        const why =
          finding.kind === 'unmanaged'
            ? 'Hangar did not create it (adopt it instead)'
            : `a ${finding.kind} finding on a ${finding.resource_type} has no remediation to run`;
        throw new HangarError('invalid_state', `drift finding ${finding.id} cannot be remediated: ${why}`, { kind: finding.kind });
      }
      const operation = await start(deps, finding, req.actor!.name);
      await recordRemediation(deps.orm.em, finding.id, action, { operationId: operation.id });
      res.locals.audit.detail = {
        resource_type: finding.resource_type,
        resource_id: finding.resource_id,
        kind: finding.kind,
        action,
        operation_id: operation.id,
      };
      res.status(202).json({ finding: await getFinding(deps.orm.em, finding.id), operation: operationSummary(deps.config, operation) });
    },
  });

  return r;
}
