// The OpenAPI document, with request schemas generated from the same zod schemas that validate.
import { z } from 'zod';
import { ERROR_CODES } from '../domain/errors.ts';
import { createAccountSchema, updateAccountSchema } from '../domain/accounts.ts';
import { HOST_ACTIONS, createHostSchema, deprovisionHostSchema, provisionHostSchema, updateHostSchema } from '../domain/host-requests.ts';
import { clusterMemberSchema, createClusterSchema, updateClusterSchema } from '../domain/cluster.ts';
import { createDiskSchema, createMachineSchema, createTemplateSchema, machineMutableSchema } from '../domain/machine.ts';
import { networkInputSchema } from '../domain/network.ts';
import { createRedfishMachineSchema } from './routes/hosts.ts';
import { leaseRequestSchema } from './routes/networks.ts';
import { allocationSchema, createPoolSchema, updatePoolSchema } from './routes/pools.ts';
import { createSshKeySchema } from './routes/ssh-keys.ts';
import { createTokenSchema } from './routes/tokens.ts';

const json = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });

const errorEnvelope = {
  type: 'object',
  required: ['error', 'detail'],
  properties: {
    error: { type: 'string', enum: Object.keys(ERROR_CODES) },
    detail: { type: 'string' },
    fields: { type: 'object', additionalProperties: { type: 'string' } },
  },
};

const errors = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [String(s), { description: 'error envelope', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }]));
const ok = (status: number, description: string) => ({ [String(status)]: { description, content: { 'application/json': { schema: { type: 'object' } } } } });
const idParam: { name: string; in: string; required?: boolean; schema: Record<string, unknown> } = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
const paging = [
  { name: 'page_size', in: 'query', schema: { type: 'integer', minimum: 1 } },
  { name: 'cursor', in: 'query', schema: { type: 'string' } },
];
const idempotencyKey = { name: 'Idempotency-Key', in: 'header', schema: { type: 'string', maxLength: 255 } };

type Param = { name: string; in: string; required?: boolean; schema: Record<string, unknown>; description?: string };
type Op = { summary: string; parameters?: unknown[]; requestBody?: unknown; responses: Record<string, unknown>; security?: unknown[] };
const path = (name: string, format?: string): Param => ({ name, in: 'path', required: true, schema: { type: 'string', ...(format ? { format } : {}) } });
const query = (...names: string[]) => names.map((name) => ({ name, in: 'query', schema: { type: 'string' } }));
const dryRun = { name: 'dry_run', in: 'query', schema: { type: 'boolean' }, description: 'return the plan of provider calls; change nothing' };
const body = (schema: string) => ({ required: true, content: { 'application/json': { schema: { $ref: `#/components/schemas/${schema}` } } } });
const ref = path('ref');
const refNote = 'id or name';

/** Request bodies, generated from the zod schemas the routes validate with. */
const SCHEMAS = {
  CreateMachine: createMachineSchema, UpdateMachine: machineMutableSchema, CreateDisk: createDiskSchema, CreateTemplate: createTemplateSchema,
  CreateRedfishMachine: createRedfishMachineSchema, CreateHost: createHostSchema, UpdateHost: updateHostSchema, ProvisionHost: provisionHostSchema,
  DeprovisionHost: deprovisionHostSchema, CreateCluster: createClusterSchema, UpdateCluster: updateClusterSchema, ClusterMember: clusterMemberSchema,
  Network: networkInputSchema, LeaseRequest: leaseRequestSchema, CreateSshKey: createSshKeySchema, CreateAccount: createAccountSchema,
  UpdateAccount: updateAccountSchema, CreatePool: createPoolSchema, UpdatePool: updatePoolSchema, Allocation: allocationSchema, CreateToken: createTokenSchema,
};

