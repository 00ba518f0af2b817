// POST /api/v1/hosts/{ref}/actions/{action}: power a host, inspect it, deprovision it,
// force-release it (admin) or park it in maintenance. Every state change goes through domain/host.ts.
import { z } from 'zod';
import { HangarError } from '../../domain/errors.ts';
import { safeText } from '../../domain/text.ts';
import { HOST_ACTIONS, deprovisionHostSchema, type HostAction } from '../../domain/host-requests.ts';
import type { HostPowerAction } from '../../domain/host.ts';
import { hostPowerWorkflowId, hostReleaseWorkflowId } from '../../workflows/contracts.ts';
import { Host } from '../../db/entities/index.ts';
import { loadHost, transitionHost } from '../../db/repositories/hosts.ts';
import type { ApiDeps } from '../context.ts';
import { operationSummary, startOperation } from '../operations.ts';
import { contractRouter, json, type ContractRouter } from '../contract/route.ts';
import { refParam } from '../contract/schemas.ts';
import { hostOperation, hostView, startInspection } from './host-common.ts';
import { startHostDeprovision } from './host-provisioning.ts';

const BUSY = new Set(['claimed', 'provisioning', 'deprovisioning']);

/** deprovision reads the wipe fields, force-release the reason; other actions take no body. */
const hostActionBody = deprovisionHostSchema
  .extend({ reason: safeText(512).optional().meta({ description: 'force-release: why (for the audit trail)' }) })
  .meta({ id: 'HostActionRequest' });
const hostAndAction = z.object({ ref: refParam('host'), action: z.string().meta({ enum: [...HOST_ACTIONS] }) });
const isHostAction = (action: string): action is HostAction => (HOST_ACTIONS as readonly string[]).includes(action);

export function hostActionsRouter(deps: ApiDeps): ContractRouter {
  const r = contractRouter({ tags: ['hosts'] });

  r.route({
    method: 'post',
    path: '/:ref/actions/:action',
    params: hostAndAction,
    body: hostActionBody,
    bodyRequired: false,
    summary: 'Host action: inspect, power-on/off, reboot, deprovision, force-release (admin), maintenance-on/off',
    description: 'maintenance-on/off answer 200 with the host; the others start a workflow and answer 202. An unknown action is 404.',
    responses: { 202: json(hostOperation, 'the host and the operation'), 200: json(hostOperation, 'the host (maintenance-on/off; operation null)') },
    errors: [404, 409, 503],
    handler: async ({ params, body }, req, res) => {
      const action = params.action;
      if (!isHostAction(action)) throw new HangarError('not_found', `unknown action "${action}"; one of ${HOST_ACTIONS.join(', ')}`);
      const host = await loadHost(deps.orm.em, params.ref);
      const actor = req.actor!;
      res.locals.audit = { action: `hosts.${action}`, resourceType: 'host', resourceId: host.id, detail: { name: host.name } };
      let operation;
      switch (action) {
        case 'inspect':
          operation = await startInspection(deps, host, actor.name);
          break;
        case 'power-on':
        case 'power-off':
        case 'reboot': {
          if (BUSY.has(host.state)) {
            throw new HangarError(
              'invalid_state',
              `host ${host.name} is ${host.state}; power actions would fight the running workflow (cancel it or force-release the host)`,
              { state: host.state },
            );
          }
          const power: HostPowerAction = action;
          operation = await startOperation(deps.orm.em.fork(), deps.temporal, deps.config, {
            kind: action,
            workflow: 'hostPower',
            workflowId: hostPowerWorkflowId(host.id),
            args: [{ hostId: host.id, action: power, shutdownTimeoutSec: deps.config.provision.shutdownTimeoutSec }],
            resourceType: 'host',
            resourceId: host.id,
            requestedBy: actor.name,
            onConflict: 'fail',
          });
          break;
        }
        case 'deprovision': {
          operation = await startHostDeprovision(deps, host, actor.name, {
            ...(body?.wipe_image_url ? { wipeImageUrl: body.wipe_image_url } : {}),
            ...(body?.wipe_timeout ? { wipeTimeout: body.wipe_timeout } : {}),
          });
          break;
        }
        case 'force-release': {
          if (actor.role !== 'admin') throw new HangarError('forbidden', `token "${actor.name}" has role ${actor.role}; force-release needs admin`);
          if (host.state === 'available' || host.state === 'maintenance') {
            throw new HangarError('invalid_state', `host ${host.name} is ${host.state}; there is nothing to release`, { state: host.state });
          }
          const reason = body?.reason ?? `requested by ${actor.name}`;
          operation = await startOperation(deps.orm.em.fork(), deps.temporal, deps.config, {
            kind: 'force-release',
            workflow: 'forceReleaseHost',
            workflowId: hostReleaseWorkflowId(host.id),
            args: [{ hostId: host.id, reason }],
            resourceType: 'host',
            resourceId: host.id,
            requestedBy: actor.name,
          });
          break;
        }
        case 'maintenance-on':
        case 'maintenance-off': {
          const event = action === 'maintenance-on' ? 'enter-maintenance' : 'exit-maintenance';
          await transitionHost(deps.orm.em, host.id, event, {
            message: `${action === 'maintenance-on' ? 'maintenance requested' : 'maintenance ended'} by ${actor.name}`,
          });
          res.json({ host: hostView(await deps.orm.em.fork().findOneOrFail(Host, { id: host.id })), operation: null });
          return;
        }
      }
      res.status(202).json({ host: hostView(host), operation: operationSummary(deps.config, operation) });
    },
  });

  return r;
}
