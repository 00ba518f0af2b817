// The compute v1 REST contract, read from the schema that ships inside @google-cloud/compute
// (build/protos/protos.json): each served method's HTTP verb and path template (its
// `google.api.http` annotation), the request message whose non-path fields are the query string,
// and the body field's message type. Requests are checked against it the way GCP checks them:
// an unknown field or a value of the wrong type is a 400 naming the field.
import { createRequire } from 'node:module';

type Field = { type: string; rule?: string; keyType?: string };
type MessageDef = { fields?: Record<string, Field>; nested?: Record<string, unknown>; values?: Record<string, number> };

const require = createRequire(import.meta.url);
const ROOT = require('@google-cloud/compute/build/protos/protos.json') as { nested: Record<string, any> };
const V1: Record<string, MessageDef & { methods?: Record<string, any> }> = ROOT.nested.google.nested.cloud.nested.compute.nested.v1.nested;

export interface MethodContract {
  /** `Subnetworks.Insert` */
  id: string;
  verb: 'get' | 'post' | 'delete' | 'patch' | 'put';
  template: string;
  pattern: RegExp;
  pathParams: string[];
  /** Query parameters the request message allows (JSON names) and their proto types. */
  query: Record<string, string>;
  /** The body's JSON name and message type, when the method has one. */
  body: { field: string; type: string } | null;
}

const camel = (snake: string) => snake.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

function contractOf(service: string, method: string): MethodContract {
  const def = V1[service]!.methods![method];
  if (!def) throw new Error(`compute v1 has no ${service}.${method}`);
  const http = def.parsedOptions.find((o: any) => o['(google.api.http)'])['(google.api.http)'];
  const verb = (['get', 'post', 'delete', 'patch', 'put'] as const).find((v) => http[v])!;
  const template: string = http[verb];
  const pathParams = [...template.matchAll(/\{(\w+)\}/g)].map((m) => camel(m[1]!));
  const pattern = new RegExp(`^${template.replace(/\{\w+\}/g, '([^/]+)')}$`);
  const request = V1[def.requestType]!;
  const bodyField = http.body ? camel(http.body) : null;
  const query: Record<string, string> = {};
  for (const [name, f] of Object.entries(request.fields ?? {})) {
    if (!pathParams.includes(name) && name !== bodyField) query[name] = f.type;
  }
  return {
    id: `${service}.${method}`,
    verb,
    template,
    pattern,
    pathParams,
    query,
    body: bodyField ? { field: bodyField, type: request.fields![bodyField]!.type } : null,
  };
}

/** The methods the simulator serves, in match order (longer literal paths first where they overlap). */
export const SERVED = [
  ['Networks', 'Get'],
  ['Networks', 'List'],
  ['Networks', 'Insert'],
  ['Networks', 'Delete'],
  ['Subnetworks', 'AggregatedList'],
  ['Subnetworks', 'Get'],
  ['Subnetworks', 'List'],
  ['Subnetworks', 'Insert'],
  ['Subnetworks', 'Delete'],
  ['RegionOperations', 'Wait'],
  ['RegionOperations', 'Get'],
  ['GlobalOperations', 'Wait'],
  ['GlobalOperations', 'Get'],
].map(([s, m]) => contractOf(s!, m!));

/** GCP's system parameters, accepted on every call (the REST transport sends `$alt`). */
const SYSTEM_PARAMS = new Set(['$alt', 'alt', 'fields', '$fields', 'prettyPrint', 'key', 'quotaUser', 'userIp', 'callback', '$callback']);

export class SchemaError extends Error {}

/** The method whose verb and path template match, with its path parameters; null: no such route. */
export function matchMethod(verb: string, path: string): { contract: MethodContract; params: Record<string, string> } | null {
  for (const contract of SERVED) {
    if (contract.verb !== verb.toLowerCase()) continue;
    const m = contract.pattern.exec(path);
    if (!m) continue;
    const params = Object.fromEntries(contract.pathParams.map((p, i) => [p, decodeURIComponent(m[i + 1]!)]));
    return { contract, params };
  }
  return null;
}