/** The CRUD shape most resources share. */
function crud(
  base: string,
  what: string,
  o: { create: string; update?: string; param?: Param; async?: boolean; list?: unknown[] },
): Record<string, Record<string, Op>> {
  const param = o.param ?? idParam;
  const item: Record<string, Op> = {
    get: { summary: `Get a ${what}${param === ref ? ` (${refNote})` : ''}`, parameters: [param], responses: { ...ok(200, what), ...errors(401, 403, 404) } },
    delete: { summary: `Delete a ${what}`, parameters: [param, idempotencyKey], responses: { ...ok(o.async ? 202 : 200, o.async ? 'operation' : `deleted ${what}`), ...errors(401, 403, 404, 409) } },
  };
  if (o.update) item.patch = { summary: `Change a ${what}`, parameters: [param, idempotencyKey], requestBody: body(o.update), responses: { ...ok(200, what), ...errors(400, 401, 403, 404, 409) } };
  return {
    [base]: {
      get: { summary: `List ${what}s`, parameters: [...paging, ...(o.list ?? [])], responses: { ...ok(200, `page of ${what}s`), ...errors(400, 401, 403) } },
      post: { summary: `Create a ${what}`, parameters: [idempotencyKey], requestBody: body(o.create), responses: { ...ok(o.async ? 202 : 201, o.async ? `${what} and operation` : what), ...errors(400, 401, 403, 409, 422) } },
    },
    [`${base}/${param === ref ? '{ref}' : '{id}'}`]: item,
  };
}

