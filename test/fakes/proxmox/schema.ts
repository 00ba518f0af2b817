// Validates Proxmox VE API calls against the trimmed published schema, the way PVE's
// PVE::JSONSchema does it (pve-common): same checks, same order, same error texts.
//
//   const v = loadValidator();
//   v.validate('POST', '/nodes/pve1/qemu/100/clone', { newid: '101', full: '1' })
//     → { ok: true, template: '/nodes/{node}/qemu/{vmid}/clone', params: { node: 'pve1', vmid: 100, newid: 101, full: 1 } }
//     → { ok: false, status: 400, message: 'Parameter verification failed.', errors: { foo: 'property is not defined …' } }
//     → { ok: false, status: 501, message: "Method 'GET /nodes/pve1/nope' not implemented" }
import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const TRIMMED_SCHEMA_FILE = resolve(dirname(fileURLToPath(import.meta.url)), 'pve-schema.trimmed.json');

export interface SchemaProperty {
  type?: string;
  format?: string | Record<string, SchemaProperty>;
  optional?: number | boolean;
  enum?: (string | number)[] | null;
  minimum?: number | string;
  maximum?: number | string;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  default_key?: number | boolean;
  alias?: string;
  keyAlias?: string;
  requires?: string;
  typetext?: string;
  description?: string;
  default?: unknown;
  properties?: Record<string, SchemaProperty>;
  items?: SchemaProperty;
}
export interface MethodInfo {
  name?: string;
  method?: string;
  description?: string;
  parameters: { additionalProperties?: number | boolean; properties?: Record<string, SchemaProperty> };
  returns?: SchemaProperty;
}
export interface TrimmedSchemaFile {
  source: { file: string; sha256: string; date: string; endpoints: string[] };
  endpoints: Record<string, Record<string, MethodInfo>>;
}

export type ValidationResult =
  | { ok: true; template: string; info: MethodInfo; params: Record<string, unknown> }
  | { ok: false; status: 400; template: string; message: string; errors: Record<string, string> }
  | { ok: false; status: 501; message: string };

export interface RouteMatch {
  template: string;
  pathParams: Record<string, string>;
  methods: Record<string, MethodInfo>;
}

/** An error thrown by a format check; `errors` carries sub-property errors of property strings. */
class FormatError extends Error {
  errors?: Record<string, string>;
  constructor(message: string, errors?: Record<string, string>) {
    super(message);
    this.errors = errors;
  }
}

// ---------------------------------------------------------------------------------------------
// Names like net[n]: PVE expands them to net0..netN; the API dump collapses them. Ranges come
// from the description ("n is 0 to 30") or, where it says nothing, from qemu-server's constants.
const INDEX_LIMITS: Record<string, number> = {
  net: 31,
  ipconfig: 31,
  hostpci: 15,
  numa: 7,
  unused: 255,
  usb: 13,
  virtiofs: 9,
  serial: 3,
  parallel: 2,
  ide: 3,
  sata: 5,
  scsi: 30,
  virtio: 15,
};

function indexLimit(base: string, prop: SchemaProperty): number {
  if (base === 'usb') return INDEX_LIMITS.usb!; // "n is 0 to 4, … can be up to 14"
  const m = /\(n is 0 to (\d+)/.exec(prop.description ?? '');
  if (m) return Number(m[1]);
  return INDEX_LIMITS[base] ?? 31;
}

/** The schema entry for a concrete parameter name (net0 → net[n]), or undefined. */
export function lookupProperty(props: Record<string, SchemaProperty>, name: string): SchemaProperty | undefined {
  if (Object.hasOwn(props, name) && !name.endsWith('[n]')) return props[name];
  const m = /^([a-z][a-z_-]*?)(\d+)$/.exec(name);
  if (!m) return undefined;
  const prop = props[`${m[1]}[n]`];
  if (!prop) return undefined;
  if (m[2]!.length > 1 && m[2]!.startsWith('0')) return undefined;
  return Number(m[2]) <= indexLimit(m[1]!, prop) ? prop : undefined;
}

// ---------------------------------------------------------------------------------------------
// Value checks, as PVE::JSONSchema::check_type / check_prop.
const isNumber = (v: string) => /^[+-]?(\d+\.\d+|\d+\.|\.\d+|\d+)([eE][+-]?\d+)?$/.test(v);
const isInteger = (v: string) => /^[+-]?\d+$/.test(v);
const optional = (p: SchemaProperty) => p.optional === 1 || p.optional === true;

function scalarText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (typeof value === 'boolean') return value ? '1' : '0';
  return undefined;
}

