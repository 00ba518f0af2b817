// /api/v1/hosts: the registry of bare-metal hosts behind Redfish BMCs. Registering a host seals its
// BMC password (AES-256-GCM, never returned or logged) and starts an inspection. Claiming and
// provisioning are in host-provisioning.ts, the actions (power, inspect, ...) in host-actions.ts.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { HangarError } from '../../domain/errors.ts';
import { safeFilter } from '../../domain/text.ts';
import { HOST_STATES } from '../../domain/host-state.ts';
import { parseBmcAddress } from '../../domain/bmc-address.ts';
import { createHostSchema, updateHostSchema } from '../../domain/host-requests.ts';
import { sealSecret } from '../../domain/secrets.ts';
import { hostSecretKey } from '../../keyfiles/host-key.ts';
import { Host, Machine, Operation, type IHost } from '../../db/entities/index.ts';
import { loadHost, updateHostObservation } from '../../db/repositories/hosts.ts';
import { sqlFor } from '../../db/sql.ts';
import type { ApiDeps } from '../context.ts';
import { operationSummary } from '../operations.ts';
import { pageOf, parsePage } from '../pagination.ts';
import { contractRouter, json, noContent, type ContractRouter } from '../contract/route.ts';
import { byRef, page, paging } from '../contract/schemas.ts';
import { host as hostSchema, hostDetail } from '../contract/views.ts';
import { openDrift } from '../drift-on-resources.ts';
import { hostOperation, hostView, startInspection } from './host-common.ts';
import { machineBrief } from './machine-common.ts';

const listQuery = z.object({
  state: z.enum(HOST_STATES).optional(),
  tag: safeFilter(63).optional(),
  ...paging,
});

/** A clear 400 when a password-bearing body is malformed, without echoing any value. */
function checkTls(body: { bmc_address?: string | undefined; verify_tls?: boolean | undefined; fingerprint?: string | null | undefined }): void {
  if (body.bmc_address && parseBmcAddress(body.bmc_address).insecureTransport && body.fingerprint) {
    throw new HangarError('validation_failed', 'a fingerprint pins a TLS certificate: it needs a redfish+https:// address', { fingerprint: 'needs https' });
  }
}

const createHostBody = createHostSchema.meta({ id: 'CreateHost' });
const updateHostBody = updateHostSchema.meta({ id: 'UpdateHost' });