export function openApiDocument() {
  const paths: Record<string, Record<string, Op>> = {
    '/healthz': { get: { summary: 'Liveness', security: [], responses: ok(200, 'alive') } },
    '/readyz': { get: { summary: 'Readiness: PostgreSQL and Temporal', security: [], responses: { ...ok(200, 'ready'), ...errors(503) } } },
    '/metrics': { get: { summary: 'Prometheus metrics', security: [], responses: { 200: { description: 'text exposition format' } } } },
    '/cloud-init/{machineId}/{token}/{doc}': {
      get: {
        summary: 'NoCloud seed document (meta-data, user-data, vendor-data, network-config); the token is the credential',
        security: [], parameters: [path('machineId', 'uuid'), path('token'), path('doc')], responses: { 200: { description: 'text/plain document' }, ...errors(404) },
      },
    },
    '/cloud-init/{machineId}/{token}/cidata.iso': {
      get: { summary: 'The whole seed as a cidata ISO, for a BMC to mount as virtual media', security: [], parameters: [path('machineId', 'uuid'), path('token')], responses: { 200: { description: 'application/x-iso9660-image' }, ...errors(404, 503) } },
    },
    '/cloud-init/{machineId}/{token}/phone-home': {
      post: { summary: "cloud-init's phone_home (form or JSON)", security: [], parameters: [path('machineId', 'uuid'), path('token')], responses: { ...ok(200, 'recorded'), ...errors(404, 503) } },
    },
    '/cloud-init/{doc}': { get: { summary: 'Seed document chosen by the client address (source-address mode)', security: [], parameters: [path('doc')], responses: { 200: { description: 'text/plain document' }, ...errors(404) } } },

    '/api/v1/machines': {
      get: { summary: 'List machines', parameters: [...paging, ...query('state', 'provider', 'name_prefix')], responses: { ...ok(200, 'page of machines'), ...errors(400, 401, 403) } },
      post: {
        summary: 'Create and provision a machine (VM providers; provider "redfish" takes a CreateRedfishMachine body and claims a host)',
        parameters: [idempotencyKey, dryRun],
        requestBody: { required: true, content: { 'application/json': { schema: { oneOf: [{ $ref: '#/components/schemas/CreateMachine' }, { $ref: '#/components/schemas/CreateRedfishMachine' }] } } } },
        responses: { ...ok(202, 'machine and operation'), ...ok(200, 'plan (dry_run)'), ...errors(400, 401, 403, 409, 422, 503) },
      },
    },
    '/api/v1/machines/{id}': {
      get: { summary: 'Get a machine', parameters: [idParam], responses: { ...ok(200, 'machine'), ...errors(401, 403, 404) } },
      patch: { summary: 'Change a machine (ssh keys, domain, user-data extras)', parameters: [idParam, idempotencyKey], requestBody: body('UpdateMachine'), responses: { ...ok(200, 'machine'), ...errors(400, 401, 403, 404, 409) } },
      delete: { summary: 'Deprovision a machine', parameters: [idParam, idempotencyKey, dryRun], responses: { ...ok(202, 'operation'), ...errors(401, 403, 404, 409, 503) } },
    },
    '/api/v1/machines/{id}/seed-url': { get: { summary: "The machine's NoCloud seed URL (operator)", parameters: [idParam], responses: { ...ok(200, 'seed URL'), ...errors(401, 403, 404) } } },
    '/api/v1/machines/{id}/operations/latest': { get: { summary: "The machine's latest operation", parameters: [idParam], responses: { ...ok(200, 'operation'), ...errors(401, 403, 404) } } },
    '/api/v1/machines/{id}/actions/{action}': {
      post: { summary: 'Power action: start, stop or restart', parameters: [idParam, { ...path('action'), schema: { type: 'string', enum: ['start', 'stop', 'restart'] } }, idempotencyKey, dryRun], responses: { ...ok(202, 'operation'), ...errors(400, 401, 403, 404, 409, 503) } },
    },
    '/api/v1/machines/{id}/disks': {
      get: { summary: "The machine's data disks", parameters: [idParam], responses: { ...ok(200, 'disks'), ...errors(401, 403, 404) } },
      post: { summary: 'Attach a new data disk (hot-plug when running)', parameters: [idParam, idempotencyKey, dryRun], requestBody: body('CreateDisk'), responses: { ...ok(202, 'disk and operation'), ...errors(400, 401, 403, 404, 409, 422) } },
    },
    '/api/v1/machines/{id}/disks/{diskId}': {
      get: { summary: 'Get a data disk', parameters: [idParam, path('diskId', 'uuid')], responses: { ...ok(200, 'disk'), ...errors(401, 403, 404) } },
      delete: { summary: 'Detach and delete a data disk', parameters: [idParam, path('diskId', 'uuid'), idempotencyKey, dryRun], responses: { ...ok(202, 'operation'), ...errors(401, 403, 404, 409) } },
    },

    ...crud('/api/v1/templates', 'template', { create: 'CreateTemplate', param: ref, async: true, list: query('provider', 'state') }),
    ...crud('/api/v1/ssh-keys', 'SSH key', { create: 'CreateSshKey', update: 'CreateSshKey' }),
    ...crud('/api/v1/networks', 'network', { create: 'Network', update: 'Network' }),
    '/api/v1/networks/{id}/leases': {
      get: { summary: "The network's leases", parameters: [idParam, ...paging, ...query('state')], responses: { ...ok(200, 'page of leases'), ...errors(400, 401, 403, 404) } },
      post: { summary: 'Lease an address (lowest free, or a requested one)', parameters: [idParam, idempotencyKey], requestBody: body('LeaseRequest'), responses: { ...ok(201, 'lease'), ...errors(400, 401, 403, 404, 409) } },
    },
    '/api/v1/networks/{id}/leases/{address}': { delete: { summary: 'Release a lease', parameters: [idParam, path('address')], responses: { ...ok(200, 'released lease'), ...errors(401, 403, 404) } } },
    ...crud('/api/v1/accounts', 'account', { create: 'CreateAccount', update: 'UpdateAccount' }),
    ...crud('/api/v1/pools', 'address pool', { create: 'CreatePool', update: 'UpdatePool' }),
    '/api/v1/pools/{id}/allocations': {
      get: { summary: "The pool's block allocations", parameters: [idParam, ...paging], responses: { ...ok(200, 'page of allocations'), ...errors(400, 401, 403, 404) } },
      post: { summary: 'Allocate a block', parameters: [idParam, idempotencyKey], requestBody: body('Allocation'), responses: { ...ok(201, 'allocation'), ...errors(400, 401, 403, 404, 409) } },
    },
    '/api/v1/pools/{id}/allocations/{allocationId}': { delete: { summary: 'Release a block', parameters: [idParam, path('allocationId', 'uuid')], responses: { ...ok(200, 'released allocation'), ...errors(401, 403, 404) } } },
    '/api/v1/pools/{id}/blocks': { get: { summary: 'Blocks of a prefix length, free or used, paged', parameters: [idParam, ...paging, ...query('prefix_length', 'status')], responses: { ...ok(200, 'page of blocks'), ...errors(400, 401, 403, 404) } } },
    '/api/v1/pools/{id}/utilization': { get: { summary: 'Used and free addresses of a pool', parameters: [idParam], responses: { ...ok(200, 'utilization'), ...errors(401, 403, 404) } } },
    '/api/v1/blocks': { get: { summary: 'Allocated blocks across pools', parameters: [...paging, ...query('account_id', 'pool_id')], responses: { ...ok(200, 'page of blocks'), ...errors(400, 401, 403) } } },

    ...crud('/api/v1/hosts', 'host', { create: 'CreateHost', update: 'UpdateHost', param: ref, list: query('state', 'tag') }),
    '/api/v1/hosts/provision': {
      post: { summary: 'Claim a host (by name, tags or any available) and provision it as a baremetal machine', parameters: [idempotencyKey], requestBody: body('ProvisionHost'), responses: { ...ok(202, 'machine, host and operation'), ...errors(400, 401, 403, 409, 422, 503) } },
    },
    '/api/v1/hosts/{ref}/actions/{action}': {
      post: {
        summary: 'Host action (force-release is admin-only; deprovision takes a DeprovisionHost body)',
        parameters: [ref, { ...path('action'), schema: { type: 'string', enum: [...HOST_ACTIONS] } }, idempotencyKey],
        requestBody: { required: false, content: { 'application/json': { schema: { $ref: '#/components/schemas/DeprovisionHost' } } } },
        responses: { ...ok(202, 'operation'), ...ok(200, 'host (maintenance-on/off)'), ...errors(400, 401, 403, 404, 409, 503) },
      },
    },
    ...crud('/api/v1/clusters', 'cluster', { create: 'CreateCluster', update: 'UpdateCluster', param: ref }),
    '/api/v1/clusters/{ref}/machines': { post: { summary: 'Add a machine with a role', parameters: [ref], requestBody: body('ClusterMember'), responses: { ...ok(200, 'cluster'), ...errors(400, 401, 403, 404, 409) } } },
    '/api/v1/clusters/{ref}/machines/{machineId}': { delete: { summary: 'Remove a machine from the cluster', parameters: [ref, path('machineId')], responses: { ...ok(200, 'cluster'), ...errors(401, 403, 404) } } },

    '/api/v1/operations': { get: { summary: 'List operations', parameters: [...paging, ...query('resource_id', 'kind')], responses: { ...ok(200, 'page of operations'), ...errors(400, 401, 403) } } },
    '/api/v1/operations/{id}': { get: { summary: 'Operation status and progress', parameters: [idParam], responses: { ...ok(200, 'operation'), ...errors(401, 403, 404, 503) } } },
    '/api/v1/tokens': {
      get: { summary: 'List tokens (admin)', responses: { ...ok(200, 'tokens'), ...errors(401, 403) } },
      post: { summary: 'Issue a token (admin); shown once', requestBody: body('CreateToken'), responses: { ...ok(201, 'token'), ...errors(400, 401, 403, 409) } },
    },
    '/api/v1/tokens/{id}': { delete: { summary: 'Revoke a token (admin)', parameters: [idParam], responses: { ...ok(200, 'revoked token'), ...errors(401, 403, 404) } } },
    '/api/v1/audit': { get: { summary: 'Audit events', parameters: [...paging, ...query('actor', 'resource_id')], responses: { ...ok(200, 'page of audit events'), ...errors(400, 401, 403) } } },
  };
  return {
    openapi: '3.1.0',
    info: { title: 'Hangar API', version: '0.1.0', description: 'Provisioning control plane. Every /api/v1 route needs a bearer token.' },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: { Error: errorEnvelope, ...Object.fromEntries(Object.entries(SCHEMAS).map(([k, v]) => [k, json(v)])) } as Record<string, unknown>,
    },
    paths,
  };
}