/** Checks the query string against the request message; throws SchemaError like GCP's 400. */
export function checkQuery(contract: MethodContract, query: URLSearchParams): void {
  for (const [name, value] of query) {
    if (SYSTEM_PARAMS.has(name)) continue;
    const type = contract.query[name];
    if (!type)
      throw new SchemaError(
        `Invalid JSON payload received. Unknown name "${name}": Cannot bind query parameter. Field '${name}' could not be found in request message.`,
      );
    if (!scalarStringOk(type, value)) throw new SchemaError(`Invalid value at '${name}' (TYPE_${type.toUpperCase()}), "${value}"`);
  }
}

/** Checks a JSON body against the method's body message (recursively); throws SchemaError like GCP's 400. */
export function checkBody(contract: MethodContract, body: unknown): void {
  if (!contract.body) {
    if (body !== undefined && body !== null && !(typeof body === 'object' && Object.keys(body as object).length === 0)) {
      throw new SchemaError(`Invalid JSON payload received. ${contract.id} takes no request body.`);
    }
    return;
  }
  checkMessage(contract.body.type, body, snake(contract.body.field));
}

const snake = (camelName: string) => camelName.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function lookup(type: string): MessageDef | null {
  const t = V1[type];
  return t && (t.fields || !t.values) ? t : null;
}

function checkMessage(type: string, value: unknown, at: string): void {
  const def = lookup(type);
  if (!def) throw new Error(`schema has no message ${type}`);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SchemaError(`Invalid value at '${at}' (type.googleapis.com/google.cloud.compute.v1.${type}), ${JSON.stringify(value)}`);
  }
  for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
    const field = def.fields?.[name];
    if (!field) throw new SchemaError(`Invalid JSON payload received. Unknown name "${name}" at '${at}': Cannot find field.`);
    const where = `${at}.${snake(name)}`;
    if (v === null) continue;
    if (field.keyType) {
      if (typeof v !== 'object' || Array.isArray(v)) throw new SchemaError(`Invalid value at '${where}' (map), ${JSON.stringify(v)}`);
      for (const [k, item] of Object.entries(v as Record<string, unknown>)) checkValue(field.type, item, `${where}[${k}]`);
    } else if (field.rule === 'repeated') {
      if (!Array.isArray(v)) throw new SchemaError(`Invalid value at '${where}' (repeated ${field.type}), ${JSON.stringify(v)}`);
      for (const [i, item] of v.entries()) checkValue(field.type, item, `${where}[${i}]`);
    } else checkValue(field.type, v, where);
  }
}

function checkValue(type: string, value: unknown, at: string): void {
  if (lookup(type)) return checkMessage(type, value, at);
  const ok =
    type === 'string' || type === 'bytes'
      ? typeof value === 'string'
      : type === 'bool'
        ? typeof value === 'boolean'
        : typeof value === 'number'
          ? Number.isFinite(value) && (type === 'double' || type === 'float' || Number.isInteger(value)) && (!type.startsWith('uint') || value >= 0)
          : typeof value === 'string' && scalarStringOk(type, value);
  if (!ok) throw new SchemaError(`Invalid value at '${at}' (TYPE_${type.toUpperCase()}), ${JSON.stringify(value)}`);
}

function scalarStringOk(type: string, value: string): boolean {
  switch (type) {
    case 'bool':
      return value === 'true' || value === 'false';
    case 'int32':
    case 'int64':
    case 'sint32':
    case 'sint64':
      return /^-?\d+$/.test(value);
    case 'uint32':
    case 'uint64':
    case 'fixed32':
    case 'fixed64':
      return /^\d+$/.test(value);
    case 'double':
    case 'float':
      return value.trim() !== '' && Number.isFinite(Number(value));
    default:
      return type === 'string' || type === 'bytes';
  }
}
