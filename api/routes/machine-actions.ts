// /api/v1/machines/{id}/…: what is done to or read about one machine besides its record: power
// actions on its VM, its NoCloud seed URL and its latest operation.
import { z } from 'zod';
import { HangarError } from '../../domain/errors.ts';
import { POWER_ACTIONS, type PowerAction } from '../../domain/machine.ts';
import { powerWorkflowId } from '../../workflows/contracts.ts';
import { planPower } from '../../domain/plan.ts';
import { Operation } from '../../db/entities/index.ts';
import type { ApiDeps } from '../context.ts';
import { describeOperation, operationSummary, startOperation } from '../operations.ts';
import { contractRouter, json, type ContractRouter } from '../contract/route.ts';
import { byId, dryRun, idParam, operationDetail, plan } from '../contract/schemas.ts';
import { isDryRun } from './common.ts';
import { loadMachine, machineOperation, machineView, requireVm, seedUrlOf } from './machine-common.ts';

const machineAndAction = z.object({ id: idParam('machine'), action: z.string().meta({ enum: [...POWER_ACTIONS] }) });
const isPowerAction = (action: string): action is PowerAction => (POWER_ACTIONS as readonly string[]).includes(action);
const seedUrl = z.strictObject({ url: z.string() }).meta({ id: 'SeedUrl' });

export function machineActionsRouter(deps: ApiDeps): ContractRouter {
  const r = contractRouter({ tags: ['machines'] });

  /** The NoCloud seed URL (it carries the machine's metadata token): operators only. */
  r.route({
    method: 'get',
    path: '/:id/seed-url',
    summary: "The machine's NoCloud seed URL (operator: it carries the metadata token)",
    params: byId('machine'),
    responses: { 200: json(seedUrl, 'the seed URL') },
    errors: [404],
    handler: async ({ params }, req, res) => {
      if (req.actor!.role === 'viewer') throw new HangarError('forbidden', 'the seed URL carries a secret token; it needs the operator role');
      // `hidden` only keeps the token out of serialisation; the loaded entity has it.
      const machine = await loadMachine(deps, params.id);
      res.json({ url: seedUrlOf(deps.config, machine.id, machine.metadataToken) });
    },
  });

  r.route({
    method: 'get',
    path: '/:id/operations/latest',
    summary: "The machine's latest operation",
    params: byId('machine'),
    responses: { 200: json(operationDetail, 'the operation') },
    errors: [404, 503],
    handler: async ({ params }, _req, res) => {
      const machine = await loadMachine(deps, params.id);
      const op = await deps.orm.em.fork().findOne(Operation, { resourceType: 'machine', resourceId: machine.id }, { orderBy: { createdAt: 'desc' } });
      if (!op) throw new HangarError('not_found', `machine ${machine.id} has no operations`);
      res.json(await describeOperation(deps.temporal, deps.config, op));
    },
  });

  r.route({
    method: 'post',
    path: '/:id/actions/:action',
    summary: 'Power action: start, stop or restart (an unknown action is 404)',
    params: machineAndAction,
    query: z.object(dryRun),
    responses: { 202: json(machineOperation, 'the machine and the operation'), 200: json(plan, 'the plan (dry_run)') },
    errors: [404, 409, 422, 503],
    handler: async ({ params, query }, req, res) => {
      const action = params.action;
      if (!isPowerAction(action)) {
        throw new HangarError('not_found', `unknown action "${action}"; one of ${POWER_ACTIONS.join(', ')}`);
      }
      const machine = await loadMachine(deps, params.id);
      const providerId = requireVm(machine, action);
      const input = {
        machineId: machine.id,
        provider: machine.provider,
        providerId,
        action,
        shutdownTimeoutSec: deps.config.provision.shutdownTimeoutSec,
      };
      if (isDryRun(query)) {
        res.status(200).json(planPower(input.action, machine.provider, providerId, input.shutdownTimeoutSec, powerWorkflowId(machine.id)));
        return;
      }
      // One power workflow per machine at a time: a second one is refused, never interleaved.
      const operation = await startOperation(deps.orm.em.fork(), deps.temporal, deps.config, {
        kind: action,
        workflow: 'vmPower',
        workflowId: powerWorkflowId(machine.id),
        args: [input],
        resourceType: 'machine',
        resourceId: machine.id,
        requestedBy: req.actor!.name,
        onConflict: 'fail',
      });
      res.locals.audit = { action: `machines.${action}`, resourceType: 'machine', resourceId: machine.id, detail: { name: machine.name } };
      res.status(202).json({ machine: machineView(machine), operation: operationSummary(deps.config, operation) });
    },
  });

  return r;
}