const escape = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** A self-contained reference page (no CDN: the API may run where nothing else is reachable). */
export function apiDocsHtml(): string {
  const doc = openApiDocument();
  const rows = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops as Record<string, { summary: string }>).map(([method, op]) =>
      `<tr><td><code>${method.toUpperCase()}</code></td><td><code>${escape(path)}</code></td><td>${escape(op.summary)}</td></tr>`));
  return `<!doctype html><html><head><meta charset="utf-8"><title>Hangar API</title>
<style>body{font:14px system-ui,sans-serif;margin:2rem;max-width:60rem}td{padding:.25rem .75rem;border-bottom:1px solid #ddd}pre{background:#f6f6f6;padding:1rem;overflow:auto}</style>
</head><body><h1>Hangar API</h1><p>${escape(doc.info.description)} Machine-readable: <a href="/openapi.json">/openapi.json</a>.</p>
<table>${rows.join('')}</table><h2>Create a machine</h2><pre>${escape(JSON.stringify(doc.components.schemas.CreateMachine, null, 2))}</pre>
<h2>Provision a host</h2><pre>${escape(JSON.stringify(doc.components.schemas.ProvisionHost, null, 2))}</pre>
<h2>Errors</h2><pre>${escape(JSON.stringify(errorEnvelope, null, 2))}</pre></body></html>`;
}