export function hostsRouter(deps: ApiDeps): ContractRouter {
  const r = contractRouter({ tags: ['hosts'] });
  let key: Buffer | undefined;
  const secretKey = () => (key ??= hostSecretKey(deps.config));

  r.route({
    method: 'post',
    path: '/',
    summary: 'Register a host behind its BMC (202 with the inspection; 201 when it could not start)',
    body: createHostBody,
    responses: { 202: json(hostOperation, 'the host and its inspection'), 201: json(hostOperation, 'the host; the inspection did not start (operation null)') },
    errors: [409],
    handler: async ({ body }, req, res) => {
      checkTls(body);
      const em = deps.orm.em.fork();
      if (await em.count(Host, { name: body.name })) {
        throw new HangarError('already_exists', `a host named "${body.name}" already exists`, { name: 'already exists' });
      }
      const id = randomUUID();
      const host = em.create(Host, {
        id,
        name: body.name,
        description: body.description ?? null,
        bmcAddress: body.bmc_address.trim(),
        username: body.username,
        passwordSealed: sealSecret(secretKey(), body.password, `host:${id}`),
        verifyTls: body.verify_tls ?? true,
        caPem: body.ca_pem ?? null,
        fingerprint: body.fingerprint ?? null,
        bootMac: body.boot_mac?.toLowerCase() ?? null,
        tags: [...new Set(body.tags ?? [])],
        driftPolicy: body.drift_policy ?? null,
        conditions: [
          { type: 'bmc_reachable', status: 'Unknown', reason: 'Inspecting', message: 'inspection requested', lastTransitionTime: new Date().toISOString() },
        ],
      });
      await em.flush();
      res.locals.audit = { action: 'hosts.create', resourceType: 'host', resourceId: id, detail: { name: body.name, bmc_address: body.bmc_address } };
      let operation = null;
      try {
        operation = await startInspection(deps, host, req.actor!.name);
      } catch (err) {
        // The host is registered either way; the inspection can be asked for again.
        await updateHostObservation(deps.orm.em, id, [
          { type: 'bmc_reachable', status: 'Unknown', reason: 'InspectionNotStarted', message: (err as Error).message },
        ]);
      }
      const fresh = await deps.orm.em.fork().findOneOrFail(Host, { id });
      res
        .status(operation ? 202 : 201)
        .location(`/api/v1/hosts/${id}`)
        .json({ host: hostView(fresh), operation: operation ? operationSummary(deps.config, operation) : null });
    },
  });

  r.route({
    method: 'get',
    path: '/',
    summary: 'List hosts (by name)',
    query: listQuery,
    responses: { 200: json(page(hostSchema), 'a page of hosts') },
    handler: async ({ query: q }, req, res) => {
      const pg = parsePage(req.query, deps.config.api.maxPageSize);
      const where: Record<string, unknown> = {};
      if (q.state) where.state = q.state;
      if (pg.after !== null) where.name = { $gt: pg.after };
      const em = deps.orm.em.fork();
      if (q.tag) {
        const ids = await sqlFor(em)<{ id: string }[]>(`select id from host where tags @> ?::jsonb`, [JSON.stringify([q.tag])]);
        where.id = { $in: ids.map((row) => row.id) };
      }
      const rows: IHost[] = await em.find(Host, where, { orderBy: { name: 'asc' }, limit: pg.pageSize + 1 });
      const { items, next_cursor } = pageOf(rows, pg.pageSize, (h) => h.name);
      res.json({ items: items.map(hostView), next_cursor });
    },
  });

  r.route({
    method: 'get',
    path: '/:ref',
    summary: 'Get a host with its machine and latest operations',
    params: byRef('host'),
    responses: { 200: json(hostDetail, 'the host') },
    errors: [404],
    handler: async ({ params }, _req, res) => {
      const host = await loadHost(deps.orm.em, params.ref);
      const em = deps.orm.em.fork();
      const machine = host.claimedBy ? await em.findOne(Machine, { id: host.claimedBy }) : null;
      const resourceIds = [host.id, ...(host.claimedBy ? [host.claimedBy] : [])];
      const ops = await em.find(Operation, { resourceId: { $in: resourceIds } }, { orderBy: { createdAt: 'desc' }, limit: 10 });
      const view = hostView(host);
      res.json({
        ...view,
        ...(await openDrift(em, host.id, view.conditions)),
        machine: machine ? machineBrief(machine) : null,
        operations: ops.map((o) => operationSummary(deps.config, o)),
      });
    },
  });

  r.route({
    method: 'patch',
    path: '/:ref',
    summary: 'Change a host (BMC address, credentials, TLS, tags, description, drift policy)',
    params: byRef('host'),
    body: updateHostBody,
    responses: { 200: json(hostSchema, 'the host') },
    errors: [404],
    handler: async ({ params, body }, _req, res) => {
      const host = await loadHost(deps.orm.em, params.ref);
      checkTls({ bmc_address: body.bmc_address ?? host.bmcAddress, fingerprint: body.fingerprint === undefined ? host.fingerprint : body.fingerprint });
      const change: Partial<IHost> = {};
      if (body.bmc_address !== undefined) change.bmcAddress = body.bmc_address.trim();
      if (body.username !== undefined) change.username = body.username;
      if (body.password !== undefined) change.passwordSealed = sealSecret(secretKey(), body.password, `host:${host.id}`);
      if (body.verify_tls !== undefined) change.verifyTls = body.verify_tls;
      if (body.ca_pem !== undefined) change.caPem = body.ca_pem;
      if (body.fingerprint !== undefined) change.fingerprint = body.fingerprint;
      if (body.boot_mac !== undefined) change.bootMac = body.boot_mac?.toLowerCase() ?? null;
      if (body.tags !== undefined) change.tags = [...new Set(body.tags)];
      if (body.description !== undefined) change.description = body.description;
      if (body.drift_policy !== undefined) change.driftPolicy = body.drift_policy;
      if (Object.keys(change).length) await deps.orm.em.fork().nativeUpdate(Host, { id: host.id }, { ...change, updatedAt: new Date() });
      res.locals.audit = { action: 'hosts.update', resourceType: 'host', resourceId: host.id, detail: { fields: Object.keys(body) } };
      res.json(hostView(await deps.orm.em.fork().findOneOrFail(Host, { id: host.id })));
    },
  });

  r.route({
    method: 'delete',
    path: '/:ref',
    summary: 'Forget a host (available, maintenance or error, and unclaimed)',
    params: byRef('host'),
    responses: { 204: noContent('deleted') },
    errors: [404, 409],
    handler: async ({ params }, _req, res) => {
      const host = await loadHost(deps.orm.em, params.ref);
      if (!['available', 'maintenance', 'error'].includes(host.state) || host.claimedBy) {
        throw new HangarError(
          'invalid_state',
          `host ${host.name} is ${host.state}${host.claimedBy ? ` and claimed by machine ${host.claimedBy}` : ''}; deprovision or force-release it first`,
          { state: host.state },
        );
      }
      const deleted = await sqlFor(deps.orm.em.fork())<{ id: string }[]>(
        `delete from host where id = ? and state in ('available', 'maintenance', 'error') and claimed_by is null returning id`,
        [host.id],
      );
      if (!deleted.length) throw new HangarError('invalid_state', `host ${host.name} changed state; look again`);
      res.locals.audit = { action: 'hosts.delete', resourceType: 'host', resourceId: host.id, detail: { name: host.name } };
      res.status(204).end();
    },
  });

  return r;
}