function addError(errors: Record<string, string>, path: string, msg: string): void {
  const key = path || '_root';
  errors[key] = errors[key] ? `${errors[key]}\\n${msg}` : msg;
}

function checkType(path: string, type: string | undefined, value: unknown, errors: Record<string, string>): boolean {
  if (!type || type === 'any') return true;
  if (type === 'array') {
    if (!Array.isArray(value)) {
      addError(errors, path, `type check ('${type}') failed`);
      return false;
    }
    return true;
  }
  if (type === 'object') {
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      addError(errors, path, `type check ('${type}') failed`);
      return false;
    }
    return true;
  }
  if (value !== null && typeof value === 'object') {
    addError(errors, path, `type check ('${type}') failed - got ${Array.isArray(value) ? 'ARRAY' : 'HASH'}`);
    return false;
  }
  if (type === 'boolean' && typeof value === 'boolean') return true;
  const text = scalarText(value) ?? '';
  if (type === 'boolean' && text !== '0' && text !== '1') {
    addError(errors, path, `type check ('boolean') failed - got '${text}'`);
    return false;
  }
  if (type === 'integer' && !isInteger(text)) {
    addError(errors, path, `type check ('integer') failed - got '${text}'`);
    return false;
  }
  if (type === 'number' && !isNumber(text)) {
    addError(errors, path, `type check ('number') failed - got '${text}'`);
    return false;
  }
  return true;
}

/** Perl regex text from the schema (`(?^:…)`, `(?^i:…)`) as a JS RegExp anchored like m/^$pattern$/. */
const regexCache = new Map<string, RegExp | null>();
function perlRegex(pattern: string): RegExp | null {
  if (regexCache.has(pattern)) return regexCache.get(pattern)!;
  let flags = '';
  const src = pattern.replace(/\(\?\^([a-z]*):/g, (_m, f: string) => {
    if (f.includes('i')) flags = 'i';
    return '(?:';
  });
  let re: RegExp | null;
  try {
    re = new RegExp(`^(?:${src})$`, flags);
  } catch {
    re = null;
  }
  regexCache.set(pattern, re);
  return re;
}

export function checkProp(value: unknown, schema: SchemaProperty, path: string, errors: Record<string, string>): void {
  if (value === undefined || value === null) {
    if (!optional(schema) && !schema.alias) addError(errors, path, 'property is missing and it is not optional');
    return;
  }
  if (!checkType(path, schema.type, value, errors)) return;
  if (typeof value === 'object') return;
  const text = scalarText(value)!;
  if (schema.format) {
    try {
      checkFormat(schema.format, text, path, schema);
    } catch (e) {
      const err = e as FormatError;
      let msg = err.message;
      if (err.errors) for (const [k, v] of Object.entries(err.errors)) msg += `${k}: ${v}\n`;
      addError(errors, path, `invalid format - ${msg}`);
      return;
    }
  }
  if (schema.pattern) {
    const re = perlRegex(schema.pattern);
    if (re && !re.test(text)) {
      addError(errors, path, 'value does not match the regex pattern');
      return;
    }
  }
  if (schema.maxLength !== undefined && text.length > Number(schema.maxLength)) {
    addError(errors, path, `value may only be ${schema.maxLength} characters long`);
    return;
  }
  if (schema.minLength !== undefined && text.length < Number(schema.minLength)) {
    addError(errors, path, `value must be at least ${schema.minLength} characters long`);
    return;
  }
  if (isNumber(text)) {
    if (schema.maximum !== undefined && Number(text) > Number(schema.maximum)) {
      addError(errors, path, `value must have a maximum value of ${schema.maximum}`);
      return;
    }
    if (schema.minimum !== undefined && Number(text) < Number(schema.minimum)) {
      addError(errors, path, `value must have a minimum value of ${schema.minimum}`);
      return;
    }
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => String(e) === text)) {
    addError(errors, path, `value '${text}' does not have a value in the enumeration '${schema.enum.join(', ')}'`);
  }
}

// ---------------------------------------------------------------------------------------------
// Formats. Named formats are PVE's registered validators (pve-common JSONSchema.pm, pve-storage,
// qemu-server); hash formats are property strings (`virtio=…,bridge=vmbr0`).
const CONFIGID_RE = /^[a-z][a-z0-9_-]+$/i;
const STORAGE_ID_RE = /^[a-z][a-z0-9\-_.]*[a-z0-9]$/i;
const VOLUME_ID_RE = /^([a-z][a-z0-9\-_.]*[a-z0-9]):(.+)$/is;
const NEW_DISK_RE = /^(([^/:\s]+):)?(\d+(\.\d+)?)$/;
const DNS_LABEL = '([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)';
const DNS_RE = new RegExp(`^(${DNS_LABEL}\\.)*${DNS_LABEL}$`);
export const TAG_RE = /^[a-z0-9_][a-z0-9_\-+.]*$/i;
export const STORAGE_CONTENT_TYPES = ['images', 'rootdir', 'vztmpl', 'iso', 'backup', 'snippets', 'import', 'none'];

/** PVE::Tools::split_list */
export function splitList(text: string): string[] {
  return text.split(text.includes('\0') ? /\0/ : /[,;\s]+/).filter((s) => s !== '');
}

function cidr(value: string, v6: boolean): boolean {
  const m = /^(.+)\/(\d+)$/.exec(value);
  if (!m) return false;
  const bits = Number(m[2]);
  return v6 ? isIPv6(m[1]!) && bits > 7 && bits <= 128 : isIPv4(m[1]!) && bits > 7 && bits <= 32;
}

export function parseVolumeId(volid: string): { storage: string; volname: string } {
  const m = VOLUME_ID_RE.exec(volid);
  if (!m) throw new FormatError(`unable to parse volume ID '${volid}'\n`);
  return { storage: m[1]!, volname: m[2]! };
}

/** PVE::JSONSchema::parse_size: bytes, or undefined. */
export function parseSize(value: string): number | undefined {
  const m = /^(\d+(\.\d+)?)([KMGT])?$/.exec(value);
  if (!m) return undefined;
  const mult = { K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[m[3] as 'K'] ?? 1;
  return Math.trunc(Number(m[1]) * mult);
}

/** PVE::JSONSchema::format_size */
export function formatSize(bytes: number): string {
  const size = Math.trunc(bytes);
  const kb = Math.trunc(size / 1024);
  if (kb * 1024 !== size) return String(size);
  const mb = Math.trunc(kb / 1024);
  if (mb * 1024 !== kb) return `${kb}K`;
  const gb = Math.trunc(mb / 1024);
  if (gb * 1024 !== mb) return `${mb}M`;
  const tb = Math.trunc(gb / 1024);
  if (tb * 1024 !== gb) return `${gb}G`;
  return `${tb}T`;
}

type Validator = (value: string) => void;
const fail = (msg: string): never => {
  throw new FormatError(`${msg}\n`);
};

const NAMED_FORMATS: Record<string, Validator> = {
  string: () => {},
  regex: () => {},
  urlencoded: (v) => {
    if (!/^[-%a-zA-Z0-9_.!~*'()]*$/.test(v)) fail(`invalid urlencoded string: ${v}`);
  },
  'pve-configid': (v) => {
    if (!CONFIGID_RE.test(v)) fail(`invalid configuration ID '${v}'`);
  },
  'pve-storage-id': (v) => {
    if (!STORAGE_ID_RE.test(v)) fail(`storage ID '${v}' contains illegal characters`);
  },
  'pve-bridge-id': (v) => {
    if (!/^[-_.\w\d]+$/.test(v)) fail(`invalid bridge ID '${v}'`);
  },
  'pve-vmid': (v) => {
    if (!/^[1-9][0-9]{2,8}$/.test(v)) fail('value does not look like a valid VM ID');
  },
  'pve-node': (v) => {
    if (!/^([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)$/.test(v)) fail('value does not look like a valid node name');
  },
  'pve-poolid': (v) => {
    if (!/^[A-Za-z0-9_\-/]+$/.test(v)) fail(`invalid pool ID '${v}'`);
  },
  'mac-addr': (v) => {
    if (!/^[a-f0-9][02468ace](?::[a-f0-9]{2}){5}$/i.test(v)) fail('value does not look like a valid unicast MAC address');
  },
  ipv4: (v) => {
    if (!isIPv4(v)) fail('value does not look like a valid IPv4 address');
  },
  ipv6: (v) => {
    if (!isIPv6(v)) fail('value does not look like a valid IPv6 address');
  },
  ip: (v) => {
    if (!isIPv4(v) && !isIPv6(v)) fail('value does not look like a valid IP address');
  },
  CIDRv4: (v) => {
    if (!cidr(v, false)) fail('value does not look like a valid IPv4 CIDR network');
  },
  CIDRv6: (v) => {
    if (!cidr(v, true)) fail('value does not look like a valid IPv6 CIDR network');
  },
  CIDR: (v) => {
    if (!cidr(v, false) && !cidr(v, true)) fail('value does not look like a valid CIDR network');
  },
  'pve-ipv4-config': (v) => {
    if (!/^(dhcp|manual)$/.test(v) && !cidr(v, false)) fail('value does not look like a valid ipv4 network configuration');
  },
  'pve-ipv6-config': (v) => {
    if (!/^(auto|dhcp|manual)$/.test(v) && !cidr(v, true)) fail('value does not look like a valid ipv6 network configuration');
  },
  'dns-name': (v) => {
    if (!DNS_RE.test(v)) fail('value does not look like a valid DNS name');
  },
  address: (v) => {
    if (!isIPv4(v) && !isIPv6(v) && !DNS_RE.test(v)) fail(`value does not look like a valid address: ${v}`);
  },
  'disk-size': (v) => {
    if (parseSize(v) === undefined) fail(`value does not look like a valid disk size: ${v}`);
  },
  'pve-tag': (v) => {
    if (!TAG_RE.test(v)) fail('invalid characters in tag');
  },
  'pve-storage-content': (v) => {
    if (!STORAGE_CONTENT_TYPES.includes(v)) fail(`invalid content type '${v}'`);
  },
  'pve-task-status-type': (v) => {
    if (!/^(ok|error|warning|unknown)$/i.test(v)) fail(`invalid status '${v}'`);
  },
  'pve-volume-id': (v) => {
    parseVolumeId(v);
  },
  'pve-volume-id-or-qm-path': (v) => {
    if (v === 'none' || v === 'cdrom' || v === 'cloudinit' || v.startsWith('/') || NEW_DISK_RE.test(v)) return;
    parseVolumeId(v);
  },
  'pve-volume-id-or-absolute-path': (v) => {
    if (!v.startsWith('/')) parseVolumeId(v);
  },
  'pve-startup-order': (v) => {
    for (const p of v.split(',')) if (!/^\s*$/.test(p) && !/^((order=)?\d+|up=\d+|down=\d+)$/.test(p)) fail('unable to parse startup options');
  },
  'pve-hotplug-features': (v) => {
    if (!/^(0|1)$/.test(v) && !v.split(',').every((f) => ['network', 'disk', 'cpu', 'memory', 'usb', 'cloudinit'].includes(f))) {
      fail(`invalid hotplug feature '${v}'`);
    }
  },
  'pve-qm-bootdisk': (v) => {
    if (!/^(ide\d|sata\d|scsi\d+|virtio\d+|efidisk0|tpmstate0)$/.test(v)) fail(`invalid drive name '${v}'`);
  },
  'pve-cpuset': (v) => {
    if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(v)) fail(`invalid cpuset '${v}'`);
  },
};

// Hash formats PVE registers by name (the API dump only shows their typetext); the ones the
// provider is likely to send are spelled out, the rest are derived from their typetext.
const S = (extra: SchemaProperty = {}): SchemaProperty => ({ type: 'string', optional: 1, ...extra });
const NAMED_HASH_FORMATS: Record<string, Record<string, SchemaProperty>> = {
  'pve-qm-ipconfig': {
    ip: S({ format: 'pve-ipv4-config' }),
    gw: S({ format: 'ipv4' }),
    ip6: S({ format: 'pve-ipv6-config' }),
    gw6: S({ format: 'ipv6' }),
  },
  'pve-qm-boot': { legacy: S({ default_key: 1, pattern: '[acdn]{1,4}' }), order: S({ format: 'pve-qm-bootdev-list' }) },
  'pve-qm-cicustom': {
    meta: S({ format: 'pve-volume-id' }),
    network: S({ format: 'pve-volume-id' }),
    user: S({ format: 'pve-volume-id' }),
    vendor: S({ format: 'pve-volume-id' }),
  },
  'pve-qm-smbios1': {
    base64: { type: 'boolean', optional: 1 },
    family: S(),
    manufacturer: S(),
    product: S(),
    serial: S(),
    sku: S(),
    version: S(),
    uuid: S({ pattern: '[a-fA-F0-9]{8}(?:-[a-fA-F0-9]{4}){3}-[a-fA-F0-9]{12}' }),
  },
  'pve-qm-watchdog': {
    model: S({ default_key: 1, enum: ['i6300esb', 'ib700'] }),
    action: S({ enum: ['reset', 'shutdown', 'poweroff', 'pause', 'debug', 'none'] }),
  },
  'pve-qm-rng': {
    source: { type: 'string', default_key: 1, enum: ['/dev/urandom', '/dev/random', '/dev/hwrng'] },
    max_bytes: { type: 'integer', optional: 1 },
    period: { type: 'integer', optional: 1 },
  },
};
NAMED_FORMATS['pve-qm-bootdev'] = (v) => {
  if (!/^(ide\d|sata\d|scsi\d+|virtio\d+|efidisk0|tpmstate0|net\d+|hostpci\d+|usb\d+)$/.test(v)) fail(`invalid boot device '${v}'`);
};

/** Keys from a typetext like `[[cputype=]<string>] [,flags=<…>] [,hidden=<1|0>]`. */
function formatFromTypetext(typetext: string): Record<string, SchemaProperty> | undefined {
  const out: Record<string, SchemaProperty> = {};
  const re = /(\[?)([a-zA-Z][a-zA-Z0-9_-]*)=(\]?)<([^>]*)>/g;
  let m: RegExpExecArray | null;
  let any = false;
  while ((m = re.exec(typetext))) {
    any = true;
    const [, open, key, close, type] = m as unknown as [string, string, string, string, string];
    const prop: SchemaProperty = { type: 'string', optional: 1 };
    if (open === '[' && close === ']') prop.default_key = 1;
    if (type === '1|0') prop.type = 'boolean';
    else if (type === 'integer') prop.type = 'integer';
    else if (/^[a-z0-9_-]+(\|[a-z0-9_-]+)+$/i.test(type)) prop.enum = type.split('|');
    out[key] = prop;
  }
  return any ? out : undefined;
}

function checkFormat(format: string | Record<string, SchemaProperty>, value: string, path: string, prop?: SchemaProperty): unknown {
  if (typeof format === 'object') return parsePropertyString(format, value, path);
  const hash = NAMED_HASH_FORMATS[format];
  if (hash) return parsePropertyString(hash, value, path);
  const m = /^(.*?)(?:-(list|opt))?$/.exec(format)!;
  const name = m[1]!;
  const kind = m[2] ?? 'none';
  const validator = NAMED_FORMATS[name];
  if (!validator) {
    // Unknown named format: a property string if the typetext says so, else unchecked.
    const derived = prop?.typetext && kind === 'none' ? formatFromTypetext(prop.typetext) : undefined;
    if (derived) return parsePropertyString(derived, value, path);
    return value;
  }
  if (kind === 'list') for (const v of splitList(value)) validator(v);
  else if (kind === 'opt') {
    if (value) validator(value);
  } else validator(value);
  return value;
}

/** PVE::JSONSchema::parse_property_string: keys → values, or throws like PVE. */
export function parsePropertyString(format: Record<string, SchemaProperty>, data: string, path = ''): Record<string, string> {
  const res: Record<string, string> = {};
  let defaultKey: string | undefined;
  for (const part of data.split(',')) {
    if (/^\s*$/.test(part)) continue;
    const kv = /^([^=]+)=(.+)$/s.exec(part);
    if (kv) {
      let k = kv[1]!;
      let v = kv[2]!;
      if (res[k] !== undefined) throw new FormatError(`duplicate key in comma-separated list property: ${k}\n`);
      let schema = format[k];
      if (schema?.alias) {
        if (schema.keyAlias) {
          if (res[schema.keyAlias] !== undefined) throw new FormatError(`key alias '${schema.keyAlias}' is already defined\n`);
          res[schema.keyAlias] = k;
        }
        k = schema.alias;
        schema = format[k];
      }
      if (!schema) throw new FormatError(`invalid key in comma-separated list property: ${k}\n`);
      if (schema.type === 'boolean') v = /^(1|on|yes|true)$/i.test(v) ? '1' : /^(0|off|no|false)$/i.test(v) ? '0' : v;
      res[k] = v;
    } else if (!part.includes('=')) {
      if (defaultKey) throw new FormatError(`duplicate key in comma-separated list property: ${defaultKey}\n`);
      const key = Object.keys(format).find((k) => format[k]!.default_key);
      if (!key) throw new FormatError('value without key, but schema does not define a default key\n');
      defaultKey = key;
      if (res[key] !== undefined) throw new FormatError(`duplicate key in comma-separated list property: ${key}\n`);
      res[key] = part;
    } else {
      throw new FormatError('missing key in comma-separated list property\n');
    }
  }
  const errors: Record<string, string> = {};
  for (const [k, schema] of Object.entries(format)) checkProp(res[k], schema, path ? `${path}.${k}` : k, errors);
  if (Object.keys(errors).length) throw new FormatError('format error\n', errors);
  return res;
}

/** Prints a property string like PVE: the default key's bare value first, then key=value sorted. */
export function printPropertyString(values: Record<string, string | number | undefined>, defaultKey?: string, first?: string): string {
  const parts: string[] = [];
  if (first) parts.push(first);
  else if (defaultKey && values[defaultKey] !== undefined) parts.push(String(values[defaultKey]));
  for (const k of Object.keys(values).sort()) {
    if (k === defaultKey || values[k] === undefined) continue;
    parts.push(`${k}=${values[k]}`);
  }
  return parts.join(',');
}

// ---------------------------------------------------------------------------------------------
export interface PveSchema {
  file: TrimmedSchemaFile;
  /** Matches a concrete path (below /api2/json) to a schema path template. */
  match(path: string): RouteMatch | undefined;
  /** Validates one call; `params` are query/body values (path values are taken from the path). */
  validate(method: string, path: string, params: Record<string, unknown>): ValidationResult;
  /** The schema of a parameter of an endpoint (handles net0 → net[n]). */
  property(method: string, template: string, name: string): SchemaProperty | undefined;
  /** The schema of a property of an endpoint's returned object (handles net0 → net[n]). */
  returnProperty(method: string, template: string, name: string): SchemaProperty | undefined;
}

export function loadTrimmedSchema(file: string = TRIMMED_SCHEMA_FILE): TrimmedSchemaFile {
  return JSON.parse(readFileSync(file, 'utf8')) as TrimmedSchemaFile;
}

export function createValidator(file: TrimmedSchemaFile = loadTrimmedSchema()): PveSchema {
  const routes = Object.entries(file.endpoints).map(([template, methods]) => ({
    template,
    methods,
    segments: template.split('/').filter(Boolean),
  }));

  const match = (path: string): RouteMatch | undefined => {
    const raw = path.split('/').filter(Boolean);
    let segs: string[];
    try {
      segs = raw.map((s) => decodeURIComponent(s));
    } catch {
      return undefined;
    }
    for (const r of routes) {
      if (r.segments.length !== segs.length) continue;
      const pathParams: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < segs.length && ok; i++) {
        const t = r.segments[i]!;
        if (t.startsWith('{')) pathParams[t.slice(1, -1)] = segs[i]!;
        else ok = t === segs[i];
      }
      if (ok) return { template: r.template, pathParams, methods: r.methods };
    }
    return undefined;
  };

  const coerce = (schema: SchemaProperty, value: unknown): unknown => {
    if (schema.type === 'integer' || schema.type === 'number') return typeof value === 'number' ? value : Number(value);
    if (schema.type === 'boolean') return value === true || value === 1 || value === '1' ? 1 : 0;
    return typeof value === 'number' ? String(value) : value;
  };

  return {
    file,
    match,
    property(method, template, name) {
      const props = file.endpoints[template]?.[method]?.parameters.properties ?? {};
      return lookupProperty(props, name);
    },
    returnProperty(method, template, name) {
      const props = file.endpoints[template]?.[method]?.returns?.properties ?? {};
      return lookupProperty(props, name);
    },
    validate(method, path, params) {
      const route = match(path);
      const info = route?.methods[method];
      if (!route || !info) return { ok: false, status: 501, message: `Method '${method} ${path}' not implemented` };
      const props = info.parameters.properties ?? {};
      const all: Record<string, unknown> = { ...params, ...route.pathParams };
      const errors: Record<string, string> = {};
      for (const [name, schema] of Object.entries(props)) {
        if (name.endsWith('[n]')) continue;
        checkProp(all[name], schema, name, errors);
      }
      for (const name of Object.keys(all)) {
        const schema = lookupProperty(props, name);
        if (!schema) {
          if (!info.parameters.additionalProperties)
            addError(errors, name, 'property is not defined in schema and the schema does not allow additional properties');
          continue;
        }
        if (!Object.hasOwn(props, name)) checkProp(all[name], schema, name, errors);
        if (schema.requires && all[schema.requires] === undefined) addError(errors, schema.requires, `missing property - '${name}' requires this property`);
      }
      if (Object.keys(errors).length) return { ok: false, status: 400, template: route.template, message: 'Parameter verification failed.', errors };
      const out: Record<string, unknown> = {};
      for (const [name, value] of Object.entries(all)) out[name] = coerce(lookupProperty(props, name)!, value);
      return { ok: true, template: route.template, info, params: out };
    },
  };
}

let shared: PveSchema | undefined;
/** The validator over the committed trimmed schema, loaded once. */
export function loadValidator(): PveSchema {
  return (shared ??= createValidator());
}
